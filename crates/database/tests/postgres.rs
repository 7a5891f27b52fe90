//! The PostgreSQL opener against a real server: migrations under concurrency, patience at
//! start-up, recovery from lost connections, and which failures count as "unavailable".
//!
//! Each test gets a database of its own; where PostgreSQL cannot be reached, they do not run
//! (see `test_support::TestDatabase`).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use database::is_unavailable;
use database::postgres::{DatabaseArgs, open};
use sqlx::ConnectOptions as _;
use sqlx::migrate::Migrator;
use test_support::{DatabaseProxy, TestDatabase, TestDir};
use tokio::task::JoinSet;

/// Two migrations, written where `Migrator::new` reads them.
async fn migrator(dir: &TestDir) -> Migrator {
    std::fs::write(
        dir.path().join("0001_notes.sql"),
        "CREATE TABLE notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, text TEXT NOT NULL);",
    )
    .expect("write a migration");
    std::fs::write(
        dir.path().join("0002_notes_text.sql"),
        "CREATE INDEX notes_text ON notes (text);",
    )
    .expect("write a migration");
    Migrator::new(dir.path()).await.expect("read the migrations")
}

fn args() -> DatabaseArgs {
    DatabaseArgs {
        database_startup_timeout: Duration::from_secs(10),
        ..DatabaseArgs::default()
    }
}

/// A local port that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

#[tokio::test]
async fn several_servers_starting_at_once_migrate_once() {
    let database = TestDatabase::create().await;
    let dir = TestDir::new();
    let migrator = Arc::new(migrator(&dir).await);

    let mut opens = JoinSet::new();
    for _ in 0..6 {
        let (url, migrator) = (database.url().to_owned(), Arc::clone(&migrator));
        opens.spawn(async move { open(&url, &migrator, &args()).await });
    }
    let pools = opens.join_all().await;

    for pool in &pools {
        let pool = pool.as_ref().expect("every start succeeds");
        sqlx::query("INSERT INTO notes (text) VALUES ('hello')")
            .execute(pool)
            .await
            .expect("the table exists");
    }
    let mut conn = database.connect().await;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("read the applied migrations");
    assert_eq!(applied, [1, 2]);
}

#[tokio::test]
async fn connections_the_server_ended_are_replaced() {
    let database = TestDatabase::create().await;
    let dir = TestDir::new();
    let pool = open(database.url(), &migrator(&dir).await, &args())
        .await
        .expect("open");
    // Several connections in the pool, idle.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.acquire().await.expect("a connection"));
    }
    drop(held);

    assert!(database.terminate_connections().await >= 1);

    // Each connection is checked before use: the dead ones are replaced, nothing fails.
    for _ in 0..5 {
        sqlx::query("SELECT 1")
            .execute(&pool)
            .await
            .expect("a fresh connection");
    }
}

#[tokio::test]
async fn a_lost_connection_and_a_statement_timeout_are_unavailable() {
    let database = TestDatabase::create().await;
    let dir = TestDir::new();
    let args = DatabaseArgs {
        database_statement_timeout: Duration::from_millis(200),
        ..args()
    };
    let pool = open(database.url(), &migrator(&dir).await, &args).await.expect("open");

    let slow = sqlx::query("SELECT pg_sleep(5)")
        .execute(&pool)
        .await
        .expect_err("cut short");
    assert!(is_unavailable(&slow), "{slow:?}");
    let code = slow.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("57014"));

    let mut conn = pool.acquire().await.expect("a connection");
    database.terminate_connections().await;
    let lost = sqlx::query("SELECT 1")
        .execute(&mut *conn)
        .await
        .expect_err("terminated");
    assert!(is_unavailable(&lost), "{lost:?}");

    // A fault of the query itself is not.
    let bad = sqlx::query("SELECT * FROM no_such_table")
        .execute(&pool)
        .await
        .expect_err("no such table");
    assert!(!is_unavailable(&bad), "{bad:?}");
}

#[tokio::test]
async fn start_up_waits_for_a_database_that_comes_up() {
    let database = TestDatabase::create().await;
    let mut proxy = DatabaseProxy::start(&database).await;
    proxy.take_down().await;
    let dir = TestDir::new();
    let migrator = migrator(&dir).await;
    let url = proxy.url().to_owned();
    let started = Instant::now();
    let opening = tokio::spawn(async move { open(&url, &migrator, &args()).await });

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!opening.is_finished(), "still waiting");
    proxy.bring_up().await;

    let pool = opening
        .await
        .expect("no panic")
        .expect("it starts once the database is up");
    assert!(started.elapsed() >= Duration::from_secs(1));
    sqlx::query("SELECT COUNT(*) FROM notes")
        .execute(&pool)
        .await
        .expect("migrated");
}

#[tokio::test]
async fn start_up_gives_up_in_time_without_showing_the_password() {
    let dir = TestDir::new();
    let migrator = migrator(&dir).await;
    let url = format!("postgres://app:hunter2-secret@127.0.0.1:{}/posts", closed_port());
    let args = DatabaseArgs {
        database_startup_timeout: Duration::from_millis(700),
        ..DatabaseArgs::default()
    };
    let started = Instant::now();

    let err = open(&url, &migrator, &args).await.expect_err("nothing listens there");

    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(700), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("postgres://app@127.0.0.1:"), "{err}");
    assert!(err.contains("DATABASE_STARTUP_TIMEOUT"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn a_database_that_does_not_exist_fails_at_once() {
    let database = TestDatabase::create().await;
    let dir = TestDir::new();
    let migrator = migrator(&dir).await;
    let url = database
        .connect_options()
        .database("no_such_database_here")
        .to_url_lossy()
        .to_string();
    let started = Instant::now();

    let err = open(&url, &migrator, &args()).await.expect_err("no such database");

    assert!(started.elapsed() < Duration::from_secs(3), "not retried");
    assert!(err.contains("no_such_database_here"), "{err}");
}

#[tokio::test]
async fn migrations_are_not_cut_short_by_the_statement_timeout() {
    let database = TestDatabase::create().await;
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join("0001_slow.sql"),
        "SELECT pg_sleep(0.5); CREATE TABLE slow (id BIGINT PRIMARY KEY);",
    )
    .expect("write a migration");
    let migrator = Migrator::new(dir.path()).await.expect("read the migrations");
    let args = DatabaseArgs {
        database_statement_timeout: Duration::from_millis(100),
        ..args()
    };

    let pool = open(database.url(), &migrator, &args).await.expect("migrated");

    sqlx::query("SELECT COUNT(*) FROM slow")
        .execute(&pool)
        .await
        .expect("the table exists");
    let slow = sqlx::query("SELECT pg_sleep(0.5)")
        .execute(&pool)
        .await
        .expect_err("requests are cut short");
    assert!(is_unavailable(&slow), "{slow:?}");
}
