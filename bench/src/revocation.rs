//! Ended sessions: how soon a logout reaches the posts-servers, and what holding many ended
//! sessions costs them.
//!
//! 1. **Logout to `403`**: one auth-server on SQLite and [`FOLLOWERS`] posts-servers following
//!    its ended-sessions feed (`AUTH_URL`). Per trial, one of [`USERS`] registered users logs
//!    in, `GET /posts` with the new access token must answer `200` on every posts-server, then
//!    `DELETE /logout` ends the session; from its `204` on, each posts-server is asked again on
//!    a connection of its own, at once and then every [`POLL`], until it answers `403`. The time
//!    from the `204` to that `403` is recorded per trial and per posts-server ([`TRIALS`]
//!    trials).
//! 2. **`GET /posts` with 100,000 ended sessions held**: an auth-server whose `session_ends`
//!    holds [`HELD`] entries (made by SQL before it starts, `until` a day ahead), and one with
//!    none; a posts-server follows each. Once the first has all of them in its set
//!    (`session_feed_ended_sessions` in its `/metrics`), `wrk` loads both in alternating
//!    rounds, as the other parts do (requests/s, and the server's CPU time per request as the
//!    stack part takes it). Their resident memory is read before the load: the
//!    difference over [`HELD`] is the set's memory per entry, roughly (the follower's own
//!    transient buffers fall in it too); `ended-set-memory` (`bench/src/bin`) gives the set's
//!    alone, in a process of its own on the servers' allocator.
//! 3. The criterion medians of verifying a token with an empty set and with [`HELD`] entries,
//!    and of the lookup alone (`crates/jwt-tokens/benches/tokens.rs`, group
//!    `access_token_ended`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::http::{self, Conn};
use crate::process::Server;
use crate::report::{self, Report, Target};
use crate::stack::{self, Loaded};
use crate::{Bench, Result, seed, sign_in, write_posts};

/// The markers of this part's own table in `bench/README.md`.
pub const BEGIN: &str =
    "<!-- revocation:begin (written by bench/run, or BENCH_ONLY=revocation; edits here are overwritten) -->";
pub const END: &str = "<!-- revocation:end -->";

/// Logouts timed.
const TRIALS: usize = 200;
/// posts-servers following the one auth-server.
const FOLLOWERS: usize = 3;
/// Registered users the trials log in as, in turn.
const USERS: usize = 4;
/// How often a posts-server is asked again after the logout.
const POLL: Duration = Duration::from_millis(2);
/// A posts-server that still accepts the token this long after the logout fails the trial.
const GIVE_UP: Duration = Duration::from_secs(10);
/// From the logout's `204` to the `403`, at the 99th percentile, at most (ms).
const TARGET_LATENCY_MS: f64 = 1000.0;

/// The ended sessions held in the second measurement.
pub const HELD: u64 = 100_000;
/// `GET /posts` holding [`HELD`] ended sessions reaches at least this share of the
/// requests/s with none.
const TARGET_RATIO: f64 = 0.95;

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    eprintln!("bench:   logout to 403 on {FOLLOWERS} posts-servers, {TRIALS} trials");
    latency(bench, report).await?;
    eprintln!("bench:   GET /posts holding {HELD} ended sessions against none");
    held(bench, report).await?;
    lookup(report)?;
    Ok(())
}

/// A posts-server following `auth`'s ended-sessions feed.
async fn follower(bench: &Bench, name: &str, auth: &Server) -> Result<Server> {
    let auth_url = format!("http://{}", auth.addr);
    bench
        .posts_with(
            name,
            &bench.sqlite_url(name),
            &[("POSTS_ADDR", "127.0.0.1:0"), ("AUTH_URL", &auth_url)],
        )
        .await
}

fn credentials(username: &str) -> String {
    format!("{{\"username\":\"{username}\",\"password\":\"a bench password\"}}")
}

