//! A fleet under load: two auth-server processes (A and B) on one PostgreSQL database, and three
//! posts-server processes that follow the ended-session feed of A, of B, and of both
//! (`AUTH_URL=A,B`). Clients register, log in, refresh, read posts and log out (one session, or
//! every session of the user) throughout; every posts-server refuses a logged-out session's
//! access tokens within a second, and none refuses a live session's. Midway A is killed
//! (SIGKILL): the posts-server that follows both carries on with B; the one that follows A alone
//! learns nothing until A is started again on its port, and then catches up on every logout it
//! missed.

use std::os::unix::process::ExitStatusExt as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use test_support::{ServerBinary, ServerProcess, TestDatabase, TestDir};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

const ACCESS_SECRET: &str = "fleet-test-access-secret-0123456789abcdef";
const REFRESH_SECRET: &str = "fleet-test-refresh-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";
/// The message of a `403` for a token of an ended session.
const SESSION_ENDED: &str = "the access token's session has ended (logged out or revoked)";

/// Access tokens live far longer than the run: every refusal seen is a session's end.
const ACCESS_TOKEN_TTL: &str = "60s";
/// The contract: a posts-server that follows the auth server refuses an ended session's access
/// tokens within a second.
const WITHIN: Duration = Duration::from_secs(1);
/// How often a logged-out token is presented to each posts-server.
const POLL: Duration = Duration::from_millis(20);
/// How long a refusal is waited for: past [`WITHIN`] only to report how late it came.
const PATIENCE: Duration = Duration::from_secs(5);
/// After A is back, how long the posts-server that follows A alone may take to refuse the tokens
/// of the logouts it missed: its follower tries an unreachable feed again after a pause that
/// doubles up to 5 s, then one answer of the feed is enough.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(6);
/// How long a catch-up is waited for: past [`CATCH_UP_WITHIN`] only to report how late it came.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(10);

/// Concurrent clients; each hashes three passwords per user, which the auth servers' hashing
/// threads (one per core, of two) do one at a time.
const CLIENTS: usize = 4;
/// The load's phases: A up, then down (until it is started again), then back. Each lasts this
/// long, and until its clients have made [`LOGOUTS_PER_PHASE`] logouts (on a busy machine the
/// auth servers' hashing threads, which yield to every other thread, take longer), within
/// [`PHASE_SLACK`] more.
const BEFORE_THE_KILL: Duration = Duration::from_secs(4);
const WHILE_DOWN: Duration = Duration::from_secs(2);
const AFTER_THE_CATCH_UP: Duration = Duration::from_secs(3);
const LOGOUTS_PER_PHASE: usize = 4;
const PHASE_SLACK: Duration = Duration::from_secs(20);

/// The auth instances, and the posts-servers: 1 follows A, 2 follows B, 3 follows both.
const A: usize = 0;
const B: usize = 1;
const POSTS: [&str; 3] = ["posts 1 (AUTH_URL=A)", "posts 2 (AUTH_URL=B)", "posts 3 (AUTH_URL=A,B)"];

const POSTS_SERVER: ServerBinary = ServerBinary::new("posts-server", env!("CARGO_BIN_EXE_posts-server"))
    .envs(&[
        ("POSTS_ADDR", "127.0.0.1:0"),
        ("POSTS_DATABASE_URL", "sqlite://posts.db"),
        ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
        ("RATE_LIMITS", "off"),
        ("RUST_LOG", "warn"),
    ])
    .patience(Duration::from_secs(60));

const AUTH_ENVS: &[(&str, &str)] = &[
    ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
    ("REFRESH_TOKEN_SECRET", REFRESH_SECRET),
    ("ACCESS_TOKEN_TTL", ACCESS_TOKEN_TTL),
    // Every client is 127.0.0.1.
    ("RATE_LIMITS", "off"),
    ("RUST_LOG", "warn"),
];

/// The auth-server binary, built now into this test's target directory and profile (a package's
/// tests are given only its own binaries).
fn auth_server() -> ServerBinary {
    ServerBinary::new(
        "auth-server",
        test_support::build::workspace_binary("auth-server", "auth-server", "posts-server"),
    )
    .envs(AUTH_ENVS)
    .patience(Duration::from_secs(60))
}

