//! `spawn_app()` and friends: a fresh server and database per test, on the backend that the
//! test target names in `crate::BACKEND` and verifying access tokens of the algorithm it names
//! in `crate::ALG` (the same test files run as `api` and `api_eddsa` on SQLite, `api_postgres`
//! and `api_postgres_eddsa` on PostgreSQL). In `EdDSA` mode the test issuer signs with an
//! Ed25519 key made once per process, and every test server follows a stand-in for
//! auth-server ([`key_server`]) that publishes its public key.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use database::postgres::DatabaseArgs;
use jwt_tokens::config::TokenArgs;
use jwt_tokens::{
    AccessClaims, AccessTokens, Ed25519PrivateKey, KeySet, Secret, TokenAlgorithm, TokenSettings, now_unix,
};
use posts_server::{Application, Config};
use reqwest::Response;
use serde_json::Value;
use service_kit::rate_limit::{RateLimitArgs, Switch};
use service_kit::server::ServerArgs;
use test_support::ServerProcess;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use test_support::{Backend, TestData, TestDir};

use crate::binary::POSTS_SERVER;
use crate::jwks::{JwksServer, jwks};

/// The access secret every HS256 test server trusts.
pub const ACCESS_SECRET: &str = "test-access-secret-that-is-long-enough";
/// A well-formed secret no test server trusts.
pub const OTHER_SECRET: &str = "another-secret-that-is-long-enough-too";
pub const ISSUER: &str = "auth-server";
pub const AUDIENCE: &str = "posts-server";
const LEEWAY: Duration = Duration::from_secs(5);
/// How often a test server fetches its keys again, unless a test says otherwise: the
/// server's own default.
const KEYS_REFRESH: Duration = Duration::from_secs(60);
/// How long a test server may take to become ready (to have fetched its keys).
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The PKCS#8 PEM of the Ed25519 key the test issuer signs access tokens with in `EdDSA`
/// mode: made once per test process.
pub fn issuer_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = Ed25519PrivateKey::generate().expect("an Ed25519 key");
        key.to_pkcs8_pem().expect("PKCS#8 PEM").expose().to_owned()
    })
}

/// The test issuer's Ed25519 key.
pub fn issuer_key() -> Ed25519PrivateKey {
    Ed25519PrivateKey::from_pkcs8_pem(issuer_pem()).expect("the test key")
}

/// The stand-in for auth-server that every `EdDSA` test server follows unless its test says
/// otherwise: it publishes the test issuer's public key, for the life of the process.
pub fn key_server() -> &'static JwksServer {
    static SERVER: OnceLock<JwksServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = JwksServer::start();
        server.serve(jwks(&[issuer_key().public_key()]));
        server
    })
}

/// Fresh, empty data for one test on the target's backend.
pub async fn test_data() -> TestData {
    TestData::new(crate::BACKEND, "posts.db").await
}

/// Settings for a test server: port 0, the database at `database_url`, and access tokens of
/// the target's mode: HS256 under the test secret, or EdDSA with the keys [`key_server`]
/// publishes. Built directly rather than parsed, so nothing leaks in from the environment.
pub fn config(database_url: String) -> Config {
    let mut config = Config {
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
            access_token_alg: TokenAlgorithm::Hs256,
            verified_token_cache: jwt_tokens::DEFAULT_VERIFIED_CACHE,
            access_token_secret: None,
            access_token_secret_file: None,
            access_token_previous_secrets: Vec::new(),
            access_token_previous_secrets_file: None,
            jwt_issuer: ISSUER.into(),
            jwt_audience: AUDIENCE.into(),
            jwt_leeway: LEEWAY,
        },
        auth_url: Vec::new(),
        auth_keys_refresh: KEYS_REFRESH,
        session_feed_max_lag: Duration::from_secs(30),
        session_feed_fail: posts_server::config::FeedFail::Open,
        post_rate_per_user: "30/1m".parse().expect("a rate"),
        posts_cache_mib: 16,
    };
    match crate::ALG {
        TokenAlgorithm::Hs256 => use_hs256(&mut config),
        TokenAlgorithm::EdDsa => use_eddsa(&mut config, &key_server().url(), KEYS_REFRESH),
    }
    config
}

/// Makes `config` verify HS256 access tokens under the test secret, whatever the target's
/// mode: for the tests that are about HS256 secrets themselves.
pub fn use_hs256(config: &mut Config) {
    config.tokens.access_token_alg = TokenAlgorithm::Hs256;
    config.tokens.access_token_secret = Some(Secret::new(ACCESS_SECRET));
    config.tokens.access_token_previous_secrets = Vec::new();
    config.auth_url = Vec::new();
}

