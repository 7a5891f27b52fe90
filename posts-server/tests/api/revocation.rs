//! "Logout means logout": a real auth-server beside the posts-server, which follows its
//! ended-session feed (`AUTH_URL`). Every way a session ends (logout, global logout, reuse of a
//! spent refresh token, the operators' `user revoke-sessions` and `user delete`) reaches the
//! posts-server within a second, and its access tokens are refused there while every other
//! session's go on working; a posts-server that was down when a session ended, or whose feed
//! was cut (a TCP relay taken down, an auth-server killed), catches up once it can; a
//! fail-closed one answers `503` while the feed lags too far; `/metrics` tells how it goes; and
//! the entries are forgotten once no token of their session can verify any more.
//!
//! The auth-server runs in this process ([`Auth`]) on the target's backend and in its mode
//! (HS256 under the test secret, or EdDSA under the test issuer's key, whose public key it
//! publishes), except where a process is needed: the operators' command line, and a server
//! killed with SIGKILL ([`auth_binary`]). The posts-server runs in this process too, except
//! where its `/metrics` are read: the metrics recorder is one per process, and every test
//! server here (and, in the `EdDSA` targets, every other test's) follows a feed, so those
//! tests run the binary.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jwt_tokens::{TokenAlgorithm, now_unix};
use posts_server::Config;
use posts_server::config::FeedFail;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use test_support::jose::{b64url_decode, parts};
use test_support::relay::TcpRelay;
use test_support::{ServerBinary, ServerProcess, TestData};
use tokio::sync::{OnceCell, oneshot};

use tokio::time::Instant;

use crate::binary::POSTS_SERVER;
use crate::helpers::{ACCESS_SECRET, TestApp, config, issuer_pem, start_app, test_data, use_eddsa};

const REFRESH_SECRET: &str = "revocation-test-refresh-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";
/// The message of a `403` for an access token of an ended session.
const SESSION_ENDED: &str = "the access token's session has ended (logged out or revoked)";
/// The contract: a posts-server that follows the auth server refuses an ended session's
/// access tokens within a second.
const WITHIN: Duration = Duration::from_secs(1);
/// How often a token is presented while its refusal is awaited.
const POLL: Duration = Duration::from_millis(20);
/// How long a refusal is waited for: past [`WITHIN`] only to report how late it came.
const PATIENCE: Duration = Duration::from_secs(5);
/// After the feed is back, how long a posts-server may take to refuse the tokens of the
/// sessions that ended meanwhile: its follower tries an unreachable feed again after a pause
/// that doubles from 100 ms up to 5 s, then one answer is enough.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(6);
/// How often an EdDSA posts-server fetches the auth server's keys: the server's default (the
/// keys do not change here).
const KEYS_REFRESH: Duration = Duration::from_secs(60);
/// `SESSION_FEED_MAX_LAG` of the tests of a lagging feed: the shortest allowed.
const MAX_LAG: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// The auth server, in this process.

/// A real auth-server in this process, on `data` (the target's backend), in the target's mode,
/// until it is dropped. (It is never stopped gracefully: that would wait for the long-polls of
/// the posts-servers that follow it, up to 10 s.)
struct Auth {
    url: String,
    /// Dropped, it stops the server.
    _stop: oneshot::Sender<()>,
    /// Kept for as long as the server runs on it.
    data: Arc<TestData>,
}

impl Auth {
    /// Starts one on fresh data, with `flags` (such as `--access-token-ttl 2s`) after the test
    /// settings; refresh tokens spent are theft at once (`REFRESH_REUSE_GRACE=0s`).
    async fn start(flags: &[&str]) -> Self {
        let data = Arc::new(TestData::new(crate::BACKEND, "auth.db").await);
        let database = data.database_url();
        let mut args: Vec<String> = [
            "auth-server",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            database.as_str(),
            "--refresh-token-secret",
            REFRESH_SECRET,
            "--refresh-reuse-grace",
            "0s",
            "--rate-limits",
            "off",
            "--log",
            "warn",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(access_key_env(data.dir().path()).into_iter().map(|(name, value)| {
            // `ACCESS_TOKEN_ALG` → `--access-token-alg`.
            format!("--{}={value}", name.to_lowercase().replace('_', "-"))
        }));
        args.extend(flags.iter().map(|flag| (*flag).to_owned()));
        let config = <auth_server::Config as clap::Parser>::try_parse_from(args).expect("auth settings");
        let app = auth_server::Application::build(config)
            .await
            .expect("auth-server starts");
        let url = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_with_shutdown(async {
            let _ = stopped.await;
        }));
        Self { url, _stop: stop, data }
    }

