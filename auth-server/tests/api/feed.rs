//! `GET /sessions/ended`: the ended-session feed posts-servers follow. Every way a session ends
//! is listed, with the session's `sid` and how long its access tokens may live (`until`), and
//! nothing about its user; a cursor pages through it; a request may wait for the next entry.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;
use test_support::jose;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::binary::AUTH_SERVER;
use crate::helpers::{
    Backend, PASSWORD, TestApp, TestData, Tokens, assert_error, assert_refused, sorted_keys as keys, spawn_app,
    spawn_app_on, spawn_app_with, test_data,
};

/// How soon a waiting request must be answered once a session ends.
pub(crate) const WAKE: Duration = Duration::from_secs(1);

/// A `200` answer of the feed.
#[derive(Debug)]
pub(crate) struct Page {
    log: String,
    pub(crate) cursor: i64,
    /// `(sid, until)`, in the order given.
    ended: Vec<(String, i64)>,
    more: bool,
    /// The body as sent.
    pub(crate) raw: String,
}

impl Page {
    pub(crate) fn sids(&self) -> Vec<&str> {
        self.ended.iter().map(|(sid, _)| sid.as_str()).collect()
    }
}

/// Reads a `200` of the feed, checking its shape: `no-store`, JSON, exactly
/// `{"log","cursor","ended":[{"sid","until"}],"more"}`.
async fn read_page(response: Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response.text().await.expect("a body");
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "Cache-Control of the feed"
    );
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body: Value = serde_json::from_str(&raw).expect("a JSON body");
    assert_eq!(keys(&body), ["cursor", "ended", "log", "more"], "{raw}");
    let log = body["log"].as_str().expect("`log` is a string").to_owned();
    assert!(!log.is_empty(), "{raw}");
    let cursor = body["cursor"].as_i64().expect("`cursor` is an integer");
    assert!(cursor >= 0, "{raw}");
    let more = body["more"].as_bool().expect("`more` is a boolean");
    let ended = body["ended"]
        .as_array()
        .expect("`ended` is an array")
        .iter()
        .map(|entry| {
            assert_eq!(keys(entry), ["sid", "until"], "only the sid and its end: {entry}");
            (
                entry["sid"].as_str().expect("`sid` is a string").to_owned(),
                entry["until"].as_i64().expect("`until` is an integer"),
            )
        })
        .collect();
    Page {
        log,
        cursor,
        ended,
        more,
        raw,
    }
}

fn feed_path(query: &str) -> String {
    format!("/sessions/ended?{query}")
}

/// `GET /sessions/ended?{query}`, which must answer `200`.
async fn page(app: &TestApp, query: &str) -> Page {
    read_page(app.get(&feed_path(query)).await).await
}

/// The same, sent from a task of its own (a request that may wait), with how long it took.
pub(crate) fn waiting(app: &TestApp, query: &str) -> JoinHandle<(Page, Duration)> {
    let request = app.client.get(app.url(&feed_path(query)));
    tokio::spawn(async move {
        let sent = Instant::now();
        let response = request.send().await.expect("GET /sessions/ended");
        let page = read_page(response).await;
        (page, sent.elapsed())
    })
}

/// The cursor of the newest entry now: where a follower that is up to date asks from.
pub(crate) async fn cursor_now(app: &TestApp) -> i64 {
    let mut cursor = 0;
    loop {
        let page = page(app, &format!("after={cursor}")).await;
        cursor = page.cursor;
        if !page.more {
            return cursor;
        }
    }
}

/// Every entry the feed lists, following `more` from the beginning.
async fn everything(app: &TestApp) -> Vec<(String, i64)> {
    let mut cursor = 0;
    let mut entries = Vec::new();
    loop {
        let page = page(app, &format!("after={cursor}")).await;
        entries.extend(page.ended);
        cursor = page.cursor;
        if !page.more {
            return entries;
        }
    }
}

/// The claims of a JWT, decoded without verifying it (as any client can).
fn claims(token: &str) -> Value {
    let [_, payload, _] = jose::parts(token);
    serde_json::from_slice(&jose::b64url_decode(&payload)).expect("JSON claims")
}

