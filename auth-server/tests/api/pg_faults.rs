//! PostgreSQL going away under a running auth server: `503` with the JSON error while it is
//! gone, `/healthz` still `200`, and recovery by itself when it is back; and a start that waits
//! for the database, then gives up in one line. PostgreSQL target only.

use std::time::{Duration, Instant};

use reqwest::Response;
use test_support::DatabaseProxy;

use crate::binary::AUTH_SERVER;
use crate::helpers::{ACCESS_SECRET, PASSWORD, REFRESH_SECRET, TestApp, assert_error, spawn_app_on, test_data};

/// How long a server may take to recover once the database is back.
const RECOVERY: Duration = Duration::from_secs(10);

async fn status_of(response: Response) -> u16 {
    let status = response.status().as_u16();
    if status == 503 {
        let body = assert_error(response, 503, "unavailable").await.to_string();
        for internal in ["127.0.0.1", "postgres", "test_", "sqlx", "pool"] {
            assert!(!body.to_lowercase().contains(internal), "{body}");
        }
    }
    status
}

/// Logs in until it is `200`, allowing only the contract's `503` before.
async fn logs_in_once_recovered(app: &TestApp) {
    let started = Instant::now();
    loop {
        match status_of(app.login("alice", PASSWORD).await).await {
            200 => return,
            503 => assert!(started.elapsed() < RECOVERY, "no recovery within {RECOVERY:?}"),
            other => panic!("200 or 503 while recovering, not {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_server_recovers_by_itself_when_its_connections_are_terminated() {
    let data = test_data().await;
    let app = spawn_app_on(std::sync::Arc::clone(&data), |_| {}).await;
    let (_, session) = app.user_with_session("alice").await;

    let database = data.postgres().expect("the PostgreSQL backend");
    assert!(database.terminate_connections().await >= 1, "the server was connected");

    assert_eq!(app.get("/healthz").await.status(), 200);
    logs_in_once_recovered(&app).await;
    app.refreshed(&session.refresh).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_database_is_503_until_it_is_back() {
    let data = test_data().await;
    let database = data.postgres().expect("the PostgreSQL backend");
    let mut proxy = DatabaseProxy::start(database).await;
    let through_proxy = proxy.url().to_owned();
    let app = spawn_app_on(std::sync::Arc::clone(&data), |config| {
        config.database_url = through_proxy;
        config.server.database.database_acquire_timeout = Duration::from_secs(1);
    })
    .await;
    let (_, session) = app.user_with_session("alice").await;

    proxy.take_down().await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(status_of(app.get("/readyz").await).await, 503);
    assert_eq!(status_of(app.login("alice", PASSWORD).await).await, 503);
    assert_eq!(status_of(app.register("bob", PASSWORD).await).await, 503);
    assert_eq!(status_of(app.refresh(&session.refresh).await).await, 503);

    proxy.bring_up().await;

    logs_in_once_recovered(&app).await;
    // The refresh that failed with 503 spent nothing: the token still rotates.
    app.refreshed(&session.refresh).await;
}

#[tokio::test]
async fn a_start_waits_for_the_database_then_gives_up_in_one_line_without_the_password() {
    let data = test_data().await;
    let database = data.postgres().expect("the PostgreSQL backend");
    let mut proxy = DatabaseProxy::start(database).await;
    proxy.take_down().await;
    // The same database through the proxy, with a password that must never be printed.
    let secret_password = "pw-never-printed-7f3a";
    let url = proxy.url().replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{secret_password}@"),
        1,
    );
    assert!(url.contains(secret_password), "{url}");

    let mut command = AUTH_SERVER.command(data.dir().path());
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
        .env("AUTH_DATABASE_URL", &url)
        .env("DATABASE_STARTUP_TIMEOUT", "1s");
    let refusal = AUTH_SERVER.refused_start(&mut command).await;

    refusal.assert_one_line_naming("AUTH_DATABASE_URL");
    assert!(!refusal.stderr.contains(secret_password), "{}", refusal.stderr);
}

/// `ALTER DATABASE … ALLOW_CONNECTIONS false` (maintenance): PostgreSQL refuses every new
/// connection with SQLSTATE 55000, "database … is not currently accepting connections".
#[tokio::test]
async fn a_database_that_refuses_connections_is_503_until_it_takes_them_again() {
    let data = test_data().await;
    let app = spawn_app_on(std::sync::Arc::clone(&data), |_| {}).await;
    app.registered("alice", PASSWORD).await;
    let database = data.postgres().expect("the PostgreSQL backend");

    database.allow_connections(false).await;
    database.terminate_connections().await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(status_of(app.get("/readyz").await).await, 503);
    assert_eq!(status_of(app.login("alice", PASSWORD).await).await, 503);

    database.allow_connections(true).await;
    logs_in_once_recovered(&app).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// A write that PostgreSQL refuses for a reason of its own is not a taken username: with the
/// users table locked against writes by another session, `/register` waits, is cut short by the
/// statement timeout, and answers `503` (try again later), never `409`.
#[tokio::test]
async fn a_register_that_the_database_cuts_short_is_503_not_a_taken_name() {
    use sqlx::Connection as _;

    let data = test_data().await;
    let app = spawn_app_on(std::sync::Arc::clone(&data), |config| {
        config.server.database.database_statement_timeout = Duration::from_millis(500);
    })
    .await;
    let database = data.postgres().expect("the PostgreSQL backend");
    let mut holder = database.connect().await;
    let mut lock = holder.begin().await.expect("a transaction");
    // Readers pass (the name is looked up first); writers wait.
    sqlx::query("LOCK TABLE users IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("the lock");

    let refused = app.register("alice", PASSWORD).await;
    assert_eq!(status_of(refused).await, 503);

    lock.rollback().await.expect("the lock released");
    assert_eq!(app.register("alice", PASSWORD).await.status(), 201);
}