async fn latency(bench: &Bench, report: &mut Report) -> Result<()> {
    let auth = bench
        .auth("auth-revocation", &bench.sqlite_url("revocation-auth"))
        .await?;
    let mut followers = Vec::new();
    for i in 1..=FOLLOWERS {
        followers.push(follower(bench, &format!("posts-follower-{i}"), &auth).await?);
    }
    let usernames: Vec<String> = (1..=USERS).map(|i| format!("bench-logout-{i}")).collect();
    let mut auth_conn = Conn::open(auth.addr).await?;
    for username in &usernames {
        let registered = auth_conn
            .send(&http::request("POST", "/register", None, Some(&credentials(username))))
            .await?;
        if registered.status != 201 {
            return Err(format!("register: {} {}", registered.status, registered.body).into());
        }
    }
    let mut conns = Vec::new();
    for posts in &followers {
        conns.push(Conn::open(posts.addr).await?);
    }
    // Per posts-server, per trial.
    let mut took: Vec<Vec<Refusal>> = (0..FOLLOWERS).map(|_| Vec::with_capacity(TRIALS)).collect();
    for trial in 0..TRIALS {
        let login = http::request("POST", "/login", None, Some(&credentials(&usernames[trial % USERS])));
        let login = auth_conn.send(&login).await?;
        let (Some(access), Some(refresh)) = (
            http::field(&login.body, "accessToken"),
            http::field(&login.body, "refreshToken"),
        ) else {
            return Err(format!("login: {} {}", login.status, login.body).into());
        };
        let list = http::request("GET", "/posts", Some(access), None);
        for (conn, posts) in conns.iter_mut().zip(&followers) {
            let answer = conn.send(&list).await?;
            if answer.status != 200 {
                return Err(format!(
                    "{}: GET /posts before the logout: {} {}",
                    posts.name, answer.status, answer.body
                )
                .into());
            }
        }
        let logout = http::request("DELETE", "/logout", None, Some(&format!("{{\"token\":\"{refresh}\"}}")));
        let logout = auth_conn.send(&logout).await?;
        let ended = Instant::now();
        if logout.status != 204 {
            return Err(format!("logout: {} {}", logout.status, logout.body).into());
        }
        let polls: Vec<_> = conns
            .drain(..)
            .map(|conn| tokio::spawn(until_refused(conn, list.clone(), ended)))
            .collect();
        for (i, poll) in polls.into_iter().enumerate() {
            let (conn, refused) = poll.await??;
            if refused.took.is_none() {
                eprintln!(
                    "bench:   {}: trial {trial}: still 200 after {GIVE_UP:?}",
                    followers[i].name
                );
            }
            took[i].push(refused);
            conns.push(conn);
        }
    }
    let group = format!("Logout to `403`: one auth-server (SQLite), {FOLLOWERS} posts-servers following it");
    for (posts, took) in followers.iter().zip(&took) {
        report.row(
            &group,
            &format!(
                "{}: from the `204` of `DELETE /logout` to its first `403` ({TRIALS} trials; asked at once, \
                 then every {} ms)",
                posts.name,
                POLL.as_millis()
            ),
            spread(took),
            latency_target(took),
        );
    }
    // Per trial, the last of the three: when every posts-server refuses the token.
    let last: Vec<Refusal> = (0..TRIALS)
        .map(|t| Refusal {
            took: took
                .iter()
                .map(|per| per[t].took)
                .try_fold(Duration::ZERO, |a, b| Some(a.max(b?))),
            asked: took.iter().map(|per| per[t].asked).max().unwrap_or_default(),
        })
        .collect();
    report.row(
        &group,
        &format!("all {FOLLOWERS}: from the `204` to the last of the three `403`s of the trial"),
        spread(&last),
        latency_target(&last),
    );
    for posts in followers {
        posts.stop().await?;
    }
    auth.stop().await?;
    Ok(())
}

/// One posts-server in one trial.
#[derive(Clone, Copy)]
struct Refusal {
    /// From the logout's `204` to the `403`; `None`: still `200` after [`GIVE_UP`].
    took: Option<Duration>,
    /// The requests it took, the `403` included.
    asked: u32,
}

/// Asks on `conn` at once, then every [`POLL`], until a `403`, or [`GIVE_UP`]. (The first
/// request goes out without a timer: tokio's timers round up to the next millisecond.)
async fn until_refused(mut conn: Conn, request: Vec<u8>, ended: Instant) -> Result<(Conn, Refusal)> {
    let mut asked = 0;
    loop {
        let sent = tokio::time::Instant::now();
        let answer = conn.send(&request).await?;
        asked += 1;
        let took = match answer.status {
            403 if answer.body.contains("ended") => Some(ended.elapsed()),
            200 if ended.elapsed() < GIVE_UP => {
                tokio::time::sleep_until(sent + POLL).await;
                continue;
            }
            200 => None,
            _ => return Err(format!("GET /posts after the logout: {} {}", answer.status, answer.body).into()),
        };
        return Ok((conn, Refusal { took, asked }));
    }
}