/// A session as its newest tokens tell it.
#[derive(Debug)]
pub(crate) struct Session {
    /// The `sid` of its access tokens.
    pub(crate) sid: String,
    /// The `exp` of its newest access token.
    access_exp: i64,
    /// When it would have ended: its refresh tokens' `exp`.
    end: i64,
}

pub(crate) fn session(tokens: &Tokens) -> Session {
    let access = claims(&tokens.access);
    let refresh = claims(&tokens.refresh);
    let sid = access["sid"].as_str().expect("a sid claim").to_owned();
    assert_eq!(refresh["sid"], sid.as_str(), "one session");
    Session {
        sid,
        access_exp: access["exp"].as_i64().expect("an exp claim"),
        end: refresh["exp"].as_i64().expect("an exp claim"),
    }
}

/// `session` is listed exactly once in `entries`, until no later than its end and no sooner
/// than its newest access token's expiry.
fn assert_listed(entries: &[(String, i64)], session: &Session) {
    let found: Vec<i64> = entries
        .iter()
        .filter(|(sid, _)| *sid == session.sid)
        .map(|(_, until)| *until)
        .collect();
    assert_eq!(found.len(), 1, "{session:?} listed once: {entries:?}");
    let until = found[0];
    assert!(
        until >= session.access_exp,
        "until {until} before its access token's exp: {session:?}"
    );
    assert!(
        until <= session.end,
        "until {until} after the session's end: {session:?}"
    );
}

fn assert_not_listed(entries: &[(String, i64)], session: &Session) {
    assert!(
        entries.iter().all(|(sid, _)| *sid != session.sid),
        "{session:?} did not end, yet is listed: {entries:?}"
    );
}

/// Runs the operators' command line (`auth-server ARGS`) on `data`'s database, in a process of
/// its own beside the test's server; it must succeed. Returns its stdout.
async fn operator(data: &TestData, args: &[&str]) -> String {
    let mut command = AUTH_SERVER.command(data.dir().path());
    command.env("AUTH_DATABASE_URL", data.database_url()).args(args);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command ends in time")
        .expect("run auth-server");
    assert!(output.status.success(), "auth-server {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 stdout")
}

/// Unix seconds now.
fn now_s() -> i64 {
    jwt_tokens::now_unix_ms() / 1000
}

/// Writes `count` live sessions of `user` straight into the database (a login hashes a
/// password): ids `{prefix}-1` … `{prefix}-{count}`, each with the current refresh token id
/// `{id}-jti`, ending at `expires_at`, their access tokens at `access_until` (Unix seconds).
async fn insert_sessions(data: &TestData, user: &str, prefix: &str, count: usize, expires_at: i64, access_until: i64) {
    let now_ms = jwt_tokens::now_unix_ms();
    data.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO sessions (id, user_id, current_jti, created_at, expires_at, access_until) \
         SELECT '{prefix}-' || i, '{user}', '{prefix}-' || i || '-jti', {now_ms}, {expires_at}, {access_until} FROM n"
    ))
    .await;
}

/// Ends every live session of `user` in one statement, in the database itself, as a logout
/// would: the database's own triggers write the log.
async fn end_sessions(data: &TestData, user: &str) {
    data.execute(&format!(
        "UPDATE sessions SET revoked_at = {}, end_reason = 'logout' WHERE user_id = '{user}' AND revoked_at IS NULL",
        jwt_tokens::now_unix_ms()
    ))
    .await;
}

// Every way a session ends.

#[tokio::test]
async fn a_logout_lists_the_session_and_no_session_that_goes_on() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.logged_in("alice", PASSWORD).await;
    let (_, bobs) = app.user_with_session("bob").await;
    assert!(everything(&app).await.is_empty(), "nothing ended yet");

    assert_eq!(app.logout(&first.refresh, None).await.status(), 204);

    let entries = everything(&app).await;
    assert_listed(&entries, &session(&first));
    assert_not_listed(&entries, &session(&second));
    assert_not_listed(&entries, &session(&bobs));
    assert_eq!(entries.len(), 1, "{entries:?}");
}