/// Makes `config` verify EdDSA access tokens with the keys published at `auth_url` (a base
/// URL), fetched again every `refresh`, whatever the target's mode.
pub fn use_eddsa(config: &mut Config, auth_url: &str, refresh: Duration) {
    config.tokens.access_token_alg = TokenAlgorithm::EdDsa;
    config.tokens.access_token_secret = None;
    config.tokens.access_token_previous_secrets = Vec::new();
    config.auth_url = vec![auth_url.to_owned()];
    config.auth_keys_refresh = refresh;
}

/// The issuer, audience and leeway of every test server and of the tokens made for them.
pub fn settings() -> TokenSettings {
    TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: LEEWAY,
    }
}

/// Tokens as the auth server would issue them for the test servers of the target's mode:
/// HS256 under the test secret, or EdDSA under the test issuer's key.
pub fn tokens() -> AccessTokens {
    match crate::ALG {
        TokenAlgorithm::Hs256 => tokens_with_secret(ACCESS_SECRET),
        TokenAlgorithm::EdDsa => tokens_signed_by(&issuer_key()),
    }
}

pub fn tokens_with_secret(secret: &str) -> AccessTokens {
    let keys = KeySet::single(&Secret::new(secret)).expect("a valid test secret");
    AccessTokens::new(keys, &settings())
}

/// Tokens signed by the Ed25519 `key`, under its own `kid`.
pub fn tokens_signed_by(key: &Ed25519PrivateKey) -> AccessTokens {
    AccessTokens::new(KeySet::ed25519(key, &[]).expect("an Ed25519 key set"), &settings())
}

/// A valid access token for `user_id`.
pub fn token_for(user_id: &str, username: &str) -> String {
    tokens()
        .issue(user_id, username, "session-1", Duration::from_secs(900))
        .expect("sign a token")
}

/// A token of the target's mode, well formed and unexpired, but signed with a key the test
/// servers do not hold (another secret, or another Ed25519 key), under that key's own `kid`.
pub fn foreign_token_for(user_id: &str, username: &str) -> String {
    let tokens = match crate::ALG {
        TokenAlgorithm::Hs256 => tokens_with_secret(OTHER_SECRET),
        TokenAlgorithm::EdDsa => tokens_signed_by(&Ed25519PrivateKey::generate().expect("an Ed25519 key")),
    };
    tokens
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

/// Starts a server on `data`, with the test settings as `adjust` leaves them; one that follows
/// an auth server's keys (`EdDSA`) is ready (has its keys) when this returns.
pub async fn spawn_app_configured(data: Arc<TestData>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = config(data.database_url());
    adjust(&mut config);
    let following = config.tokens.access_token_alg == TokenAlgorithm::EdDsa;
    let app = start_app(data, config).await;
    if following {
        app.wait_until_ready().await;
    }
    app
}

/// Starts a server with `config` on `data` and returns at once, ready or not.
pub async fn start_app(data: Arc<TestData>, config: Config) -> TestApp {
    service_kit::telemetry::init("warn");
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

    pub async fn readyz(&self) -> Response {
        self.client.get(self.url("/readyz")).send().await.expect("GET /readyz")
    }

    /// Waits until `/readyz` answers `200`, for at most [`READY_WITHIN`].
    pub async fn wait_until_ready(&self) {
        let deadline = Instant::now() + READY_WITHIN;
        while self.readyz().await.status() != 200 {
            assert!(
                Instant::now() < deadline,
                "not ready within {READY_WITHIN:?} (no keys from AUTH_URL?)"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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

/// The variables that put a `posts-server` binary in the target's mode: the test secret
/// (HS256), or `ACCESS_TOKEN_ALG=EdDSA` with [`key_server`] as `AUTH_URL`.
pub fn mode_env() -> Vec<(&'static str, String)> {
    match crate::ALG {
        TokenAlgorithm::Hs256 => vec![("ACCESS_TOKEN_SECRET", ACCESS_SECRET.to_owned())],
        TokenAlgorithm::EdDsa => vec![
            ("ACCESS_TOKEN_ALG", "EdDSA".to_owned()),
            ("AUTH_URL", key_server().url()),
        ],
    }
}

/// `command` (a `posts-server` binary) in the target's mode ([`mode_env`]).
pub fn in_mode(command: &mut tokio::process::Command) -> &mut tokio::process::Command {
    command.envs(mode_env())
}

/// Starts the `posts-server` binary with `command` and waits for its listening line and, in
/// `EdDSA` mode, until `/readyz` answers `200` (its keys have arrived).
pub async fn start_binary(command: &mut tokio::process::Command) -> ServerProcess {
    let server = POSTS_SERVER.start(command).await;
    if crate::ALG == TokenAlgorithm::EdDsa {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let ready = client.get(server.url("/readyz")).send().await;
            if ready.is_ok_and(|answer| answer.status() == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "posts-server not ready within {READY_WITHIN:?} (no keys from AUTH_URL?)"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    server
}
