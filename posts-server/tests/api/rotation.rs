//! A rotation of the Ed25519 access key with a real auth-server, while clients log in and call
//! `GET /posts` throughout, as docs/security.md describes it: publish the next key beside the
//! signing one; once every posts-server has it, sign with it and publish the old one as
//! retired; once the last token of the old key has expired, stop publishing it. No valid token
//! is refused at any step, and a token of the old key is refused once the key is gone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jwt_tokens::{Ed25519PrivateKey, now_unix};
use serde_json::{Value, json};
use test_support::TestDir;
use test_support::jose::{b64url_decode, parts};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::helpers::{TestApp, assert_bearer_error, spawn_app_with, tokens_signed_by, use_eddsa};

/// `ACCESS_TOKEN_TTL` of the auth servers: short, so that the old key can be dropped soon.
const TTL_SECS: u64 = 2;
/// How long a client goes on presenting a token after its login: well within its life, which
/// is more than `TTL_SECS` (a token of whole-second `exp` is valid up to the end of that second).
const USE_FOR: Duration = Duration::from_secs(1);
/// `AUTH_KEYS_REFRESH` of the posts server: the shortest.
const REFRESH: Duration = Duration::from_secs(1);
const REFRESH_SECRET: &str = "rotation-test-refresh-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";
const USERS: [&str; 3] = ["ann", "bob", "cyd"];
const UNKNOWN_KEY: &str = "the access token was not signed with a known key";

/// Which step of the rotation the auth server is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    /// The old key signs, alone.
    Old = 0,
    /// The old key signs; the next is published beside it.
    NextPublished = 1,
    /// The next key signs; the old one is published as retired.
    NextSigns = 2,
    /// The next key signs, alone.
    OldDropped = 3,
}

const STEPS: [Step; 4] = [Step::Old, Step::NextPublished, Step::NextSigns, Step::OldDropped];

/// One key's files: its private key (PKCS#8 PEM) and its public key (PEM).
struct KeyFiles {
    key: Ed25519PrivateKey,
    private: PathBuf,
    public: PathBuf,
}