#[tokio::test]
async fn until_covers_the_newest_access_token_of_the_session() {
    let mut app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    // A rotation by an instance whose clock runs 2 minutes ahead: its access token lives longer
    // than the login's.
    app.config.clock = auth_server::clock::Clock::skewed(120_000);
    app.restart().await;
    let rotated = app.refreshed(&login.refresh).await;
    let (first, newest) = (session(&login), session(&rotated));
    assert!(newest.access_exp >= first.access_exp + 100, "{first:?} {newest:?}");

    assert_eq!(app.logout(&rotated.refresh, None).await.status(), 204);

    assert_listed(&everything(&app).await, &newest);
}

#[tokio::test]
async fn until_is_no_later_than_the_sessions_end() {
    // Sessions of 20 minutes, access tokens of 15: an access token issued in the session's last
    // 15 minutes is cut short to its end.
    let app = spawn_app_with(|config| config.refresh_token_ttl = Duration::from_secs(20 * 60)).await;
    let (_, login) = app.user_with_session("alice").await;
    let (_, bobs) = app.user_with_session("bob").await;
    app.age_sessions(Duration::from_secs(10 * 60)).await;
    let rotated = app.refreshed(&login.refresh).await;
    let last = session(&rotated);
    assert_eq!(last.access_exp, last.end, "an access token cut short: {last:?}");

    assert_eq!(app.logout(&rotated.refresh, None).await.status(), 204);

    let entries = everything(&app).await;
    assert_listed(&entries, &last);
    assert_not_listed(&entries, &session(&bobs));
}

#[tokio::test]
async fn a_global_logout_lists_every_session_of_the_user_and_no_other() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.refreshed(&app.logged_in("alice", PASSWORD).await.refresh).await;
    let (_, bobs) = app.user_with_session("bob").await;

    assert_eq!(app.logout(&first.refresh, Some("global")).await.status(), 204);

    let entries = everything(&app).await;
    assert_listed(&entries, &session(&first));
    assert_listed(&entries, &session(&second));
    assert_not_listed(&entries, &session(&bobs));
    assert_eq!(entries.len(), 2, "{entries:?}");
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_lists_its_session() {
    let app = spawn_app_with(|config| config.refresh_reuse_grace = Duration::ZERO).await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;
    let (_, bobs) = app.user_with_session("bob").await;

    // Theft: the spent token comes back after the grace period (none).
    assert_refused(app.refresh(&login.refresh).await).await;
    assert_refused(app.refresh(&next.refresh).await).await;

    let entries = everything(&app).await;
    assert_listed(&entries, &session(&next));
    assert_not_listed(&entries, &session(&bobs));
    assert_eq!(entries.len(), 1, "{entries:?}");
}

#[tokio::test]
async fn revoking_a_users_sessions_on_the_command_line_lists_them() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.logged_in("alice", PASSWORD).await;
    let (_, bobs) = app.user_with_session("bob").await;

    assert_eq!(operator(&app.data, &["user", "revoke-sessions", "alice"]).await, "2\n");

    let entries = everything(&app).await;
    assert_listed(&entries, &session(&first));
    assert_listed(&entries, &session(&second));
    assert_not_listed(&entries, &session(&bobs));
    assert_eq!(entries.len(), 2, "{entries:?}");
}

#[tokio::test]
async fn deleting_a_user_on_the_command_line_lists_their_live_sessions() {
    let app = spawn_app().await;
    let (_, ended) = app.user_with_session("alice").await;
    let live = app.logged_in("alice", PASSWORD).await;
    let (_, bobs) = app.user_with_session("bob").await;
    assert_eq!(app.logout(&ended.refresh, None).await.status(), 204);

    operator(&app.data, &["user", "delete", "alice"]).await;

    let entries = everything(&app).await;
    // The session that had ended already is listed once, for its logout.
    assert_listed(&entries, &session(&ended));
    assert_listed(&entries, &session(&live));
    assert_not_listed(&entries, &session(&bobs));
    assert_eq!(entries.len(), 2, "{entries:?}");
}

// The page.