/// The nearest-rank `q` quantile of `took`, a trial without a `403` counted as [`GIVE_UP`].
fn quantile(took: &[Refusal], q: f64) -> f64 {
    let mut all: Vec<Duration> = took.iter().map(|t| t.took.unwrap_or(GIVE_UP)).collect();
    crate::load::quantile_ms(&mut all, q)
}

/// `p50 …, p99 …, max …`, how many trials the first request (sent at once after the `204`)
/// was refused in, and the trials without a `403`, if any.
fn spread(took: &[Refusal]) -> String {
    let mut text = format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the request sent at once refused in {} of {}",
        quantile(took, 0.5),
        quantile(took, 0.99),
        quantile(took, 1.0),
        took.iter().filter(|t| t.asked == 1).count(),
        took.len()
    );
    let missing = took.iter().filter(|t| t.took.is_none()).count();
    if missing > 0 {
        text.push_str(&format!("; **{missing} still `200` after {} s**", GIVE_UP.as_secs()));
    }
    text
}

fn latency_target(took: &[Refusal]) -> Target {
    Target::at_most(quantile(took, 0.99), TARGET_LATENCY_MS, "1 s at p99")
}

/// `session_feed_ended_sessions` in `posts`' `/metrics` (0 if it is not there yet).
async fn ended_sessions(posts: SocketAddr) -> Result<f64> {
    let metrics = http::once(posts, &http::request("GET", "/metrics", None, None)).await?;
    if metrics.status != 200 {
        return Err(format!("GET /metrics: {}", metrics.status).into());
    }
    Ok(metrics
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("session_feed_ended_sessions"))
        .filter(|rest| rest.starts_with([' ', '{']))
        .find_map(|rest| rest.rsplit(' ').next()?.trim().parse().ok())
        .unwrap_or(0.0))
}