    fn addr(&self) -> SocketAddr {
        self.url
            .strip_prefix("http://")
            .and_then(|addr| addr.parse().ok())
            .expect("an http://IP:PORT URL")
    }

    fn data(&self) -> &TestData {
        &self.data
    }
}

/// The variables that give an auth-server of the target's mode its access key (as the
/// posts-server's test tokens have it): the test secret, or the test issuer's Ed25519 key, its
/// file written into `dir` (once).
fn access_key_env(dir: &Path) -> Vec<(&'static str, String)> {
    match crate::ALG {
        TokenAlgorithm::Hs256 => vec![("ACCESS_TOKEN_SECRET", ACCESS_SECRET.to_owned())],
        TokenAlgorithm::EdDsa => {
            let file = dir.join("access.key");
            if !file.exists() {
                write_private(&file, issuer_pem());
            }
            vec![
                ("ACCESS_TOKEN_ALG", "EdDSA".to_owned()),
                ("ACCESS_TOKEN_PRIVATE_KEY_FILE", file.display().to_string()),
            ]
        }
    }
}

/// Writes `text` to a new file only its owner can read.
fn write_private(file: &Path, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut out| out.write_all(text.as_bytes()))
        .expect("write the private key");
}

/// The auth-server binary, built once per test process into this test's target directory and
/// profile (a package's tests are given only its own binaries), as `tests/fleet.rs` and the dev
/// launcher's browser test build it: for the operators' command line, run beside a server as
/// an operator runs it, and for a server killed with SIGKILL.
async fn auth_binary() -> ServerBinary {
    static BUILT: OnceCell<ServerBinary> = OnceCell::const_new();
    *BUILT.get_or_init(build_auth_binary).await
}

async fn build_auth_binary() -> ServerBinary {
    let path = tokio::task::spawn_blocking(|| {
        test_support::build::workspace_binary("auth-server", "auth-server", "posts-server")
    })
    .await
    .expect("the build did not panic");
    ServerBinary::new("auth-server", path)
        .envs(&[
            ("AUTH_ADDR", "127.0.0.1:0"),
            ("REFRESH_TOKEN_SECRET", REFRESH_SECRET),
            ("REFRESH_REUSE_GRACE", "0s"),
            ("RATE_LIMITS", "off"),
            ("RUST_LOG", "warn"),
        ])
        .patience(Duration::from_secs(60))
}

/// Runs `auth-server ARGS` (an operator command) on `data`'s database, beside any server on
/// it, as `auth-server/tests/api/cli.rs` does; it must succeed. Returns its stdout.
async fn operator(data: &TestData, args: &[&str]) -> String {
    let binary = auth_binary().await;
    let mut command = binary.command(data.dir().path());
    command.env("AUTH_DATABASE_URL", data.database_url()).args(args);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command ends in time")
        .expect("run auth-server");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "auth-server {args:?}: {:?}\n{stdout}{stderr}",
        output.status
    );
    stdout
}

// ---------------------------------------------------------------------------------------------
// Speaking to the auth server as a client does.

/// A session as its client holds it.
#[derive(Debug, Clone)]
struct Session {
    access: String,
    refresh: String,
}

impl Session {
    fn from_tokens(body: &Value) -> Self {
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in {body}"))
                .to_owned()
        };
        Self {
            access: field("accessToken"),
            refresh: field("refreshToken"),
        }
    }
}