#[tokio::test]
async fn the_feed_pages_from_a_cursor_oldest_first() {
    let app = spawn_app().await;
    let empty = page(&app, "").await;
    assert!(empty.ended.is_empty() && !empty.more, "{}", empty.raw);
    let log = empty.log.clone();
    let (_, one) = app.user_with_session("alice").await;
    let two = app.logged_in("alice", PASSWORD).await;
    let three = app.logged_in("alice", PASSWORD).await;
    let [one, two, three] = [&one, &two, &three].map(|tokens| (session(tokens), tokens.refresh.clone()));

    assert_eq!(app.logout(&one.1, None).await.status(), 204);
    let first = page(&app, &format!("after={}", empty.cursor)).await;
    assert_eq!(first.sids(), [one.0.sid.as_str()], "{}", first.raw);
    assert!(first.cursor > empty.cursor, "the cursor moves: {}", first.raw);
    assert_eq!(first.log, log, "one log");

    for (_, refresh) in [&two, &three] {
        assert_eq!(app.logout(refresh, None).await.status(), 204);
    }
    let newer = page(&app, &format!("after={}", first.cursor)).await;
    assert_eq!(
        newer.sids(),
        [two.0.sid.as_str(), three.0.sid.as_str()],
        "{}",
        newer.raw
    );
    assert!(newer.cursor > first.cursor, "{}", newer.raw);
    assert!(!newer.more, "{}", newer.raw);

    // Up to date: nothing, and the cursor stays.
    let none = page(&app, &format!("after={}", newer.cursor)).await;
    assert!(none.ended.is_empty(), "{}", none.raw);
    assert_eq!(none.cursor, newer.cursor);
    // The default is the beginning.
    let all = [one.0.sid.as_str(), two.0.sid.as_str(), three.0.sid.as_str()];
    assert_eq!(page(&app, "").await.sids(), all);
    assert_eq!(page(&app, "after=0").await.sids(), all);
    // The same log: the cursor counts.
    let same = page(&app, &format!("after={}&log={log}", first.cursor)).await;
    assert_eq!(same.sids(), [two.0.sid.as_str(), three.0.sid.as_str()], "{}", same.raw);
    // Another log (the database was replaced): from the beginning, whatever the cursor.
    let other = if log.starts_with('0') { "1" } else { "0" }.repeat(32);
    let replaced = page(&app, &format!("after={}&log={other}", newer.cursor)).await;
    assert_eq!(replaced.sids(), all, "{}", replaced.raw);
    assert_eq!(replaced.log, log);
    assert_eq!(replaced.cursor, newer.cursor);
    for session in [&one.0, &two.0, &three.0] {
        assert_listed(&replaced.ended, session);
    }
}

#[tokio::test]
async fn more_than_1000_entries_are_served_in_pages_of_1000() {
    const SESSIONS: usize = 1500;
    let app = spawn_app().await;
    let user = app.registered("alice", PASSWORD).await;
    // Sessions written straight into the database (a login hashes a password), then ended
    // together: the database's own triggers write the log.
    let now = now_s();
    insert_sessions(&app.data, &user, "bulk", SESSIONS, now + 3600, now + 900).await;
    end_sessions(&app.data, &user).await;
    let (_, login) = app.user_with_session("bob").await;
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);

    let first = page(&app, "after=0").await;
    assert_eq!(first.ended.len(), 1000, "a full page");
    assert!(first.more, "more to come");
    let second = page(&app, &format!("after={}", first.cursor)).await;
    assert!(second.cursor > first.cursor);
    assert_eq!(second.ended.len(), SESSIONS + 1 - 1000, "the rest");
    assert!(!second.more, "{}", second.raw);

    let sids: Vec<&str> = first.sids().into_iter().chain(second.sids()).collect();
    let unique: HashSet<&str> = sids.iter().copied().collect();
    assert_eq!(unique.len(), sids.len(), "no entry twice");
    for n in 1..=SESSIONS {
        assert!(unique.contains(format!("bulk-{n}").as_str()), "bulk-{n} is missing");
    }
    // The logout after them comes last.
    assert_eq!(sids.last().copied(), Some(session(&login).sid.as_str()));
    assert!(page(&app, &format!("after={}", second.cursor)).await.ended.is_empty());
}

