//! Several auth-server processes on one PostgreSQL database behave as one server: every
//! guarantee of the contract lives in the database. PostgreSQL target only.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use test_support::ServerProcess;
use tokio::sync::Barrier;
use tokio::time::Instant;

use crate::binary::{configured_on, post, start, tokens};
use crate::feed::{WAKE, cursor_now, session, waiting};
use crate::helpers::{PASSWORD, TestData, eventually, spawn_app_on, test_data};

/// `count` auth-server processes on `data`, with no grace for spent refresh tokens.
async fn instances(data: &TestData, count: usize) -> Vec<ServerProcess> {
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        let mut command = configured_on(data);
        command.env("REFRESH_REUSE_GRACE", "0s");
        servers.push(start(&mut command).await);
    }
    servers
}

/// `count` auth-server processes on `data` allowing `login_rate` per username, and so many
/// logins per client address that only the limit per username counts (every test client
/// is 127.0.0.1).
async fn instances_limiting_logins(data: &TestData, count: usize, login_rate: &str) -> Vec<ServerProcess> {
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        let mut command = configured_on(data);
        command
            .env("RATE_LIMITS", "on")
            .env("LOGIN_RATE_PER_USERNAME", login_rate)
            .env("LOGIN_RATE_PER_ADDRESS", "1000/1m");
        servers.push(start(&mut command).await);
    }
    servers
}

/// The `Retry-After` of a `429 rate_limited`, in whole seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("Retry-After in whole seconds")
}

fn credentials(username: &str) -> Value {
    json!({ "username": username, "password": PASSWORD })
}

fn refresh_token(pair: &Value) -> String {
    pair["refreshToken"].as_str().expect("a refreshToken").to_owned()
}

async fn refresh_status(server: &ServerProcess, token: &str) -> u16 {
    post(server, "/token", &json!({ "token": token }))
        .await
        .status()
        .as_u16()
}

async fn stop_all(servers: Vec<ServerProcess>) {
    for server in servers {
        let exit = server.terminate().await;
        assert_eq!(exit.status.code(), Some(0), "{}", exit.output);
    }
}

#[tokio::test]
async fn a_user_registered_on_one_instance_logs_in_on_another_and_rotates_on_a_third() {
    let data = test_data().await;
    let servers = instances(&data, 3).await;
    let [a, b, c] = [&servers[0], &servers[1], &servers[2]];

    assert_eq!(post(a, "/register", &credentials("alice")).await.status(), 201);
    // The username is taken everywhere, whatever the case.
    assert_eq!(post(b, "/register", &credentials("ALICE")).await.status(), 409);
    let login = tokens(b, "/login", &credentials("alice")).await;
    let rotated = tokens(c, "/token", &json!({ "token": refresh_token(&login) })).await;
    tokens(a, "/token", &json!({ "token": refresh_token(&rotated) })).await;

    stop_all(servers).await;
}

#[tokio::test]
async fn reuse_detected_on_one_instance_revokes_the_session_on_all() {
    let data = test_data().await;
    let servers = instances(&data, 2).await;
    let [a, b] = [&servers[0], &servers[1]];
    assert_eq!(post(a, "/register", &credentials("alice")).await.status(), 201);
    let login = tokens(b, "/login", &credentials("alice")).await;

    // Issued by B, rotated on A; then the spent token comes back to B.
    let rotated = tokens(a, "/token", &json!({ "token": refresh_token(&login) })).await;
    assert_eq!(refresh_status(b, &refresh_token(&login)).await, 403);

    // The newest token of the family is dead on every instance.
    assert_eq!(refresh_status(a, &refresh_token(&rotated)).await, 403);
    assert_eq!(refresh_status(b, &refresh_token(&rotated)).await, 403);

    stop_all(servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_concurrent_refreshes_spread_over_three_instances_exactly_one_succeeds() {
    const CONCURRENT: usize = 32;
    let data = test_data().await;
    let servers = instances(&data, 3).await;
    assert_eq!(
        post(&servers[0], "/register", &credentials("alice")).await.status(),
        201
    );
    let token = refresh_token(&tokens(&servers[1], "/login", &credentials("alice")).await);

    let client = reqwest::Client::new();
    let start = Arc::new(Barrier::new(CONCURRENT));
    let mut tasks = Vec::with_capacity(CONCURRENT);
    for n in 0..CONCURRENT {
        let request = client
            .post(servers[n % servers.len()].url("/token"))
            .json(&json!({ "token": token }))
            .build()
            .expect("a request");
        let (client, start) = (client.clone(), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let response = client.execute(request).await.expect("POST /token");
            response.status().as_u16()
        }));
    }
    let mut statuses = Vec::with_capacity(CONCURRENT);
    for task in tasks {
        statuses.push(task.await.expect("the request task did not panic"));
    }

    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 403), "{statuses:?}");

    stop_all(servers).await;
}

