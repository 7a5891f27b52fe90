//! `spawn_app()` and friends: a fresh server and database per test, on the backend that the
//! test target names in `crate::BACKEND` (the same files run as `api` on SQLite and as
//! `api_postgres` on PostgreSQL), typed requests, token tools.

use std::sync::Arc;
use std::time::Duration;

use auth_server::{Application, Config};
use clap::Parser;
use jwt_tokens::{AccessTokens, KeySet, RefreshClaims, RefreshTokens, Secret, TokenSettings};
use reqwest::Response;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use test_support::{Backend, TestData, TestDir};

/// The secrets every test server is started with (32+ bytes, different from each other).
pub const ACCESS_SECRET: &str = "test-access-secret-0123456789-abcdefghijklmnop";
pub const REFRESH_SECRET: &str = "test-refresh-secret-0123456789-abcdefghijklmno";
/// A well-formed secret the servers do not know, for forged tokens.
pub const OTHER_SECRET: &str = "some-other-secret-0123456789-abcdefghijklmnopq";
pub const ISSUER: &str = "auth-server";
pub const AUDIENCE: &str = "posts-server";
/// A password that passes the rules; tests use it unless the password is the point.
pub const PASSWORD: &str = "correct horse battery staple";

/// Fresh, empty data for one test on the target's backend.
pub async fn test_data() -> Arc<TestData> {
    Arc::new(TestData::new(crate::BACKEND, "auth.db").await)
}

/// Settings for a test server: port 0, the database at `database_url`, the test secrets.
/// Every setting is given as a flag, so nothing leaks in from the test's environment.
pub fn config(database: &str) -> Config {
    Config::try_parse_from([
        "auth-server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        database,
        "--access-token-secret",
        ACCESS_SECRET,
        "--refresh-token-secret",
        REFRESH_SECRET,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-leeway",
        "5s",
        "--access-token-ttl",
        "15m",
        "--refresh-token-ttl",
        "30d",
        "--session-purge-interval",
        "10m",
        "--rate-limits",
        "off",
        "--refresh-reuse-grace",
        "0s",
        "--log",
        "warn",
    ])
    .expect("the test settings parse")
}

fn keys(secret: &str) -> KeySet {
    KeySet::single(&Secret::new(secret)).expect("a valid test secret")
}

/// A running server, its database directory, and tools to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    /// Verify and craft tokens with the server's own secrets and settings.
    pub access: AccessTokens,
    pub refresh: RefreshTokens,
    pub config: Config,
    pub data: Arc<TestData>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server whose settings `adjust` may change (TTLs, leeway, purge interval).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(test_data().await, adjust).await
}

/// Starts a server on `data`, which other servers of the test may share.
pub async fn spawn_app_on(data: Arc<TestData>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = config(&data.database_url());
    adjust(&mut config);
    let settings = config.tokens.settings();
    let mut app = TestApp {
        address: String::new(),
        client: reqwest::Client::new(),
        access: AccessTokens::new(keys(ACCESS_SECRET), &settings),
        refresh: RefreshTokens::new(keys(REFRESH_SECRET), &settings),
        config,
        data,
        stop: None,
        server: None,
    };
    app.start().await;
    app
}

impl TestApp {
    async fn start(&mut self) {
        let app = Application::build(self.config.clone()).await.expect("build the app");
        self.address = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.server = Some(tokio::spawn(app.run_with_shutdown(async {
            let _ = stopped.await;
        })));
    }