async fn register(http: &Client, auth: &str, username: &str) {
    let response = http
        .post(format!("{auth}/register"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(response.status(), 201, "register {username}");
}

async fn login(http: &Client, auth: &str, username: &str) -> Session {
    let response = http
        .post(format!("{auth}/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .expect("POST /login");
    assert_eq!(response.status(), 200, "log {username} in");
    Session::from_tokens(&response.json().await.expect("a JSON body"))
}

/// `POST /token` with `refresh`.
async fn refresh(http: &Client, auth: &str, refresh: &str) -> Response {
    http.post(format!("{auth}/token"))
        .json(&json!({ "token": refresh }))
        .send()
        .await
        .expect("POST /token")
}

/// `DELETE /logout`, of the session only or, `global`, of every session of its user.
async fn logout(http: &Client, auth: &str, refresh: &str, global: bool) {
    let body = if global {
        json!({ "token": refresh, "scope": "global" })
    } else {
        json!({ "token": refresh })
    };
    let response = http
        .delete(format!("{auth}/logout"))
        .json(&body)
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(response.status(), 204, "logout");
}

/// The `exp` claim of a token.
fn exp_of(token: &str) -> u64 {
    let claims: Value = serde_json::from_slice(&b64url_decode(&parts(token)[1])).expect("JSON claims");
    claims["exp"].as_u64().expect("an exp")
}

// ---------------------------------------------------------------------------------------------
// The posts server.

/// Makes `config` follow the auth server at `auth_url`: for its ended sessions, and in `EdDSA`
/// mode for its keys too.
fn follow(config: &mut Config, auth_url: &str) {
    match crate::ALG {
        TokenAlgorithm::Hs256 => config.auth_url = vec![auth_url.to_owned()],
        TokenAlgorithm::EdDsa => use_eddsa(config, auth_url, KEYS_REFRESH),
    }
}

/// Settings of a posts-server on `data` following `auth_url`, as `adjust` leaves them.
fn following(data: &TestData, auth_url: &str, adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = config(data.database_url());
    follow(&mut config, auth_url);
    adjust(&mut config);
    config
}

/// A posts-server in this process on fresh data following `auth_url`, ready (caught up with
/// the feed).
async fn posts_following(auth_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data = Arc::new(test_data().await);
    let config = following(&data, auth_url, adjust);
    let app = start_app(data, config).await;
    app.wait_until_ready().await;
    app
}

/// The `posts-server` binary in the target's mode and on its backend, following `auth_url`,
/// with `envs` besides (which may override the feed's settings); ready when this returns.
async fn posts_binary(data: &TestData, auth_url: &str, envs: &[(&str, &str)]) -> ServerProcess {
    let mut command = POSTS_SERVER.command(data.dir().path());
    match crate::ALG {
        TokenAlgorithm::Hs256 => command.env("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
        TokenAlgorithm::EdDsa => command.env("ACCESS_TOKEN_ALG", "EdDSA"),
    };
    command
        .env("POSTS_DATABASE_URL", data.database_url())
        .env("AUTH_URL", auth_url)
        .env("RATE_LIMITS", "off")
        // The defaults, said here: these are not among the variables every start clears.
        .env("SESSION_FEED_MAX_LAG", "30s")
        .env("SESSION_FEED_FAIL", "open")
        .envs(envs.iter().copied());
    let server = POSTS_SERVER.start(&mut command).await;
    wait_until_ready(&Client::new(), server.base()).await;
    server
}

/// Waits until `/readyz` of the server at `base` answers `200`, for at most 10 s.
async fn wait_until_ready(http: &Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if readyz(http, base).await == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "{base} not ready within 10s");
        tokio::time::sleep(POLL).await;
    }
}

async fn readyz(http: &Client, base: &str) -> u16 {
    http.get(format!("{base}/readyz"))
        .send()
        .await
        .expect("GET /readyz")
        .status()
        .as_u16()
}

async fn get_posts(http: &Client, posts: &str, token: &str) -> Response {
    http.get(format!("{posts}/posts"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /posts")
}

/// Asserts that every one of `tokens` is accepted.
async fn assert_accepted(http: &Client, posts: &str, tokens: &[&str], when: &str) {
    for token in tokens {
        let response = get_posts(http, posts, token).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{when}: a live session's token refused: {body}");
    }
}

/// Asserts the refusal of an ended session's access token: `403`, the RFC 6750 challenge,
/// and exactly the contract's body with the message that says why.
async fn assert_session_ended(response: Response) {
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("an ASCII header").to_owned());
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, 403, "{body}");
    let challenge = challenge.expect("a WWW-Authenticate header");
    assert!(challenge.starts_with(r#"Bearer error="invalid_token""#), "{challenge}");
    assert_eq!(body, json!({ "error": "invalid_token", "message": SESSION_ENDED }));
}

/// Presents each of `ended` (tokens of sessions that ended at `since`) to `posts` every
/// [`POLL`] until each is refused, and each of `live` every time, which must be accepted
/// throughout; an ended one must be accepted until it is refused (nothing else), and stays
/// refused. Returns how long after `since` the last refusal came; fails if that is more than
/// `patience`.
async fn wait_refused(
    http: &Client,
    posts: &str,
    ended: &[&str],
    live: &[&str],
    since: Instant,
    patience: Duration,
) -> Duration {
    let mut refused = vec![false; ended.len()];
    let mut last = Duration::ZERO;
    loop {
        for (token, refused) in ended.iter().zip(refused.iter_mut()) {
            let response = get_posts(http, posts, token).await;
            if response.status() == 200 {
                assert!(!*refused, "an ended session's token accepted again after its refusal");
                continue;
            }
            assert_session_ended(response).await;
            if !*refused {
                *refused = true;
                last = since.elapsed();
            }
        }
        assert_accepted(http, posts, live, "while waiting for a refusal").await;
        if refused.iter().all(|refused| *refused) {
            return last;
        }
        assert!(
            since.elapsed() < patience,
            "{} of {} ended sessions' tokens still accepted {patience:?} after they ended",
            refused.iter().filter(|refused| !**refused).count(),
            ended.len()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_refused`] with [`PATIENCE`], asserting the contract's second; reports the time taken.
async fn assert_refused_within_a_second(
    http: &Client,
    posts: &str,
    what: &str,
    ended: &[&str],
    live: &[&str],
    since: Instant,
) {
    let took = wait_refused(http, posts, ended, live, since, PATIENCE).await;
    eprintln!(
        "revocation: {what} ({:?}, {:?}): refused after {took:?}",
        crate::BACKEND,
        crate::ALG
    );
    assert!(
        took <= WITHIN,
        "{what}: refused only after {took:?}, not within {WITHIN:?}"
    );
}

async fn scrape(http: &Client, posts: &str) -> String {
    test_support::prometheus::scrape(http, &format!("{posts}/metrics")).await
}

fn metric(text: &str, name: &str) -> f64 {
    test_support::prometheus::value(text, name, &[])
}

/// Scrapes `posts` every 50 ms until `holds` is true of its metrics, for at most `within`;
/// returns the text that satisfied it.
async fn wait_for_metrics(
    http: &Client,
    posts: &str,
    within: Duration,
    what: &str,
    holds: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = scrape(http, posts).await;
        if holds(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not within {within:?}:\n{}",
            feed_metrics(&text)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The follower's lines of a scrape, for failure messages.
fn feed_metrics(text: &str) -> String {
    text.lines()
        .filter(|line| line.contains("session_feed_"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A relay between the posts-server and the auth server, to cut the feed: on a quiet port, so
/// that nothing takes it while it is down.
async fn relay_to(upstream: SocketAddr) -> (TcpRelay, String) {
    let relay = TcpRelay::start_quiet(upstream).await;
    let url = format!("http://{}", relay.addr());
    (relay, url)
}

// ---------------------------------------------------------------------------------------------
// 1. Every way a session ends reaches the posts-server within a second.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_is_refused_on_the_posts_server_within_a_second() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    let ended = login(&http, &auth.url, "ann").await;
    let other = login(&http, &auth.url, "ann").await;
    let posts = posts_following(&auth.url, |_| {}).await;
    assert_accepted(
        &http,
        &posts.address,
        &[&ended.access, &other.access],
        "before the logout",
    )
    .await;

    let since = Instant::now();
    logout(&http, &auth.url, &ended.refresh, false).await;

    assert_refused_within_a_second(
        &http,
        &posts.address,
        "logout",
        &[&ended.access],
        &[&other.access],
        since,
    )
    .await;
    assert_accepted(&http, &posts.address, &[&other.access], "after the logout").await;
    // The session's refresh token is spent too: the auth server says so itself.
    assert_eq!(refresh(&http, &auth.url, &ended.refresh).await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_logout_ends_every_session_of_the_user_and_no_other() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    register(&http, &auth.url, "bob").await;
    let (first, second) = (
        login(&http, &auth.url, "ann").await,
        login(&http, &auth.url, "ann").await,
    );
    let bob = login(&http, &auth.url, "bob").await;
    let posts = posts_following(&auth.url, |_| {}).await;
    let ended = [first.access.as_str(), second.access.as_str()];
    assert_accepted(&http, &posts.address, &[ended[0], ended[1], &bob.access], "before").await;

    let since = Instant::now();
    logout(&http, &auth.url, &second.refresh, true).await;

    assert_refused_within_a_second(&http, &posts.address, "global logout", &ended, &[&bob.access], since).await;
    assert_accepted(&http, &posts.address, &[&bob.access], "after the global logout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_refresh_token_presented_again_ends_its_session_and_its_access_tokens() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    let stolen = login(&http, &auth.url, "ann").await;
    let other = login(&http, &auth.url, "ann").await;
    let rotated = refresh(&http, &auth.url, &stolen.refresh).await;
    assert_eq!(rotated.status(), 200);
    let rotated = Session::from_tokens(&rotated.json().await.expect("a JSON body"));
    let posts = posts_following(&auth.url, |_| {}).await;
    let ended = [stolen.access.as_str(), rotated.access.as_str()];
    assert_accepted(
        &http,
        &posts.address,
        &[ended[0], ended[1], &other.access],
        "before the reuse",
    )
    .await;

    // The spent token again (REFRESH_REUSE_GRACE=0s): theft; the whole session is revoked.
    let since = Instant::now();
    assert_eq!(refresh(&http, &auth.url, &stolen.refresh).await.status(), 403);

    assert_refused_within_a_second(
        &http,
        &posts.address,
        "reuse detection",
        &ended,
        &[&other.access],
        since,
    )
    .await;
    assert_eq!(
        refresh(&http, &auth.url, &rotated.refresh).await.status(),
        403,
        "the session's newest refresh token is revoked too"
    );
    assert_accepted(&http, &posts.address, &[&other.access], "after the reuse").await;
}

/// `auth-server ARGS` (an operator command, run as a process beside the server) ends both of
/// ann's sessions, printing `printed`: their access tokens are refused within a second of the
/// command's exit (the session ends in its transaction), and bob's are not.
async fn an_operator_command_ends_anns_access_tokens(args: &[&str], printed: &str) {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    register(&http, &auth.url, "bob").await;
    let ann = [
        login(&http, &auth.url, "ann").await,
        login(&http, &auth.url, "ann").await,
    ];
    let bob = login(&http, &auth.url, "bob").await;
    let posts = posts_following(&auth.url, |_| {}).await;
    let ended = [ann[0].access.as_str(), ann[1].access.as_str()];
    assert_accepted(&http, &posts.address, &[ended[0], ended[1], &bob.access], "before").await;
    auth_binary().await;

    let output = operator(auth.data(), args).await;
    let since = Instant::now();
    assert_eq!(output, printed);

    let command = args.join(" ");
    assert_refused_within_a_second(&http, &posts.address, &command, &ended, &[&bob.access], since).await;
    assert_accepted(&http, &posts.address, &[&bob.access], "after the command").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_revoking_a_users_sessions_ends_their_access_tokens_within_a_second() {
    an_operator_command_ends_anns_access_tokens(&["user", "revoke-sessions", "ann"], "2\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_ends_their_access_tokens_within_a_second() {
    an_operator_command_ends_anns_access_tokens(&["user", "delete", "ann"], "deleted ann\n").await;
}

// ---------------------------------------------------------------------------------------------
// 2. A posts-server that was down when a session ended.

/// The posts-server is stopped, a session ends, a new posts-server starts while the feed cannot
/// be reached (nothing listens where `AUTH_URL` points): it is not ready, and a fail-closed one
/// refuses every token (`503`). Once the feed can be reached, it catches up; from the moment
/// `/readyz` says `200`, the ended session's token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posts_server_started_after_a_logout_refuses_its_token_once_ready() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    let ended = login(&http, &auth.url, "ann").await;
    let live = login(&http, &auth.url, "ann").await;
    let (mut relay, relay_url) = relay_to(auth.addr()).await;
    let first = posts_following(&relay_url, |_| {}).await;
    assert_accepted(&http, &first.address, &[&ended.access, &live.access], "before").await;

    let data = first.stop().await;
    logout(&http, &auth.url, &ended.refresh, false).await;
    relay.take_down().await;
    // The same posts data, and one fail-closed server beside it on data of its own.
    let open = following(&data, &relay_url, |_| {});
    let again = start_app(data, open).await;
    let closed_data = Arc::new(test_data().await);
    let closed = following(&closed_data, &relay_url, |config| {
        config.session_feed_fail = FeedFail::Closed
    });
    let closed = start_app(closed_data, closed).await;

    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(readyz(&http, &again.address).await, 503, "ready without the feed");
        assert_eq!(readyz(&http, &closed.address).await, 503, "ready without the feed");
        if crate::ALG == TokenAlgorithm::Hs256 {
            // (EdDSA: no keys yet either, so every token is refused for that.)
            assert_unavailable(get_posts(&http, &closed.address, &live.access).await).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    relay.bring_up().await;
    for app in [&again, &closed] {
        wait_until_ready(&http, &app.address).await;
        // At once: nothing is waited for past readiness.
        assert_session_ended(get_posts(&http, &app.address, &ended.access).await).await;
        assert_accepted(&http, &app.address, &[&live.access], "once ready").await;
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The feed interrupted and restored.

/// The relay between a posts-server (fail-open, `SESSION_FEED_MAX_LAG=1s`) and the auth server
/// is taken down; sessions end meanwhile, whose tokens go on being accepted (fail-open: the
/// documented behaviour) while `/metrics` says the feed is disconnected and its lag grows past
/// the maximum; once the relay is back, every one of them is refused within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_while_the_feed_is_cut_are_refused_once_it_is_back() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    for username in ["ann", "bob", "cyd"] {
        register(&http, &auth.url, username).await;
    }
    let ann = login(&http, &auth.url, "ann").await;
    let bob = [
        login(&http, &auth.url, "bob").await,
        login(&http, &auth.url, "bob").await,
    ];
    let cyd = login(&http, &auth.url, "cyd").await;
    let (mut relay, relay_url) = relay_to(auth.addr()).await;
    let data = test_data().await;
    let posts = posts_binary(
        &data,
        &relay_url,
        &[("SESSION_FEED_MAX_LAG", "1s"), ("SESSION_FEED_FAIL", "open")],
    )
    .await;
    let base = posts.base();
    let ended = [ann.access.as_str(), bob[0].access.as_str(), bob[1].access.as_str()];
    assert_accepted(&http, base, &[ended[0], ended[1], ended[2], &cyd.access], "before").await;

    let cut = Instant::now();
    relay.take_down().await;
    let text = wait_for_metrics(&http, base, Duration::from_secs(2), "connected 0", |text| {
        metric(text, "session_feed_connected") == 0.0
    })
    .await;
    let first_lag = metric(&text, "session_feed_lag_seconds");
    logout(&http, &auth.url, &ann.refresh, false).await;
    logout(&http, &auth.url, &bob[1].refresh, true).await;
    // The lag grows past the maximum, and the tokens are still accepted (fail-open).
    let text = wait_for_metrics(&http, base, Duration::from_secs(6), "a lag past the maximum", |text| {
        let lag = metric(text, "session_feed_lag_seconds");
        lag > first_lag && lag > MAX_LAG.as_secs_f64()
    })
    .await;
    assert_eq!(metric(&text, "session_feed_connected"), 0.0, "{}", feed_metrics(&text));
    assert_accepted(
        &http,
        base,
        &[ended[0], ended[1], ended[2], &cyd.access],
        "while the feed is cut",
    )
    .await;
    eprintln!(
        "revocation: feed cut for {:?}; {}",
        cut.elapsed(),
        feed_metrics(&text).replace('\n', ", ")
    );

    relay.bring_up().await;
    let since = Instant::now();
    let took = wait_refused(&http, base, &ended, &[&cyd.access], since, CATCH_UP_WITHIN).await;
    eprintln!(
        "revocation: feed back after {:?} cut: caught up in {took:?} ({:?}, {:?})",
        since - cut,
        crate::BACKEND,
        crate::ALG
    );
    // (The metrics are set just after the set: a scrape may come in between.)
    let text = wait_for_metrics(
        &http,
        base,
        WITHIN,
        "connected again, three ended sessions held",
        |text| metric(text, "session_feed_connected") == 1.0 && metric(text, "session_feed_ended_sessions") == 3.0,
    )
    .await;
    assert_eq!(
        metric(&text, "session_feed_lag_seconds"),
        0.0,
        "{}",
        feed_metrics(&text)
    );

    // The feed is live again: a logout now takes a second at most.
    let since = Instant::now();
    logout(&http, &auth.url, &cyd.refresh, false).await;
    assert_refused_within_a_second(&http, base, "logout after the feed is back", &[&cyd.access], &[], since).await;
    drop(relay);
    posts.terminate().await;
}

/// The auth server is killed (SIGKILL) under a posts-server that follows it; an operator ends
/// sessions on the database meanwhile; the auth server is started again on its port, and the
/// posts-server catches up on what it missed, then follows as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_server_killed_and_started_again_on_its_port_is_followed_again() {
    let http = Client::new();
    let binary = auth_binary().await;
    let data = TestData::new(crate::BACKEND, "auth.db").await;
    let addr = format!("127.0.0.1:{}", test_support::relay::quiet_port());
    let start = || {
        let mut command = binary.command(data.dir().path());
        command
            .env("AUTH_ADDR", &addr)
            .env("AUTH_DATABASE_URL", data.database_url())
            .envs(access_key_env(data.dir().path()));
        command
    };
    let auth = binary.start(&mut start()).await;
    let url = auth.base().to_owned();
    register(&http, &url, "ann").await;
    register(&http, &url, "bob").await;
    let ann = [login(&http, &url, "ann").await, login(&http, &url, "ann").await];
    let bob = login(&http, &url, "bob").await;
    let posts = posts_following(&url, |_| {}).await;
    let ended = [ann[0].access.as_str(), ann[1].access.as_str()];
    assert_accepted(&http, &posts.address, &[ended[0], ended[1], &bob.access], "before").await;

    let killed = Instant::now();
    auth.kill().await;
    assert_eq!(operator(&data, &["user", "revoke-sessions", "ann"]).await, "2\n");
    assert_accepted(
        &http,
        &posts.address,
        &[ended[0], ended[1], &bob.access],
        "while the auth server is down (fail-open)",
    )
    .await;

    let auth = binary.start(&mut start()).await;
    let since = Instant::now();
    let took = wait_refused(&http, &posts.address, &ended, &[&bob.access], since, CATCH_UP_WITHIN).await;
    eprintln!(
        "revocation: auth-server back after {:?} down: caught up in {took:?} ({:?}, {:?})",
        since - killed,
        crate::BACKEND,
        crate::ALG
    );

    let since = Instant::now();
    logout(&http, &url, &bob.refresh, false).await;
    assert_refused_within_a_second(
        &http,
        &posts.address,
        "logout after a restart",
        &[&bob.access],
        &[],
        since,
    )
    .await;
    auth.kill().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Fail-closed.

/// Asserts the `503` of a token that cannot be checked against the ended sessions.
async fn assert_unavailable(response: Response) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("an ASCII header").to_owned());
    let content_type = response.headers().get("content-type").cloned();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        content_type.as_ref().map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_eq!(body["error"], "unavailable", "{body}");
    assert!(body["message"].is_string(), "{body}");
    let retry_after = retry_after.expect("a Retry-After header");
    assert!(
        retry_after.parse::<u64>().is_ok_and(|seconds| seconds >= 1),
        "Retry-After: {retry_after}"
    );
}

/// Two posts-servers behind one relay, `SESSION_FEED_MAX_LAG=1s`: a fail-closed one answers
/// `503` to every request that carries a token once the feed has been cut for longer than that
/// (`401` still without one), and `200` again once it is back; a fail-open one answers `200`
/// throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_tokens_while_the_feed_lags_too_far_and_fail_open_does_not() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    register(&http, &auth.url, "ann").await;
    let ann = login(&http, &auth.url, "ann").await;
    let (mut relay, relay_url) = relay_to(auth.addr()).await;
    let lagging = |fail| {
        move |config: &mut Config| {
            config.session_feed_max_lag = MAX_LAG;
            config.session_feed_fail = fail;
        }
    };
    let closed = posts_following(&relay_url, lagging(FeedFail::Closed)).await;
    let open = posts_following(&relay_url, lagging(FeedFail::Open)).await;
    // While the feed answers, longer than the lag allowed.
    let until = Instant::now() + MAX_LAG + Duration::from_millis(500);
    while Instant::now() < until {
        assert_accepted(&http, &closed.address, &[&ann.access], "fail-closed, the feed up").await;
        assert_accepted(&http, &open.address, &[&ann.access], "fail-open, the feed up").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let cut = Instant::now();
    relay.take_down().await;
    // The lag counts from the feed's last answer: at most a long-poll before the cut.
    let refused = loop {
        let response = get_posts(&http, &closed.address, &ann.access).await;
        if response.status() != 200 {
            assert_unavailable(response).await;
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < MAX_LAG + Duration::from_secs(2),
            "fail-closed still accepts tokens {:?} after the feed was cut",
            cut.elapsed()
        );
        tokio::time::sleep(POLL).await;
    };
    eprintln!("revocation: fail-closed refuses {refused:?} after the cut (SESSION_FEED_MAX_LAG=1s)");
    // Past the lag allowed for sure: everything that carries a token, and nothing else.
    tokio::time::sleep((cut + MAX_LAG + Duration::from_millis(200)).saturating_duration_since(Instant::now())).await;
    assert_unavailable(get_posts(&http, &closed.address, &ann.access).await).await;
    let created = http
        .post(format!("{}/posts", closed.address))
        .bearer_auth(&ann.access)
        .json(&json!({ "title": "t", "body": "b" }))
        .send()
        .await
        .expect("POST /posts");
    assert_unavailable(created).await;
    let anonymous = http
        .get(format!("{}/posts", closed.address))
        .send()
        .await
        .expect("GET /posts");
    crate::helpers::assert_bearer_error(anonymous, 401, "invalid_request").await;
    assert_accepted(&http, &open.address, &[&ann.access], "fail-open, past the lag allowed").await;

    relay.bring_up().await;
    let back = Instant::now();
    // Waited for past CATCH_UP_WITHIN only to report how late it came.
    loop {
        let response = get_posts(&http, &closed.address, &ann.access).await;
        if response.status() == 200 {
            break;
        }
        assert_unavailable(response).await;
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "fail-closed still refuses 20s after the feed is back"
        );
        tokio::time::sleep(POLL).await;
    }
    let took = back.elapsed();
    eprintln!("revocation: fail-closed accepts again {took:?} after the feed is back");
    assert!(
        took <= CATCH_UP_WITHIN,
        "fail-closed refused tokens for {took:?} after the feed was back, not {CATCH_UP_WITHIN:?} at most"
    );
    assert_accepted(&http, &open.address, &[&ann.access], "fail-open, the feed back").await;
}

// ---------------------------------------------------------------------------------------------
// 5. Metrics.

/// The follower's four series, each with its `# HELP` and `# TYPE`, from the moment
/// `/readyz` says `200`: connected, no lag, nothing ended yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_metrics_are_described_and_set_once_the_server_is_ready() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    let data = test_data().await;
    let posts = posts_binary(&data, &auth.url, &[]).await;

    let text = scrape(&http, posts.base()).await;

    let samples = test_support::prometheus::parse(&text);
    let shown = feed_metrics(&text);
    for (name, kind, value) in [
        ("session_feed_connected", "gauge", 1.0),
        ("session_feed_lag_seconds", "gauge", 0.0),
        ("session_feed_ended_sessions", "gauge", 0.0),
        ("session_feed_revocations_total", "counter", 0.0),
    ] {
        let sample = samples.iter().find(|sample| sample.name == name);
        assert_eq!(sample.map(|sample| sample.value), Some(value), "{name}: {shown}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}: {shown}");
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP line: {shown}"
        );
    }
    posts.terminate().await;
}

/// Three sessions end (one of them twice over: its logout, then its user's global logout):
/// `/metrics` counts three ended sessions, and says the feed is connected without lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_ended_sessions() {
    let http = Client::new();
    let auth = Auth::start(&[]).await;
    for username in ["ann", "bob", "cyd"] {
        register(&http, &auth.url, username).await;
    }
    let ann = [
        login(&http, &auth.url, "ann").await,
        login(&http, &auth.url, "ann").await,
    ];
    let bob = login(&http, &auth.url, "bob").await;
    let cyd = login(&http, &auth.url, "cyd").await;
    let data = test_data().await;
    let posts = posts_binary(&data, &auth.url, &[]).await;
    let base = posts.base();

    let since = Instant::now();
    logout(&http, &auth.url, &ann[0].refresh, false).await;
    logout(&http, &auth.url, &ann[1].refresh, true).await;
    logout(&http, &auth.url, &bob.refresh, false).await;
    logout(&http, &auth.url, &ann[0].refresh, false).await;
    let ended = [ann[0].access.as_str(), ann[1].access.as_str(), bob.access.as_str()];
    wait_refused(&http, base, &ended, &[&cyd.access], since, PATIENCE).await;

    // (The metrics are set just after the set: a scrape may come in between.)
    let text = wait_for_metrics(&http, base, WITHIN, "three ended sessions counted", |text| {
        metric(text, "session_feed_revocations_total") >= 3.0
    })
    .await;
    let shown = feed_metrics(&text);
    assert_eq!(metric(&text, "session_feed_ended_sessions"), 3.0, "{shown}");
    assert_eq!(metric(&text, "session_feed_connected"), 1.0, "{shown}");
    assert_eq!(metric(&text, "session_feed_lag_seconds"), 0.0, "{shown}");
    posts.terminate().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Entries are forgotten once no token of their session verifies.

/// With access tokens of 2 s and a leeway of 1 s, a logged-out session's entry is held (and its
/// token refused) until its tokens could no longer verify anyway, then forgotten (the follower
/// prunes every 10 s); its token is never accepted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_forgotten_once_its_tokens_have_expired() {
    const LEEWAY: u64 = 1;
    let http = Client::new();
    let auth = Auth::start(&["--access-token-ttl", "2s"]).await;
    register(&http, &auth.url, "ann").await;
    let data = test_data().await;
    let leeway = format!("{LEEWAY}s");
    let posts = posts_binary(&data, &auth.url, &[("JWT_LEEWAY", &leeway)]).await;
    let base = posts.base();
    let ann = login(&http, &auth.url, "ann").await;
    let until = exp_of(&ann.access);

    let since = Instant::now();
    logout(&http, &auth.url, &ann.refresh, false).await;
    wait_refused(&http, base, &[&ann.access], &[], since, PATIENCE).await;
    // (The metrics are set just after the set: a scrape may come in between.)
    wait_for_metrics(&http, base, WITHIN, "the ended session held", |text| {
        metric(text, "session_feed_ended_sessions") == 1.0
    })
    .await;

    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let text = scrape(&http, base).await;
        let now = now_unix();
        let held = metric(&text, "session_feed_ended_sessions");
        if held == 0.0 {
            assert!(
                now > until + LEEWAY,
                "forgotten at {now}, before its tokens' exp {until} and the leeway of {LEEWAY}s had passed"
            );
            eprintln!(
                "revocation: entry forgotten {}s after its until + leeway, {:?} after the logout",
                now - until - LEEWAY,
                since.elapsed()
            );
            break;
        }
        assert_eq!(held, 1.0, "{}", feed_metrics(&text));
        let response = get_posts(&http, base, &ann.access).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(
            status, 403,
            "the ended session's token accepted while its session is held as ended: {body}"
        );
        assert!(Instant::now() < deadline, "still held 25s after its tokens expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let expired = get_posts(&http, base, &ann.access).await;
    let body = crate::helpers::assert_bearer_error(expired, 403, "invalid_token").await;
    assert_eq!(body["message"], "the access token has expired", "{body}");
    posts.terminate().await;
}