/// An auth-server on `database`, listening on `addr`, working in `dir`.
async fn start_auth(binary: &ServerBinary, dir: &TestDir, database: &TestDatabase, addr: &str) -> ServerProcess {
    let mut command = binary.command(dir.path());
    command.env("AUTH_ADDR", addr).env("AUTH_DATABASE_URL", database.url());
    binary.start(&mut command).await
}

/// A posts-server following `auth_url`, on a SQLite file of its own in `dir`.
async fn start_posts(dir: &TestDir, auth_url: &str) -> ServerProcess {
    let mut command = POSTS_SERVER.command(dir.path());
    command.env("AUTH_URL", auth_url);
    POSTS_SERVER.start(&mut command).await
}

/// Waits until `/readyz` answers `200` (a posts-server: its first catch-up with the feed is done).
async fn wait_until_ready(http: &reqwest::Client, server: &ServerProcess) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = http.get(server.url("/readyz")).send().await;
        if ready.is_ok_and(|answer| answer.status() == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "{} not ready within 10s", server.base());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When a logout was made, as the posts-server that follows A alone sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A is up: every posts-server learns of the logout within a second.
    Up,
    /// A is down, or started again but not yet caught up with by posts 1: posts 1 learns of the
    /// logout once it is back.
    Down,
    /// A is back and posts 1 has caught up: within a second again.
    Back,
}

/// A session as its client holds it: its refresh token, and every access token issued for it,
/// the newest last.
struct Session {
    refresh: String,
    access: Vec<String>,
}

impl Session {
    fn from_tokens(body: &Value) -> Self {
        Self {
            refresh: field(body, "refreshToken"),
            access: vec![field(body, "accessToken")],
        }
    }