#[tokio::test]
async fn the_feed_names_no_user() {
    let username = "Feed.Private_User-7";
    let app = spawn_app().await;
    let (id, login) = app.user_with_session(username).await;
    let second = app.logged_in(username, PASSWORD).await;
    let third = app.logged_in(username, PASSWORD).await;
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);
    app.refreshed(&second.refresh).await;
    assert_refused(app.refresh(&second.refresh).await).await;
    assert_eq!(app.logout(&third.refresh, Some("global")).await.status(), 204);
    app.logged_in(username, PASSWORD).await;
    operator(&app.data, &["user", "delete", username]).await;

    // Logout, reuse, global logout, deletion.
    let page = page(&app, "").await;
    assert_eq!(page.ended.len(), 4, "{}", page.raw);
    let raw = page.raw.to_lowercase();
    for secret in [username, id.as_str(), "logout", "reuse"] {
        assert!(!raw.contains(&secret.to_lowercase()), "{secret:?} in {}", page.raw);
    }
}

// Waiting.

#[tokio::test]
async fn a_waiting_request_is_answered_as_soon_as_a_session_ends() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    let cursor = cursor_now(&app).await;

    let waiter = waiting(&app, &format!("after={cursor}&wait=5"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished(), "answered with nothing new");
    let ended = Instant::now();
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);
    let (page, _) = waiter.await.expect("the request task did not panic");

    let woken = ended.elapsed();
    assert!(woken < WAKE, "answered {woken:?} after the logout");
    assert_listed(&page.ended, &session(&login));
    assert!(page.cursor > cursor, "{}", page.raw);
    // Something newer than `after` already: no waiting at all.
    let (again, took) = waiting(&app, &format!("after={cursor}&wait=5"))
        .await
        .expect("the request task did not panic");
    assert!(took < WAKE, "{took:?}");
    assert_eq!(again.sids(), page.sids());
}

#[tokio::test]
async fn a_waiting_request_with_nothing_new_is_answered_empty_after_wait() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);
    let cursor = cursor_now(&app).await;

    let (page, took) = waiting(&app, &format!("after={cursor}&wait=1"))
        .await
        .expect("the request task did not panic");
    assert!(page.ended.is_empty(), "{}", page.raw);
    assert_eq!(page.cursor, cursor);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "wait=1 answered after {took:?}"
    );
    let (_, took) = waiting(&app, &format!("after={cursor}&wait=0"))
        .await
        .expect("the request task did not panic");
    assert!(took < Duration::from_millis(900), "wait=0 answered after {took:?}");
}

/// `wait` may be up to 30 s, but a waiting request is answered before the connection's idle
/// timeout (`HTTP_IDLE_TIMEOUT`, which counts a waiting request's time) and the request
/// timeout (30 s) could end it: `200` with no entries, 25 s at most, and 2 s before the idle
/// timeout when that is shorter; never cut off, never `408`.
#[tokio::test]
async fn the_longest_wait_with_nothing_new_is_answered_200_empty_before_the_idle_timeout() {
    let app = spawn_app_with(|config| config.server.http.http_idle_timeout = Duration::from_secs(4)).await;
    let cursor = cursor_now(&app).await;

    let sent = Instant::now();
    let response = app
        .client
        .get(app.url(&feed_path(&format!("after={cursor}&wait=30"))))
        .send()
        .await
        .unwrap_or_else(|err| panic!("wait=30: no answer at all after {:?}: {err}", sent.elapsed()));
    let took = sent.elapsed();
    let page = read_page(response).await;

    assert!(page.ended.is_empty(), "{}", page.raw);
    assert_eq!(page.cursor, cursor);
    assert!(
        (Duration::from_millis(1_900)..Duration::from_millis(3_500)).contains(&took),
        "answered after {took:?}, not 2 s before the 4 s idle timeout"
    );
}

