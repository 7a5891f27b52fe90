//! `spawn_app()` and friends: a fresh server and database per test, on the backend that the
//! test target names in `crate::BACKEND` and signing access tokens with the algorithm it names
//! in `crate::ALG` (the same files run as `api` and `api_eddsa` on SQLite, `api_postgres` and
//! `api_postgres_eddsa` on PostgreSQL), typed requests, token tools.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use auth_server::{Application, Config};
use clap::Parser;
use jwt_tokens::{
    AccessTokens, Ed25519PrivateKey, Ed25519PublicKey, KeySet, RefreshClaims, RefreshTokens, Secret, TokenAlgorithm,
    TokenSettings, key_id,
};
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

/// The file name of the Ed25519 private key in a test's directory (`ACCESS_TOKEN_PRIVATE_KEY_FILE`).
pub const ACCESS_KEY_FILE: &str = "access-token.key";

/// Fresh, empty data for one test on the target's backend.
pub async fn test_data() -> Arc<TestData> {
    Arc::new(TestData::new(crate::BACKEND, "auth.db").await)
}

/// The PKCS#8 PEM of the Ed25519 key that signs access tokens in `EdDSA` mode: made once per
/// test process, written into each test's own directory ([`write_access_key`]).
pub fn access_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = Ed25519PrivateKey::generate().expect("an Ed25519 key");
        key.to_pkcs8_pem().expect("PKCS#8 PEM").expose().to_owned()
    })
}

/// The test's Ed25519 signing key.
pub fn access_key() -> Ed25519PrivateKey {
    Ed25519PrivateKey::from_pkcs8_pem(access_key_pem()).expect("the test key")
}

/// The base64 body of the test's private key file: what no output may ever show.
pub fn access_key_body() -> String {
    access_key_pem()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// Writes the test key into `dir` (owner-only, once) and returns the file's path.
pub fn write_access_key(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(ACCESS_KEY_FILE);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => file
            .write_all(access_key_pem().as_bytes())
            .expect("write the test key file"),
        // Several servers of one test share their directory, and so the key.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => panic!("create {}: {err}", path.display()),
    }
    path
}

/// What no output of a server of mode `alg` may show: its refresh secret and its access key,
/// the secret or the private key file's content.
pub fn never_shown(alg: TokenAlgorithm) -> Vec<String> {
    let mut secrets = vec![REFRESH_SECRET.to_owned()];
    match alg {
        TokenAlgorithm::Hs256 => secrets.push(ACCESS_SECRET.to_owned()),
        TokenAlgorithm::EdDsa => secrets.push(access_key_body()),
    }
    secrets
}

/// Settings for a test server of the target's mode (`crate::ALG`) on `data`: see [`config_in`].
pub fn config(data: &TestData) -> Config {
    config_in(crate::ALG, data)
}

/// Settings for a test server: port 0, the database of `data`, the test refresh secret, and
/// access tokens signed with `alg`: HS256 under the test access secret, or EdDSA under the
/// test key (its file written into `data`'s directory). Every setting is given as a flag, so
/// nothing leaks in from the test's environment.
pub fn config_in(alg: TokenAlgorithm, data: &TestData) -> Config {
    let key_file;
    let access: [&str; 4] = match alg {
        TokenAlgorithm::Hs256 => ["--access-token-alg", "HS256", "--access-token-secret", ACCESS_SECRET],
        TokenAlgorithm::EdDsa => {
            key_file = write_access_key(data.dir().path()).display().to_string();
            [
                "--access-token-alg",
                "EdDSA",
                "--access-token-private-key-file",
                &key_file,
            ]
        }
    };
    let database = data.database_url();
    let common = [
        "auth-server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &database,
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
    ];
    Config::try_parse_from(common.into_iter().chain(access)).expect("the test settings parse")
}

fn keys(secret: &str) -> KeySet {
    KeySet::single(&Secret::new(secret)).expect("a valid test secret")
}

/// Issues and verifies access tokens with the keys `config` gives the server: its HS256
/// secrets, or its Ed25519 key file and published public keys, read as the server reads them.
pub fn access_tokens(config: &Config) -> AccessTokens {
    let tokens = &config.tokens;
    let keys = match tokens.access_token_alg {
        TokenAlgorithm::Hs256 => KeySet::new(
            tokens.access_token_secret.as_ref().expect("an access secret"),
            &tokens.access_token_previous_secrets,
        )
        .expect("valid access secrets"),
        TokenAlgorithm::EdDsa => {
            let file = config.access_token_private_key_file.as_ref().expect("a key file");
            let pem = std::fs::read_to_string(file).expect("read the key file");
            let private = Ed25519PrivateKey::from_pkcs8_pem(&pem).expect("a private key");
            let published = match &config.access_token_public_keys_file {
                Some(file) => {
                    let text = std::fs::read_to_string(file).expect("read the public keys file");
                    Ed25519PublicKey::from_pem_bundle(&text).expect("public keys")
                }
                None => Vec::new(),
            };
            KeySet::ed25519(&private, &published).expect("valid keys")
        }
    };
    AccessTokens::new(keys, &tokens.settings())
}

/// The `alg` and `kid` an access token of a server with `config` carries in its header,
/// worked out from the configured key alone: the HS256 key id of the secret, or the RFC 7638
/// thumbprint of the Ed25519 public key (computed by `jsonwebtoken`, not by this project).
pub fn access_header(config: &Config) -> (jsonwebtoken::Algorithm, String) {
    match config.tokens.access_token_alg {
        TokenAlgorithm::Hs256 => {
            let secret = config.tokens.access_token_secret.as_ref().expect("an access secret");
            (jsonwebtoken::Algorithm::HS256, key_id(secret).expect("a kid"))
        }
        TokenAlgorithm::EdDsa => {
            let file = config.access_token_private_key_file.as_ref().expect("a key file");
            let pem = std::fs::read_to_string(file).expect("read the key file");
            let public = Ed25519PrivateKey::from_pkcs8_pem(&pem)
                .expect("a private key")
                .public_key();
            (jsonwebtoken::Algorithm::EdDSA, thumbprint(public.as_bytes()))
        }
    }
}

/// The RFC 7638 thumbprint (SHA-256) of an Ed25519 public key, by `jsonwebtoken`.
pub fn thumbprint(public: &[u8; 32]) -> String {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": test_support::jose::b64url(public),
    }))
    .expect("an OKP JWK");
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .expect("a thumbprint")
}

/// A running server, its database directory, and tools to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    /// Verify and craft tokens with the server's own keys (those of its mode) and settings.
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
    spawn_app_in_on(crate::ALG, data, adjust).await
}

/// Starts a server signing access tokens with `alg`, whatever the target's mode: for tests
/// about one mode's keys.
pub async fn spawn_app_in(alg: TokenAlgorithm, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_in_on(alg, test_data().await, adjust).await
}

async fn spawn_app_in_on(alg: TokenAlgorithm, data: Arc<TestData>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = config_in(alg, &data);
    adjust(&mut config);
    let settings = config.tokens.settings();
    let mut app = TestApp {
        address: String::new(),
        client: reqwest::Client::new(),
        access: access_tokens(&config),
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

/// The keys of JSON object `value`, sorted.
pub fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("a JSON object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Every error body has exactly the keys `error` and `message`, both strings.
pub fn assert_error_shape(body: &Value) {
    assert_eq!(sorted_keys(body), ["error", "message"], "{body}");
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