    /// Shuts the server down gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task did not panic")
                .expect("the server stopped cleanly");
        }
    }

    /// Stops the server and starts a new one on the same database file (on a new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("send a POST")
    }

    /// POSTs raw bytes as `application/json`.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send a POST")
    }

    pub async fn delete_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .delete(self.url(path))
            .json(body)
            .send()
            .await
            .expect("send a DELETE")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("send a GET")
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post_json("/register", &json!({ "username": username, "password": password }))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json("/login", &json!({ "username": username, "password": password }))
            .await
    }

    pub async fn refresh(&self, token: &str) -> Response {
        self.post_json("/token", &json!({ "token": token })).await
    }

    /// `scope`: `None` sends no scope at all (the default, one session).
    pub async fn logout(&self, token: &str, scope: Option<&str>) -> Response {
        let body = match scope {
            Some(scope) => json!({ "token": token, "scope": scope }),
            None => json!({ "token": token }),
        };
        self.delete_json("/logout", &body).await
    }

    /// Registers a user that must be created; returns its id.
    pub async fn registered(&self, username: &str, password: &str) -> String {
        let response = self.register(username, password).await;
        assert_eq!(response.status(), 201, "register {username}");
        let body = json(response).await;
        body["id"].as_str().expect("an id").to_owned()
    }

    /// Logs in, which must succeed; returns the tokens.
    pub async fn logged_in(&self, username: &str, password: &str) -> Tokens {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), 200, "login {username}");
        Tokens::from(json(response).await)
    }

    /// Rotates a refresh token, which must succeed; returns the next tokens.
    pub async fn refreshed(&self, token: &str) -> Tokens {
        let response = self.refresh(token).await;
        assert_eq!(response.status(), 200, "POST /token");
        Tokens::from(json(response).await)
    }

    /// Sends `count` `POST /token` with `token` at once; returns each status and body.
    pub async fn concurrent_refreshes(&self, token: &str, count: usize) -> Vec<(u16, Value)> {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(count));
        let mut tasks = Vec::with_capacity(count);
        for _ in 0..count {
            let client = self.client.clone();
            let url = self.url("/token");
            let body = json!({ "token": token });
            let start = std::sync::Arc::clone(&start);
            tasks.push(tokio::spawn(async move {
                // Everything but sending is done before the barrier, so the requests go out together.
                let request = client.post(url).json(&body).build().expect("a request");
                start.wait().await;
                let response = client.execute(request).await.expect("POST /token");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("a JSON body");
                (status, body)
            }));
        }
        let mut outcomes = Vec::with_capacity(count);
        for task in tasks {
            outcomes.push(task.await.expect("the request task did not panic"));
        }
        outcomes
    }

    /// A user with a fresh session: its id and tokens.
    pub async fn user_with_session(&self, username: &str) -> (String, Tokens) {
        let id = self.registered(username, PASSWORD).await;
        (id, self.logged_in(username, PASSWORD).await)
    }

    /// The claims of a refresh token this server issued.
    pub fn refresh_claims(&self, token: &str) -> RefreshClaims {
        self.refresh.verify(token).expect("a valid refresh token")
    }

    /// [`age_sessions`] of this server's data.
    pub async fn age_sessions(&self, by: Duration) {
        age_sessions(&self.data, by).await;
    }

    /// Sessions rows in the database, read directly from it.
    pub async fn session_rows(&self) -> i64 {
        use sqlx::Connection as _;
        const COUNT: &str = "SELECT COUNT(*) FROM sessions";
        match self.data.postgres() {
            Some(database) => {
                let mut connection = database.connect().await;
                let count = sqlx::query_scalar(COUNT).fetch_one(&mut connection).await;
                connection.close().await.expect("close the test database");
                count.expect("count sessions")
            }
            None => {
                let mut connection = sqlx::SqliteConnection::connect(&self.data.database_url())
                    .await
                    .expect("open the test database");
                let count = sqlx::query_scalar(COUNT).fetch_one(&mut connection).await;
                connection.close().await.expect("close the test database");
                count.expect("count sessions")
            }
        }
    }
}

/// Moves every session of `data` `by` into the past, in the database itself: its start, its last
/// rotation, its end. What the database's clock then decides (the reuse grace, the end of a
/// session) is what it would decide `by` later, without waiting for it.
pub async fn age_sessions(data: &TestData, by: Duration) {
    let (ms, s) = (by.as_millis(), by.as_secs());
    data.execute(&format!(
        "UPDATE sessions SET created_at = created_at - {ms}, rotated_at = rotated_at - {ms}, \
         revoked_at = revoked_at - {ms}, expires_at = expires_at - {s}"
    ))
    .await;
}

/// The tokens response of `/login` and `/token`.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl From<Value> for Tokens {
    fn from(body: Value) -> Self {
        Self {
            access: body["accessToken"].as_str().expect("an accessToken").to_owned(),
            refresh: body["refreshToken"].as_str().expect("a refreshToken").to_owned(),
            body,
        }
    }
}

/// Token tools for a secret the server does not know.
pub fn foreign_refresh_tokens() -> RefreshTokens {
    RefreshTokens::new(keys(OTHER_SECRET), &default_settings())
}

pub fn default_settings() -> TokenSettings {
    TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: Duration::from_secs(5),
    }
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// Asserts the contract's error body (exactly `error` and `message`) and returns it.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of an expected `{code}`");
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "Content-Type of an error"
    );
    let body = json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert_error_shape(&body);
    body
}

/// Every error body has exactly the keys `error` and `message`, both strings.
pub fn assert_error_shape(body: &Value) {
    let object = body.as_object().expect("an error body is a JSON object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "message"], "{body}");
    assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
}

/// Asserts a 401/403 error with an RFC 6750 `WWW-Authenticate: Bearer error="…"` challenge.
pub async fn assert_bearer_error(response: Response, status: u16, code: &str) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("a WWW-Authenticate header on a {status}"))
        .to_str()
        .expect("an ASCII header")
        .to_owned();
    assert!(challenge.starts_with("Bearer error=\""), "{challenge}");
    assert_error(response, status, code).await
}

/// A refused refresh token: `403 invalid_grant` with `error="invalid_token"` in the challenge.
pub async fn assert_refused(response: Response) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("an ASCII header").to_owned());
    let body = assert_bearer_error(response, 403, "invalid_grant").await;
    let challenge = challenge.expect("a challenge");
    assert!(challenge.starts_with(r#"Bearer error="invalid_token""#), "{challenge}");
    body
}

/// Polls `check` every 100 ms until it holds or `within` has passed.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