fn key_files(dir: &Path, name: &str) -> KeyFiles {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let key = Ed25519PrivateKey::generate().expect("an Ed25519 key");
    let private = dir.join(format!("{name}.key"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .and_then(|mut file| file.write_all(key.to_pkcs8_pem().expect("PEM").expose().as_bytes()))
        .expect("write the private key");
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&public, key.public_key().to_pem().expect("PEM")).expect("write the public key");
    KeyFiles { key, private, public }
}

/// A real auth-server in this process, on `addr`, signing with `signing` and publishing
/// `published` beside it; its users in `dir`, kept across restarts.
struct Auth {
    addr: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Auth {
    async fn start(dir: &TestDir, addr: &str, signing: &Path, published: Option<&Path>) -> Self {
        let database = dir.sqlite_url("auth.db");
        let signing = signing.display().to_string();
        let ttl = format!("{TTL_SECS}s");
        let mut args = vec![
            "auth-server",
            "--addr",
            addr,
            "--database-url",
            &database,
            "--refresh-token-secret",
            REFRESH_SECRET,
            "--access-token-alg",
            "EdDSA",
            "--access-token-private-key-file",
            &signing,
            "--access-token-ttl",
            &ttl,
            "--jwt-leeway",
            "0s",
            "--rate-limits",
            "off",
            "--log",
            "warn",
        ];
        let published = published.map(|file| file.display().to_string());
        if let Some(file) = &published {
            args.extend(["--access-token-public-keys-file", file]);
        }
        let config = <auth_server::Config as clap::Parser>::try_parse_from(args).expect("auth settings");
        let app = auth_server::Application::build(config)
            .await
            .expect("auth-server starts");
        let addr = app.local_addr().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_with_shutdown(async {
            let _ = stopped.await;
        }));
        Self { addr, stop, server }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it (the requests in flight done) and restarts it on the same address with other keys.
    async fn restart(self, dir: &TestDir, signing: &Path, published: Option<&Path>) -> Self {
        let _ = self.stop.send(());
        self.server
            .await
            .expect("the auth server did not panic")
            .expect("the auth server stopped cleanly");
        Self::start(dir, &self.addr, signing, published).await
    }

    /// How many times its key set has been served, by it and the instances before it (the
    /// metrics of a process are counted together, and no other server here serves that route).
    async fn key_set_fetches(&self, client: &reqwest::Client) -> f64 {
        let text = test_support::prometheus::scrape(client, &format!("{}/metrics", self.url())).await;
        let route = [("route", "/.well-known/jwks.json"), ("status", "200")];
        test_support::prometheus::value(&text, "http_requests_total", &route)
    }

    /// Waits until the posts server has fetched the set this instance serves and applied it:
    /// two fetches served from now on (a follower applies a set before it asks again).
    async fn wait_until_followed(&self, client: &reqwest::Client) {
        let target = self.key_set_fetches(client).await + 2.0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.key_set_fetches(client).await < target {
            assert!(
                Instant::now() < deadline,
                "the posts server did not fetch the keys within 10s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(&b64url_decode(&parts(token)[0])).expect("a JSON header");
    header["kid"].as_str().expect("a kid").to_owned()
}

/// Every `GET /posts` the clients made: under which step, with a token of which key, and each
/// refusal in full.
#[derive(Default)]
struct Tally {
    /// `(step, kid)` of every request.
    requests: Vec<(Step, String)>,
    refusals: Vec<String>,
}

impl Tally {
    fn count(&self, step: Step, kid: &str) -> usize {
        self.requests.iter().filter(|(at, of)| *at == step && of == kid).count()
    }
}

type Shared = Arc<Mutex<Tally>>;

fn tally(shared: &Shared) -> std::sync::MutexGuard<'_, Tally> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A login that succeeds, tried again while the auth server restarts.
async fn login(client: &reqwest::Client, auth: &str, username: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = client
            .post(format!("{auth}/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await;
        if let Ok(answer) = answer
            && answer.status() == 200
        {
            let body: Value = answer.json().await.expect("a JSON body");
            return body["accessToken"].as_str().expect("an access token").to_owned();
        }
        assert!(Instant::now() < deadline, "{username} could not log in within 10s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client: logs in, calls `GET /posts` (at `posts`) with its token for [`USE_FOR`], logs in
/// again, until `stop`; every answer is counted, every one but `200` recorded as a refusal.
async fn client(
    auth: String,
    posts: String,
    username: &'static str,
    step: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    seen: Shared,
) {
    let http = reqwest::Client::new();
    while !stop.load(Ordering::Relaxed) {
        let token = login(&http, &auth, username).await;
        let kid = kid_of(&token);
        let until = Instant::now() + USE_FOR;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            let at = STEPS[usize::from(step.load(Ordering::SeqCst))];
            let response = http.get(&posts).bearer_auth(&token).send().await.expect("GET /posts");
            let status = response.status();
            let refusal = if status == 200 {
                None
            } else {
                let body = response.text().await.unwrap_or_default();
                Some(format!("{username} at {at:?}, key {kid}: {status} {body}"))
            };
            {
                let mut seen = tally(&seen);
                seen.requests.push((at, kid.clone()));
                seen.refusals.extend(refusal);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Waits until the clients have made `count` requests under `step` with tokens of `kid`.
async fn wait_for_requests(seen: &Shared, step: Step, kid: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally(seen).count(step, kid) < count {
        assert!(
            Instant::now() < deadline,
            "the clients made {} requests at {step:?}, not {count}, within 10s",
            tally(seen).count(step, kid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// No request of the clients so far was refused.
fn assert_no_refusals(seen: &Shared) {
    let seen = tally(seen);
    assert!(
        seen.refusals.is_empty(),
        "{} of {} requests refused:\n{}",
        seen.refusals.len(),
        seen.requests.len(),
        seen.refusals.join("\n")
    );
}

/// A token of `key`, issued now: one that auth-server could have issued.
fn fresh_token(key: &Ed25519PrivateKey) -> String {
    tokens_signed_by(key)
        .issue("user-probe", "probe", "session-probe", Duration::from_secs(TTL_SECS))
        .expect("sign a token")
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.get_posts(token).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_refuses_no_valid_token_and_the_old_key_once_it_is_gone() {
    let dir = TestDir::new();
    let old = key_files(dir.path(), "old");
    let next = key_files(dir.path(), "next");
    let http = reqwest::Client::new();

    let mut auth = Auth::start(&dir, "127.0.0.1:0", &old.private, None).await;
    for username in USERS {
        let response = http
            .post(format!("{}/register", auth.url()))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("POST /register");
        assert_eq!(response.status(), 201);
    }
    let auth_url = auth.url();
    let posts = spawn_app_with(|config| {
        use_eddsa(config, &auth_url, REFRESH);
        config.tokens.jwt_leeway = Duration::ZERO;
    })
    .await;

    let step = Arc::new(AtomicU8::new(Step::Old as u8));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Shared::default();
    let clients: Vec<_> = USERS
        .into_iter()
        .map(|username| {
            tokio::spawn(client(
                auth.url(),
                posts.url("/posts"),
                username,
                Arc::clone(&step),
                Arc::clone(&stop),
                Arc::clone(&seen),
            ))
        })
        .collect();
    let (old_kid, next_kid) = (old.key.public_key().kid(), next.key.public_key().kid());
    wait_for_requests(&seen, Step::Old, &old_kid, 10).await;
    assert_no_refusals(&seen);

    // 1. The next key is published beside the old one, which still signs; every posts server
    // fetches it (in production: wait longer than AUTH_KEYS_REFRESH, and the key set's max-age).
    auth = auth.restart(&dir, &old.private, Some(&next.public)).await;
    step.store(Step::NextPublished as u8, Ordering::SeqCst);
    auth.wait_until_followed(&http).await;
    wait_for_requests(&seen, Step::NextPublished, &old_kid, 10).await;
    assert_no_refusals(&seen);
    let issued_before_the_switch = login(&http, &auth.url(), "ann").await;
    assert_eq!(kid_of(&issued_before_the_switch), old_kid);

    // 2. The next key signs; the old one is published as retired.
    auth = auth.restart(&dir, &next.private, Some(&old.public)).await;
    let last_old_token_ends = now_unix() + TTL_SECS;
    step.store(Step::NextSigns as u8, Ordering::SeqCst);
    assert_eq!(
        status(&posts, &issued_before_the_switch).await,
        200,
        "a token of the old key, issued before the switch"
    );
    auth.wait_until_followed(&http).await;
    assert_eq!(
        status(&posts, &fresh_token(&old.key)).await,
        200,
        "the old key, published as retired, verifies"
    );
    wait_for_requests(&seen, Step::NextSigns, &next_kid, 10).await;
    assert_no_refusals(&seen);

    // 3. Once the last token of the old key has expired, the old key is no longer published.
    while now_unix() <= last_old_token_ends {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expired = assert_bearer_error(posts.get_posts(&issued_before_the_switch).await, 403, "invalid_token").await;
    assert_eq!(expired["message"], "the access token has expired", "{expired}");
    auth = auth.restart(&dir, &next.private, None).await;
    step.store(Step::OldDropped as u8, Ordering::SeqCst);
    auth.wait_until_followed(&http).await;
    let gone = assert_bearer_error(posts.get_posts(&fresh_token(&old.key)).await, 403, "invalid_token").await;
    assert_eq!(gone["message"], UNKNOWN_KEY, "{gone}");
    wait_for_requests(&seen, Step::OldDropped, &next_kid, 10).await;

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("the client did not panic");
    }
    assert_no_refusals(&seen);
}