    fn access(&self) -> &str {
        self.access.last().expect("a session has an access token")
    }
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` in {body}"))
        .to_owned()
}

/// One logout and how long each posts-server took, from its `204`, to refuse the access tokens
/// of the sessions it ended.
struct Logout {
    what: String,
    phase: Phase,
    /// `None`: not refused within [`PATIENCE`], or not measured (posts 1 while A was down; see
    /// [`Seen::caught_up`]).
    took: [Option<Duration>; 3],
}

/// The tokens of a logout made while A was down, for posts 1 to refuse once A is back.
struct Missed {
    what: String,
    tokens: Vec<String>,
    at: Instant,
}

/// Everything the clients saw.
#[derive(Default)]
struct Seen {
    requests: usize,
    /// Logouts answered `204`, by [`Phase`].
    made: [usize; 3],
    /// Answers, or failures to get one, that the contract does not allow.
    failures: Vec<String>,
    /// Requests to A cut by its kill: allowed.
    cut: Vec<String>,
    logouts: Vec<Logout>,
    missed: Vec<Missed>,
    /// What the missed logouts took posts 1, from A's restart (or the logout, if later).
    caught_up: Vec<(String, Option<Duration>)>,
    /// Every access token of every session logged out, and of every session never logged out.
    ended: Vec<String>,
    live: Vec<String>,
    measurers: Vec<JoinHandle<()>>,
}

/// A request that failed as the contract does not allow (recorded), or that A's kill cut: its
/// client drops the user it was working with.
struct Abandon;

type Step<T = ()> = Result<T, Abandon>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    One,
    Global,
}

/// The fleet as the clients see it.
struct Load {
    http: reqwest::Client,
    auth: [String; 2],
    posts: [String; 3],
    /// Whether clients may still send to A: false from its kill on.
    a_in_use: AtomicBool,
    /// Set just before A is killed: from then on, a request to A that gets no answer is expected.
    a_killed: AtomicBool,
    stop: AtomicBool,
    /// Held (read) by each logout and, while A is up, until its tokens are refused by posts 1,
    /// so that no logout is in flight when the phase changes (written).
    phase: Arc<RwLock<Phase>>,
    next_user: AtomicUsize,
    next_logout: AtomicUsize,
    seen: Mutex<Seen>,
}

impl Load {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, failure: String) -> Abandon {
        self.seen().failures.push(failure);
        Abandon
    }

    /// `preferred`, or B once A is out of use.
    fn auth_for(&self, preferred: usize) -> usize {
        if preferred == A && !self.a_in_use.load(Ordering::SeqCst) {
            B
        } else {
            preferred
        }
    }

    /// Sends `request` (to auth instance `auth`, if it goes to one) and reads its answer.
    async fn call(&self, auth: Option<usize>, request: reqwest::RequestBuilder, what: &str) -> Step<(u16, Value)> {
        self.seen().requests += 1;
        let answer = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        }
        .await;
        match answer {
            Ok((status, text)) => {
                let body = if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                };
                Ok((status, body))
            }
            Err(error) if auth == Some(A) && self.a_killed.load(Ordering::SeqCst) => {
                self.seen().cut.push(format!("{what}: {error}"));
                Err(Abandon)
            }
            Err(error) => Err(self.fail(format!("{what}: no answer ({error})"))),
        }
    }

    /// [`Load::call`] to auth instance `preferred` (or B), which must answer `expected`.
    async fn auth_call(
        &self,
        preferred: usize,
        method: reqwest::Method,
        path: &str,
        body: Value,
        expected: u16,
    ) -> Step<Value> {
        let auth = self.auth_for(preferred);
        let what = format!("{method} {path} on {}", ["A", "B"][auth]);
        let request = self
            .http
            .request(method, format!("{}{path}", self.auth[auth]))
            .json(&body);
        let (status, body) = self.call(Some(auth), request, &what).await?;
        if status != expected {
            return Err(self.fail(format!("{what}: {status} {body}, not {expected}")));
        }
        Ok(body)
    }

    async fn register(&self, on: usize, username: &str) -> Step {
        let body = json!({ "username": username, "password": PASSWORD });
        self.auth_call(on, reqwest::Method::POST, "/register", body, 201)
            .await?;
        Ok(())
    }

    async fn login(&self, on: usize, username: &str) -> Step<Session> {
        let body = json!({ "username": username, "password": PASSWORD });
        let tokens = self.auth_call(on, reqwest::Method::POST, "/login", body, 200).await?;
        Ok(Session::from_tokens(&tokens))
    }

    async fn refresh(&self, on: usize, session: &mut Session) -> Step {
        let body = json!({ "token": session.refresh });
        let tokens = self.auth_call(on, reqwest::Method::POST, "/token", body, 200).await?;
        let next = Session::from_tokens(&tokens);
        session.refresh = next.refresh;
        session.access.extend(next.access);
        Ok(())
    }

    /// `GET /posts` on every posts-server with the live `session`'s newest token: `200` from each.
    async fn read_posts(&self, session: &Session) -> Step {
        let mut outcome = Ok(());
        for (posts, base) in self.posts.iter().enumerate() {
            let request = self.http.get(format!("{base}/posts")).bearer_auth(session.access());
            let what = format!("GET /posts on {}", POSTS[posts]);
            let (status, body) = self.call(None, request, &what).await?;
            if status != 200 || !body.is_array() {
                outcome = Err(self.fail(format!("{what}: a live session's token refused: {status} {body}")));
            }
        }
        outcome
    }
}

/// One user's life: registered on one instance, logged in on both, each session refreshed and
/// read with; then logged out of one session (the other stays valid, and is logged out of in
/// turn) or of all. `live` holds the sessions not logged out.
async fn one_user(load: &Arc<Load>, turn: usize, live: &mut Vec<Session>) -> Step {
    let username = format!("fleet-{}", load.next_user.fetch_add(1, Ordering::Relaxed));
    let (x, y) = [(A, B), (B, A)][turn % 2];
    load.register(x, &username).await?;
    live.push(load.login(x, &username).await?);
    live.push(load.login(y, &username).await?);
    for session in live.iter() {
        load.read_posts(session).await?;
    }
    load.refresh(y, &mut live[0]).await?;
    load.refresh(x, &mut live[1]).await?;
    for session in live.iter() {
        load.read_posts(session).await?;
    }

    let turn = load.next_logout.fetch_add(1, Ordering::Relaxed);
    let on = [A, B][(turn / 2) % 2];
    if turn.is_multiple_of(2) {
        let ended = live.remove(0);
        logout(
            load,
            on,
            Scope::One,
            vec![ended],
            &format!("{username}'s first session"),
        )
        .await?;
        load.read_posts(&live[0]).await?;
        load.refresh(x, &mut live[0]).await?;
        load.read_posts(&live[0]).await?;
        let ended = live.remove(0);
        let of = format!("{username}'s second session");
        logout(load, [B, A][on], Scope::One, vec![ended], &of).await
    } else {
        let ended = std::mem::take(live);
        logout(load, on, Scope::Global, ended, &format!("{username}'s two sessions")).await
    }
}

/// Logs out of `sessions` (`of` says whose: one, or all of the user's with `Scope::Global`) on
/// instance `on` (or B), and measures how long each posts-server takes to refuse their tokens.
async fn logout(load: &Arc<Load>, on: usize, scope: Scope, sessions: Vec<Session>, of: &str) -> Step {
    let guard = Arc::clone(&load.phase).read_owned().await;
    let phase = *guard;
    let on = load.auth_for(on);
    let mut body = json!({ "token": sessions[0].refresh });
    if scope == Scope::Global {
        body["scope"] = json!("global");
    }
    let what = format!("{scope:?} logout of {of} on {}", ["A", "B"][on]);
    load.auth_call(on, reqwest::Method::DELETE, "/logout", body, 204)
        .await?;
    let at = Instant::now();
    {
        let mut seen = load.seen();
        seen.made[phase as usize] += 1;
        seen.ended
            .extend(sessions.iter().flat_map(|session| session.access.iter().cloned()));
    }
    let tokens: Vec<String> = sessions.iter().map(|session| session.access().to_owned()).collect();
    let measurer = tokio::spawn(measure(Arc::clone(load), what, tokens, at, phase, guard));
    load.seen().measurers.push(measurer);
    Ok(())
}

/// Presents each of `tokens` to each posts-server every [`POLL`] until it is refused, and records
/// how long after `since` the last was. While A is down, posts 1 is left to the catch-up.
async fn measure(
    load: Arc<Load>,
    what: String,
    tokens: Vec<String>,
    since: Instant,
    phase: Phase,
    guard: OwnedRwLockReadGuard<Phase>,
) {
    let measured: &[usize] = if phase == Phase::Down {
        load.seen().missed.push(Missed {
            what: what.clone(),
            tokens: tokens.clone(),
            at: since,
        });
        drop(guard);
        &[1, 2]
    } else {
        &[0, 1, 2]
    };
    let mut polls = JoinSet::new();
    for &posts in measured {
        for token in &tokens {
            let (load, token) = (Arc::clone(&load), token.clone());
            polls.spawn(async move { (posts, refused(&load, posts, &token, since, PATIENCE).await) });
        }
    }
    let mut took = [None; 3];
    for &posts in measured {
        took[posts] = Some(Duration::ZERO);
    }
    while let Some(polled) = polls.join_next().await {
        let (posts, refused_after) = polled.expect("a poll did not panic");
        took[posts] = match (took[posts], refused_after) {
            (Some(so_far), Some(after)) => Some(so_far.max(after)),
            _ => None,
        };
    }
    load.seen().logouts.push(Logout { what, phase, took });
}

/// How long after `since` posts-server `posts` first refused `token`, asked every [`POLL`];
/// `None` if it did not within `patience`, or answered anything but `200` or the `403` of an
/// ended session (recorded).
async fn refused(load: &Load, posts: usize, token: &str, since: Instant, patience: Duration) -> Option<Duration> {
    let url = format!("{}/posts", load.posts[posts]);
    let what = format!("GET /posts on {} with a logged-out token", POSTS[posts]);
    loop {
        let request = load.http.get(&url).bearer_auth(token);
        let (status, body) = load.call(None, request, &what).await.ok()?;
        match status {
            200 => {}
            403 if body["error"] == "invalid_token" && body["message"] == SESSION_ENDED => {
                return Some(since.elapsed());
            }
            _ => {
                load.fail(format!("{what}: {status} {body}"));
                return None;
            }
        }
        if since.elapsed() > patience {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A session of a user of its own that its client never logs out of: refreshed and read with
/// between the other users, through the kill, and at the end.
async fn keeper(load: &Load, on: usize) -> Step<Session> {
    let username = format!("keeper-{}", load.next_user.fetch_add(1, Ordering::Relaxed));
    load.register(on, &username).await?;
    load.login(on, &username).await
}

/// A client: one user after another until told to stop, and its [`keeper`] session between
/// them. The sessions it did not log out of (a request of it was cut, or failed) stay live.
async fn client(load: Arc<Load>, number: usize) {
    let mut keeper = keeper(&load, [A, B][number % 2]).await.ok();
    // A refresh cut by A's kill may have spent the token it presented: it is not presented again.
    let mut refreshable = true;
    let mut turn = number;
    while !load.stop.load(Ordering::SeqCst) {
        let mut live = Vec::new();
        let _ = one_user(&load, turn, &mut live).await;
        if let Some(keeper) = &mut keeper {
            if refreshable {
                refreshable = load.refresh([A, B][turn % 2], keeper).await.is_ok();
            }
            let _ = load.read_posts(keeper).await;
        }
        load.seen()
            .live
            .extend(live.iter().flat_map(|session| session.access.iter().cloned()));
        turn += 1;
    }
    load.seen()
        .live
        .extend(keeper.into_iter().flat_map(|session| session.access));
}

/// Lets the load run in `phase` for `at_least`, and until it has made [`LOGOUTS_PER_PHASE`]
/// logouts; fails after [`PHASE_SLACK`] more.
async fn run_phase(load: &Load, phase: Phase, at_least: Duration) {
    let began = Instant::now();
    tokio::time::sleep(at_least).await;
    loop {
        let made = load.seen().made[phase as usize];
        if made >= LOGOUTS_PER_PHASE {
            return;
        }
        assert!(
            began.elapsed() < at_least + PHASE_SLACK,
            "only {made} logouts made with A {phase:?} in {:?}",
            began.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until posts 1 refuses the tokens of every logout it missed while A was down, recording
/// how long after `restarted` (or the logout, if later) it did.
async fn catch_up(load: &Arc<Load>, restarted: Instant) {
    let missed = std::mem::take(&mut load.seen().missed);
    let mut polls = JoinSet::new();
    for Missed { what, tokens, at } in missed {
        let load = Arc::clone(load);
        let since = at.max(restarted);
        polls.spawn(async move {
            let mut took = Some(Duration::ZERO);
            for token in &tokens {
                took = match (took, refused(&load, 0, token, since, CATCH_UP_PATIENCE).await) {
                    (Some(so_far), Some(after)) => Some(so_far.max(after)),
                    _ => None,
                };
            }
            (what, took)
        });
    }
    while let Some(polled) = polls.join_next().await {
        let caught_up = polled.expect("a poll did not panic");
        load.seen().caught_up.push(caught_up);
    }
}

/// `p50` and `max` of `durations`, in milliseconds.
fn figures(mut durations: Vec<Duration>) -> String {
    if durations.is_empty() {
        return "none".into();
    }
    durations.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.0} ms, max {:.0} ms over {}",
        ms(durations[durations.len() / 2]),
        ms(durations[durations.len() - 1]),
        durations.len()
    )
}

/// Every one of `tokens` gets `expected` from every posts-server (`403`: the ended session's).
async fn sweep(load: &Arc<Load>, tokens: Vec<String>, expected: u16) -> Vec<String> {
    let mut checks = JoinSet::new();
    for chunk in tokens.chunks(tokens.len().div_ceil(8).max(1)) {
        let (load, chunk) = (Arc::clone(load), chunk.to_vec());
        checks.spawn(async move {
            let mut wrong = Vec::new();
            for token in &chunk {
                for (posts, base) in load.posts.iter().enumerate() {
                    let request = load.http.get(format!("{base}/posts")).bearer_auth(token);
                    let what = format!("the final GET /posts on {}", POSTS[posts]);
                    let Ok((status, body)) = load.call(None, request, &what).await else {
                        continue;
                    };
                    let right = match expected {
                        200 => status == 200,
                        _ => status == 403 && body["error"] == "invalid_token" && body["message"] == SESSION_ENDED,
                    };
                    if !right {
                        wrong.push(format!("{what}: {status} {body}, not {expected}"));
                    }
                }
            }
            wrong
        });
    }
    let mut wrong = Vec::new();
    while let Some(checked) = checks.join_next().await {
        wrong.extend(checked.expect("a check did not panic"));
    }
    wrong
}

/// Prints the figures, then checks them: no failure, every refusal in time, posts 1 caught up,
/// and enough logouts of each kind to tell.
fn verdicts(seen: &Seen, timeline: &str, ended: usize, live: usize, wrong: &[String]) {
    let count = |phase: Phase| seen.logouts.iter().filter(|logout| logout.phase == phase).count();
    println!(
        "fleet: {} requests and {} logouts in {timeline}; {} logouts while A was up, {} while it was down, \
         {} once it was back; {} requests to A cut by its kill; final sweep: {ended} ended and {live} live \
         access tokens",
        seen.requests,
        seen.logouts.len(),
        count(Phase::Up),
        count(Phase::Down),
        count(Phase::Back),
        seen.cut.len(),
    );
    for (posts, name) in POSTS.iter().enumerate() {
        let took = seen.logouts.iter().filter_map(|logout| logout.took[posts]).collect();
        let slowest = seen
            .logouts
            .iter()
            .filter_map(|logout| Some((logout.took[posts]?, logout)))
            .max_by_key(|(took, _)| *took)
            .map(|(_, logout)| format!(" (the slowest: {}, A {:?})", logout.what, logout.phase))
            .unwrap_or_default();
        println!("{name}: logout to 403: {}{slowest}", figures(took));
    }
    let caught_up_in = seen.caught_up.iter().filter_map(|(_, took)| *took).collect();
    println!(
        "posts 1 (AUTH_URL=A): the logouts made while A was down, refused after A's restart: {}",
        figures(caught_up_in)
    );

    assert!(
        seen.failures.is_empty(),
        "{} requests failed or were answered against the contract:\n{}",
        seen.failures.len(),
        seen.failures.join("\n")
    );
    assert!(wrong.is_empty(), "the final sweep:\n{}", wrong.join("\n"));
    let mut late = Vec::new();
    for logout in &seen.logouts {
        for (posts, name) in POSTS.iter().enumerate() {
            let bound = !(posts == 0 && logout.phase == Phase::Down);
            match logout.took[posts] {
                Some(took) if took <= WITHIN => {}
                Some(took) if bound => late.push(format!("{}: {name} took {took:?}", logout.what)),
                None if bound => late.push(format!("{}: {name} did not refuse within {PATIENCE:?}", logout.what)),
                _ => {}
            }
        }
    }
    assert!(late.is_empty(), "refused later than {WITHIN:?}:\n{}", late.join("\n"));
    let behind: Vec<String> = seen
        .caught_up
        .iter()
        .filter(|(_, took)| !took.is_some_and(|took| took <= CATCH_UP_WITHIN))
        .map(|(what, took)| format!("{what}: {took:?}"))
        .collect();
    assert!(
        behind.is_empty(),
        "posts 1 did not catch up within {CATCH_UP_WITHIN:?} of A's restart:\n{}",
        behind.join("\n")
    );
    assert_eq!(
        seen.caught_up.len(),
        count(Phase::Down),
        "every logout made while A was down was caught up on"
    );
    for phase in [Phase::Up, Phase::Down, Phase::Back] {
        assert!(
            count(phase) >= LOGOUTS_PER_PHASE,
            "too few logouts {phase:?} to tell: {}",
            count(phase)
        );
    }
    for scope in ["One", "Global"] {
        assert!(
            seen.logouts.iter().any(|logout| logout.what.starts_with(scope)),
            "no {scope} logout"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_follower_refuses_logged_out_tokens_within_a_second_through_an_auth_instance_kill() {
    let auth_server = auth_server();
    let database = TestDatabase::create().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        // Well under the servers' header and idle timeouts: a kept connection is never one they are closing.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");

    // A first (it migrates the database), then B; A on a port that stays free while it is down.
    let auth_dirs = [TestDir::new(), TestDir::new()];
    let a_addr = format!("127.0.0.1:{}", test_support::relay::quiet_port());
    let mut a = Some(start_auth(&auth_server, &auth_dirs[A], &database, &a_addr).await);
    let b = start_auth(&auth_server, &auth_dirs[B], &database, "127.0.0.1:0").await;
    let auth = [a.as_ref().expect("A is running").base().to_owned(), b.base().to_owned()];
    assert_eq!(auth[A], format!("http://{a_addr}"));

    let posts_dirs = [TestDir::new(), TestDir::new(), TestDir::new()];
    let posts = [
        start_posts(&posts_dirs[0], &auth[A]).await,
        start_posts(&posts_dirs[1], &auth[B]).await,
        start_posts(&posts_dirs[2], &format!("{},{}", auth[A], auth[B])).await,
    ];
    for server in &posts {
        wait_until_ready(&http, server).await;
    }

    let load = Arc::new(Load {
        http,
        auth,
        posts: posts.each_ref().map(|server| server.base().to_owned()),
        a_in_use: AtomicBool::new(true),
        a_killed: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        phase: Arc::new(RwLock::new(Phase::Up)),
        next_user: AtomicUsize::new(0),
        next_logout: AtomicUsize::new(0),
        seen: Mutex::default(),
    });
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| tokio::spawn(client(Arc::clone(&load), number)))
        .collect();

    // A is killed once no logout is in flight, nor waiting for posts 1 (which learns of logouts
    // from A alone); from then on clients use B.
    run_phase(&load, Phase::Up, BEFORE_THE_KILL).await;
    {
        let mut phase = load.phase.write().await;
        load.a_in_use.store(false, Ordering::SeqCst);
        load.a_killed.store(true, Ordering::SeqCst);
        let exit = a.take().expect("A is running").kill().await;
        assert_eq!(exit.status.signal(), Some(9), "A is killed: {}", exit.output);
        *phase = Phase::Down;
    }
    let killed = started.elapsed();

    // A again, with the same settings on the same port; posts 1 catches up on what it missed.
    run_phase(&load, Phase::Down, WHILE_DOWN).await;
    a = Some(start_auth(&auth_server, &auth_dirs[A], &database, &a_addr).await);
    let restarted = Instant::now();
    let back = started.elapsed();
    catch_up(&load, restarted).await;
    {
        let mut phase = load.phase.write().await;
        catch_up(&load, restarted).await;
        *phase = Phase::Back;
    }
    let caught_up = restarted.elapsed();

    run_phase(&load, Phase::Back, AFTER_THE_CATCH_UP).await;
    load.stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("a client did not panic");
    }
    let measurers = std::mem::take(&mut load.seen().measurers);
    for measurer in measurers {
        measurer.await.expect("a measurer did not panic");
    }
    let ran = started.elapsed();

    let ended = std::mem::take(&mut load.seen().ended);
    let live = std::mem::take(&mut load.seen().live);
    let (ended_count, live_count) = (ended.len(), live.len());
    let mut wrong = sweep(&load, ended, 403).await;
    wrong.extend(sweep(&load, live, 200).await);

    let timeline = format!(
        "{ran:.1?} (A killed at {killed:.1?}, started again at {back:.1?}, caught up with by posts 1 \
         {caught_up:.1?} later)"
    );
    verdicts(&load.seen(), &timeline, ended_count, live_count, &wrong);

    let mut servers: Vec<ServerProcess> = posts.into();
    servers.push(b);
    servers.push(a.take().expect("A is running again"));
    for server in servers {
        let exit = server.terminate().await;
        assert_eq!(exit.status.code(), Some(0), "{}", exit.output);
    }
    database.drop_database().await;
}