#[tokio::test]
async fn a_logout_on_one_instance_is_seen_by_the_others_at_once() {
    let data = test_data().await;
    let servers = instances(&data, 2).await;
    let [a, b] = [&servers[0], &servers[1]];
    assert_eq!(post(a, "/register", &credentials("alice")).await.status(), 201);
    let first = tokens(a, "/login", &credentials("alice")).await;
    let second = tokens(b, "/login", &credentials("alice")).await;

    let logout = reqwest::Client::new()
        .delete(a.url("/logout"))
        .json(&json!({ "token": refresh_token(&first), "scope": "global" }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);

    // The very next request, on the other instance.
    assert_eq!(refresh_status(b, &refresh_token(&first)).await, 403);
    assert_eq!(refresh_status(b, &refresh_token(&second)).await, 403);

    stop_all(servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_give_a_password_guesser_the_attempts_of_one() {
    const BURST: usize = 3;
    const ATTEMPTS: usize = 12;
    let data = test_data().await;
    let servers = instances_limiting_logins(&data, 3, "3/1h").await;
    assert_eq!(
        post(&servers[0], "/register", &credentials("alice")).await.status(),
        201
    );

    // Wrong passwords for one username, all at once, spread over the three instances.
    let client = reqwest::Client::new();
    let start = Arc::new(Barrier::new(ATTEMPTS));
    let mut tasks = Vec::with_capacity(ATTEMPTS);
    for n in 0..ATTEMPTS {
        let request = client
            .post(servers[n % servers.len()].url("/login"))
            .json(&json!({ "username": "alice", "password": "a wrong guess" }))
            .build()
            .expect("a request");
        let (client, start) = (client.clone(), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let response = client.execute(request).await.expect("POST /login");
            let status = response.status().as_u16();
            (status, (status == 429).then(|| retry_after(&response)))
        }));
    }
    let mut answers = Vec::with_capacity(ATTEMPTS);
    for task in tasks {
        answers.push(task.await.expect("the request task did not panic"));
    }

    let tried = answers.iter().filter(|(status, _)| *status == 401).count();
    assert_eq!(tried, BURST, "one instance's burst in all: {answers:?}");
    // The rest wait for the next attempt to come back: one every 20 minutes.
    for (status, wait) in &answers {
        assert!(
            *status == 401 || (*status == 429 && wait.is_some_and(|w| (1100..=1200).contains(&w))),
            "{answers:?}"
        );
    }
    // Every instance now refuses, the right password too, and says when to come back.
    for server in &servers {
        let response = post(server, "/login", &credentials("alice")).await;
        assert_eq!(response.status(), 429);
        assert!((1100..=1200).contains(&retry_after(&response)));
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], "rate_limited", "{body}");
    }
    // Another user is not held back.
    assert_eq!(post(&servers[1], "/register", &credentials("bob")).await.status(), 201);
    tokens(&servers[2], "/login", &credentials("bob")).await;

    stop_all(servers).await;
}

/// How many usernames the database keeps a login attempt bucket for.
async fn login_buckets(data: &TestData) -> i64 {
    use sqlx::Connection as _;
    let database = data.postgres().expect("a PostgreSQL test database");
    let mut connection = database.connect().await;
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts")
        .fetch_one(&mut connection)
        .await;
    connection.close().await.expect("close the test database");
    count.expect("count the login attempt buckets")
}

#[tokio::test]
async fn login_attempt_buckets_that_are_full_again_are_purged() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command
        .env("RATE_LIMITS", "on")
        .env("LOGIN_RATE_PER_USERNAME", "1/5s")
        .env("SESSION_PURGE_INTERVAL", "1s");
    let server = start(&mut command).await;
    assert_eq!(post(&server, "/login", &credentials("alice")).await.status(), 401);
    assert_eq!(login_buckets(&data).await, 1);

    let data = &data;
    assert!(
        eventually(
            Duration::from_secs(15),
            || async move { login_buckets(data).await == 0 }
        )
        .await,
        "the full bucket was not purged"
    );
    assert_eq!(post(&server, "/login", &credentials("alice")).await.status(), 401);

    stop_all(vec![server]).await;
}

/// A logout on one instance wakes the ended-session feed of another at once: the log is the
/// database's, and its trigger notifies every instance listening at commit.
#[tokio::test]
async fn a_logout_on_one_instance_wakes_a_request_waiting_on_another() {
    let data = test_data().await;
    let a = spawn_app_on(Arc::clone(&data), |_| {}).await;
    let b = spawn_app_on(Arc::clone(&data), |_| {}).await;
    a.registered("alice", PASSWORD).await;
    let mut cursor = cursor_now(&b).await;
    // Several times: B's feed also reads the log every few seconds, and must not be what
    // answers.
    for _ in 0..4 {
        let login = a.logged_in("alice", PASSWORD).await;
        let waiter = waiting(&b, &format!("after={cursor}&wait=10"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "answered with nothing new");
        let ended = Instant::now();
        assert_eq!(a.logout(&login.refresh, None).await.status(), 204);
        let (page, _) = waiter.await.expect("the request task did not panic");
        let woken = ended.elapsed();
        assert!(woken < WAKE, "B answered {woken:?} after the logout on A");
        assert_eq!(page.sids(), [session(&login).sid.as_str()], "{}", page.raw);
        cursor = page.cursor;
    }
}