/// A stop does not wait for the waiting requests (every follower keeps one): they are answered
/// at once, with nothing new, and the server stops.
#[tokio::test]
async fn a_stopping_server_answers_its_waiting_requests_at_once() {
    let mut app = spawn_app().await;
    let cursor = cursor_now(&app).await;
    let waiter = waiting(&app, &format!("after={cursor}&wait=20"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "answered with nothing new");

    let stopping = Instant::now();
    app.stop().await;
    let stopped = stopping.elapsed();
    let (page, took) = waiter.await.expect("the request task did not panic");

    assert!(page.ended.is_empty(), "{}", page.raw);
    assert_eq!(page.cursor, cursor);
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert!(stopped < Duration::from_secs(5), "the stop took {stopped:?}");
}

#[tokio::test]
async fn beyond_the_waiting_limit_a_waiting_request_is_refused_with_retry_after() {
    let app = spawn_app_with(|config| config.session_feed_max_waiting = 1).await;
    let cursor = cursor_now(&app).await;
    let first = waiting(&app, &format!("after={cursor}&wait=3"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!first.is_finished(), "the first one waits");

    let refused = app.get(&feed_path(&format!("after={cursor}&wait=1"))).await;
    let retry_after = refused.headers().get("retry-after").map(|v| v.as_bytes().to_vec());
    assert_error(refused, 503, "unavailable").await;
    assert_eq!(retry_after.as_deref(), Some(&b"1"[..]), "Retry-After: 1");
    // Who does not wait is served.
    let now = page(&app, &format!("after={cursor}&wait=0")).await;
    assert!(now.ended.is_empty());
    assert_eq!(page(&app, "").await.cursor, cursor);

    let (page, took) = first.await.expect("the request task did not panic");
    assert!(page.ended.is_empty(), "{}", page.raw);
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    // Its place is free again.
    let (_, took) = waiting(&app, &format!("after={cursor}&wait=1"))
        .await
        .expect("a waiting request is served again");
    assert!(took >= Duration::from_millis(900), "it waited: {took:?}");
}

#[tokio::test]
async fn entries_that_no_longer_matter_are_not_listed() {
    let app = spawn_app().await;
    let user = app.registered("alice", PASSWORD).await;
    let now = now_s();
    // Access tokens that expired 7 minutes ago (no verifier's leeway reaches that far back),
    // and 3 minutes ago (a verifier with a long leeway may still take them).
    insert_sessions(&app.data, &user, "dead", 1, now + 3600, now - 420).await;
    insert_sessions(&app.data, &user, "recent", 1, now + 3600, now - 180).await;
    end_sessions(&app.data, &user).await;

    let page = page(&app, "").await;
    assert_eq!(page.sids(), ["recent-1"], "{}", page.raw);
    // The cursor is past both.
    let after = self::page(&app, &format!("after={}", page.cursor)).await;
    assert!(after.ended.is_empty(), "{}", after.raw);
}

/// Many sessions ending at once, on every instance there is: a follower that pages through the
/// feed meanwhile, from one instance and then another, sees each exactly once (no entry may
/// become visible after one that follows it in the log: the cursor would move past it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_misses_no_session_that_ends_during_a_burst_of_logouts() {
    const SESSIONS: usize = 200;
    const CONCURRENT: usize = 16;
    let data = test_data().await;
    let mut servers = vec![spawn_app_on(std::sync::Arc::clone(&data), |_| {}).await];
    if crate::BACKEND == Backend::Postgres {
        servers.push(spawn_app_on(std::sync::Arc::clone(&data), |_| {}).await);
    }
    let user = servers[0].registered("alice", PASSWORD).await;
    let expires_at = now_s() + 3600;
    insert_sessions(&data, &user, "burst", SESSIONS, expires_at, now_s() + 900).await;
    let expiry = u64::try_from(expires_at).expect("a time");
    let logouts: Vec<(String, String)> = (1..=SESSIONS)
        .map(|n| {
            let sid = format!("burst-{n}");
            let token = servers[0]
                .refresh
                .issue(&user, &sid, &format!("{sid}-jti"), expiry)
                .expect("a refresh token");
            (servers[n % servers.len()].url("/logout"), token)
        })
        .collect();
    let feeds: Vec<String> = servers.iter().map(|server| server.url("/sessions/ended")).collect();
    let client = reqwest::Client::new();

    let follower = tokio::spawn({
        let client = client.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let (mut cursor, mut seen) = (0, Vec::new());
            for feed in feeds.iter().cycle() {
                if seen.len() >= SESSIONS || Instant::now() > deadline {
                    break;
                }
                let response = client
                    .get(format!("{feed}?after={cursor}&wait=1"))
                    .send()
                    .await
                    .expect("GET /sessions/ended");
                let page = read_page(response).await;
                seen.extend(page.ended.into_iter().map(|(sid, _)| sid));
                cursor = page.cursor;
            }
            seen
        }
    });
    let mut tasks = Vec::with_capacity(CONCURRENT);
    for part in 0..CONCURRENT {
        let mine: Vec<(String, String)> = logouts.iter().skip(part).step_by(CONCURRENT).cloned().collect();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for (url, token) in mine {
                let response = client
                    .delete(url)
                    .json(&serde_json::json!({ "token": token }))
                    .send()
                    .await
                    .expect("DELETE /logout");
                assert_eq!(response.status(), 204);
            }
        }));
    }
    for task in tasks {
        task.await.expect("the logout task did not panic");
    }
    let seen = follower.await.expect("the follower did not panic");

    let unique: HashSet<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), seen.len(), "an entry seen twice");
    let missed: Vec<String> = (1..=SESSIONS)
        .map(|n| format!("burst-{n}"))
        .filter(|sid| !unique.contains(sid.as_str()))
        .collect();
    assert!(missed.is_empty(), "the follower missed {missed:?}");
    // And every one of them is in the log, for a follower starting now.
    assert_eq!(everything(&servers[0]).await.len(), SESSIONS);
}

