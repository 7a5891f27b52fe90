//! `spawn_app()` and friends: a fresh server and database per test, on the backend that the
//! test target names in `crate::BACKEND` (the same test files run as `api` on SQLite and as
//! `api_postgres` on PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use database::postgres::DatabaseArgs;
use jwt_tokens::config::TokenArgs;
use jwt_tokens::{AccessClaims, AccessTokens, KeySet, Secret, TokenSettings, now_unix};
use posts_server::{Application, Config};
use reqwest::Response;
use serde_json::Value;
use service_kit::rate_limit::{RateLimitArgs, Switch};
use service_kit::server::ServerArgs;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use test_support::{Backend, TestData, TestDir};

/// The access secret every test server trusts.
pub const ACCESS_SECRET: &str = "test-access-secret-that-is-long-enough";
pub const ISSUER: &str = "auth-server";
pub const AUDIENCE: &str = "posts-server";
const LEEWAY: Duration = Duration::from_secs(5);

/// Fresh, empty data for one test on the target's backend.
pub async fn test_data() -> TestData {
    TestData::new(crate::BACKEND, "posts.db").await
}

/// Settings for a test server: port 0, the database at `database_url`, the test secret.
/// Built directly rather than parsed, so nothing leaks in from the environment.
pub fn config(database_url: String) -> Config {
    Config {
        addr: "127.0.0.1:0".parse().expect("a socket address"),
        server: ServerArgs {
            metrics: service_kit::metrics::MetricsArgs::default(),
            database: DatabaseArgs::default(),
            http: service_kit::serve::HttpArgs::default(),
            limits: RateLimitArgs {
                rate_limits: Switch::Off,
                trusted_proxy_header: None,
            },
            cors: service_kit::cors::CorsArgs::default(),
            log: "info".into(),
            log_format: service_kit::telemetry::LogFormat::Text,
        },
        database_url,
        tokens: TokenArgs {
            access_token_alg: jwt_tokens::TokenAlgorithm::Hs256,
            verified_token_cache: jwt_tokens::DEFAULT_VERIFIED_CACHE,
            access_token_secret: Some(Secret::new(ACCESS_SECRET)),
            access_token_secret_file: None,
            access_token_previous_secrets: Vec::new(),
            access_token_previous_secrets_file: None,
            jwt_issuer: ISSUER.into(),
            jwt_audience: AUDIENCE.into(),
            jwt_leeway: LEEWAY,
        },
        auth_url: Vec::new(),
        auth_keys_refresh: Duration::from_secs(60),
        post_rate_per_user: "30/1m".parse().expect("a rate"),
        posts_cache_mib: 16,
    }
}

/// Tokens as the auth server would issue them for the test servers.
pub fn tokens() -> AccessTokens {
    tokens_with_secret(ACCESS_SECRET)
}

pub fn tokens_with_secret(secret: &str) -> AccessTokens {
    let keys = KeySet::single(&Secret::new(secret)).expect("a valid test secret");
    let settings = TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: LEEWAY,
    };
    AccessTokens::new(keys, &settings)
}

/// A valid access token for `user_id`.
pub fn token_for(user_id: &str, username: &str) -> String {
    tokens()
        .issue(user_id, username, "session-1", Duration::from_secs(900))
        .expect("sign a token")
}

/// Valid claims for `user_id`, for tests to bend before signing.
pub fn claims_for(user_id: &str) -> AccessClaims {
    let now = now_unix();
    AccessClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user_id.into(),
        name: "ann".into(),
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: "jti-1".into(),
        sid: "session-1".into(),
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    data: Arc<TestData>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(Arc::new(test_data().await)).await
}

/// Starts a server on `data` (which may hold an earlier run's posts, or be in use by another server).
pub async fn spawn_app_in(data: Arc<TestData>) -> TestApp {
    spawn_app_configured(data, |_| {}).await
}

/// Starts a server whose test settings `adjust` may change (secrets, limits).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_configured(Arc::new(test_data().await), adjust).await
}

/// Starts a server on `data`, with the test settings as `adjust` leaves them.
pub async fn spawn_app_configured(data: Arc<TestData>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    service_kit::telemetry::init("warn");
    let mut config = config(data.database_url());
    adjust(&mut config);
    let app = Application::build(config).await.expect("build the app");
    let address = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_with_shutdown(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        data,
        stop,
        server,
    }
}

impl TestApp {
    /// Shuts the server down gracefully and hands back its data.
    pub async fn stop(self) -> Arc<TestData> {
        let _ = self.stop.send(());
        self.server
            .await
            .expect("the server task did not panic")
            .expect("the server stopped cleanly");
        self.data
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get_posts(&self, token: &str) -> Response {
        self.client
            .get(self.url("/posts"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /posts")
    }

    pub async fn create_post(&self, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/posts"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST /posts")
    }

    /// Creates a post that must succeed, returning it.
    pub async fn created_post(&self, token: &str, title: &str, body: &str) -> Value {
        let response = self
            .create_post(token, &serde_json::json!({ "title": title, "body": body }))
            .await;
        assert_eq!(response.status(), 201);
        json(response).await
    }
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// Asserts the contract's error body and returns it.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body = json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

/// Asserts a 401/403 with its RFC 6750 challenge.
pub async fn assert_bearer_error(response: Response, status: u16, code: &str) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .expect("an ASCII header")
        .to_owned();
    assert!(
        challenge.starts_with(&format!(r#"Bearer error="{code}""#)),
        "{challenge}"
    );
    assert_error(response, status, code).await
}