/// Waits until `posts` holds at least `at_least` ended sessions; how long that took.
async fn wait_for_set(posts: &Server, at_least: u64) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let held = ended_sessions(posts.addr).await?;
        if held >= at_least as f64 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("{}: {held} ended sessions after 120 s, not {at_least}", posts.name).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn held(bench: &Bench, report: &mut Report) -> Result<()> {
    let none_auth = bench
        .auth("auth-none-ended", &bench.sqlite_url("ended-none-auth"))
        .await?;
    let held_url = bench.sqlite_url("ended-held-auth");
    // A first start makes the schema with the server's own migrations.
    bench.auth("auth-held-ended", &held_url).await?.stop().await?;
    let seeding = Instant::now();
    seed::ended_sessions(&held_url, HELD).await?;
    eprintln!(
        "bench:   seeded {HELD} ended sessions in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let held_auth = bench.auth("auth-held-ended", &held_url).await?;
    let username = "bench-reader";
    let (none_access, _) = sign_in(none_auth.addr, username).await?;
    let (held_access, _) = sign_in(held_auth.addr, username).await?;
    let none = follower(bench, "posts-none-ended", &none_auth).await?;
    let held = follower(bench, "posts-held-ended", &held_auth).await?;
    let caught_up = held.ready + wait_for_set(&held, HELD).await?;
    let none_held = ended_sessions(none.addr).await?;
    if none_held != 0.0 {
        return Err(format!("{} holds {none_held} ended sessions, not none", none.name).into());
    }
    write_posts(none.addr, &none_access).await?;
    write_posts(held.addr, &held_access).await?;
    // Both have done the same work since they started but for the set: what is resident now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (none_rss, held_rss) = (none.rss_mib()?, held.rss_mib()?);

    let mut targets = [(Loaded::new(none), none_access), (Loaded::new(held), held_access)];
    stack::interleave_with_bearer(bench, &mut targets).await?;
    let [(none, _), (held, _)] = targets;
    let still = ended_sessions(held.server.addr).await?;
    if still < HELD as f64 {
        return Err(format!(
            "{} held {still} ended sessions after the load, not {HELD}",
            held.server.name
        )
        .into());
    }
    let ratio = stack::ratio(&held, &none);
    let per_round: Vec<f64> = held
        .rounds
        .iter()
        .zip(&none.rounds)
        .map(|(h, n)| h.requests_per_sec / n.requests_per_sec)
        .collect();
    let low = per_round.iter().copied().fold(f64::INFINITY, f64::min);
    let high = per_round.iter().copied().fold(0.0, f64::max);
    let group = "`GET /posts` holding 100,000 ended sessions (SQLite)";
    report.row(
        group,
        "no ended session held: valid token, 20 posts",
        report::throughput(&none.figures()),
        Target::none(),
    );
    report.row(
        group,
        "100,000 ended sessions held (none of them the token's)",
        report::throughput(&held.figures()),
        Target::none(),
    );
    report.row(
        group,
        "100,000 ÷ none, requests/s (per round, median; the lowest and highest round)",
        format!("{ratio:.2} ({low:.2}–{high:.2})"),
        Target::at_least(ratio, TARGET_RATIO, &format!("≥ {TARGET_RATIO}")),
    );
    let (from_throughput, from_cpu) = stack::cost(&held, &none);
    report.row(
        group,
        "posts-server CPU time per request (all threads, user and system), none → 100,000 held",
        format!(
            "{:.1} µs → {:.1} µs; per round, median: {from_cpu:+.2} µs (from throughput: {from_throughput:+.2} µs)",
            none.cpu(),
            held.cpu()
        ),
        Target::none(),
    );
    report.row(
        group,
        "posts-server: spawn to all 100,000 held (`/readyz` 200, then `session_feed_ended_sessions`)",
        format!(
            "{:.0} ms (`/readyz` at {:.0} ms)",
            caught_up.as_secs_f64() * 1000.0,
            held.server.ready.as_secs_f64() * 1000.0
        ),
        Target::none(),
    );
    report.row(
        group,
        "posts-server resident before the load: none → 100,000 held; difference ÷ 100,000 (approximate)",
        format!(
            "{none_rss:.1} MiB → {held_rss:.1} MiB; {:.0} bytes per entry",
            (held_rss - none_rss) * 1024.0 * 1024.0 / HELD as f64
        ),
        Target::none(),
    );
    let (grown, held_bytes) = set_bytes_per_entry().await?;
    report.row(
        group,
        "the set alone (`ended-set-memory`: 100,000 uuids, mimalloc): resident growth per entry",
        format!(
            "{grown:.0} bytes as it grows (the tables it outgrew kept by the allocator); \
             {held_bytes:.0} bytes for a second set beside it (those reused: what it holds)"
        ),
        Target::none(),
    );
    none.server.stop().await?;
    held.server.stop().await?;
    none_auth.stop().await?;
    held_auth.stop().await?;
    Ok(())
}

/// What `ended-set-memory` prints: the set's resident bytes per entry, first set and second
/// set, the medians of three processes.
async fn set_bytes_per_entry() -> Result<(f64, f64)> {
    let binary = crate::process::binary("ended-set-memory")?;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let output = tokio::process::Command::new(&binary)
            .arg(HELD.to_string())
            .output()
            .await?;
        let printed = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "ended-set-memory failed: {printed}{}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let figure = |label: &str| -> Result<f64> {
            Ok(printed
                .lines()
                .find_map(|line| line.strip_prefix(label))
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| format!("ended-set-memory printed: {printed}"))?)
        };
        first.push(figure("first set, bytes per entry:")?);
        second.push(figure("second set, bytes per entry:")?);
    }
    Ok((crate::median(first), crate::median(second)))
}

/// The criterion medians of verifying with an empty set and with [`HELD`] entries, and their
/// difference.
fn lookup(report: &mut Report) -> Result<()> {
    let group = "The ended-session lookup on every verify (criterion, `crates/jwt-tokens/benches/tokens.rs`)";
    let empty = report::criterion_median("access_token_ended", "verify_empty")?;
    let full = report::criterion_median("access_token_ended", "verify_held_100k")?;
    report.row(
        group,
        "verify a valid HS256 token, no ended session held, median",
        empty.describe_ns(),
        Target::none(),
    );
    report.row(
        group,
        "verify a valid HS256 token, 100,000 ended sessions held, median",
        full.describe_ns(),
        Target::none(),
    );
    report.row(
        group,
        "the lookup's cost: 100,000 held − none",
        format!("{:+.0} ns", full.point_ns - empty.point_ns),
        Target::none(),
    );
    let alone = report::criterion_median("access_token_ended", "lookup_100k")?;
    report.row(
        group,
        "the lookup alone (`ended().contains`, a session not held), 100,000 held, median",
        alone.describe_ns(),
        Target::none(),
    );
    report.row(
        group,
        "refuse a token of an ended session (`SessionEnded`), 100,000 held, median",
        report::criterion_median("access_token_ended", "verify_ended_100k")?.describe_ns(),
        Target::none(),
    );
    Ok(())
}