// Requests.

#[tokio::test]
async fn a_malformed_query_is_400_invalid_query() {
    let app = spawn_app().await;
    for query in ["after=-1", "after=abc", "after=1.5", "wait=31", "wait=x", "wait=-1"] {
        let response = app.get(&feed_path(query)).await;
        let body = assert_error(response, 400, "invalid_query").await;
        assert!(
            !body["message"].as_str().unwrap_or_default().is_empty(),
            "{query}: {body}"
        );
    }
    // The largest wait is allowed (and nothing waits when there is something to list).
    let (_, login) = app.user_with_session("alice").await;
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);
    assert_eq!(page(&app, "after=0&wait=30").await.ended.len(), 1);
}

#[tokio::test]
async fn the_feed_is_described_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = test_support::openapi::document(&app.client, &app.address).await;
    let operation = test_support::openapi::operation(&doc, "/sessions/ended", "get");
    let parameters: HashSet<(&str, &str)> = operation["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|parameter| {
            (
                parameter["name"].as_str().expect("a name"),
                parameter["in"].as_str().expect("where"),
            )
        })
        .collect();
    assert_eq!(
        parameters,
        HashSet::from([("after", "query"), ("wait", "query"), ("log", "query")])
    );
    for status in ["200", "400", "503"] {
        assert!(operation["responses"][status].is_object(), "{status} is documented");
    }
    let page = test_support::openapi::documented_response(&doc, "/sessions/ended", "get", "200");
    let schema = resolved(&doc, &page["content"]["application/json"]["schema"]);
    assert_eq!(keys(&schema["properties"]), ["cursor", "ended", "log", "more"]);
    let entry = resolved(&doc, &schema["properties"]["ended"]["items"]);
    assert_eq!(keys(&entry["properties"]), ["sid", "until"]);
}

fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} resolves")),
        None => schema,
    }
}

// Other processes.

#[tokio::test]
async fn an_operator_command_in_another_process_wakes_a_waiting_request() {
    let app = spawn_app().await;
    let (_, alices) = app.user_with_session("alice").await;
    let (_, bobs) = app.user_with_session("bob").await;
    let cursor = cursor_now(&app).await;

    let waiter = waiting(&app, &format!("after={cursor}&wait=10"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "answered with nothing new");
    assert_eq!(operator(&app.data, &["user", "revoke-sessions", "alice"]).await, "1\n");
    let done = Instant::now();
    let (page, _) = waiter.await.expect("the request task did not panic");

    let woken = done.elapsed();
    assert!(woken < WAKE, "answered {woken:?} after the command");
    assert_listed(&page.ended, &session(&alices));
    assert_not_listed(&page.ended, &session(&bobs));
}
