//! PostgreSQL going wrong under a running server, and at its start: the server answers `503`
//! while the database is gone, recovers by itself when it is back, waits for it at start-up
//! (and gives up cleanly), and shares it with other servers. PostgreSQL target only.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{Value, json};
use test_support::DatabaseProxy;

use crate::binary::POSTS_SERVER;
use crate::helpers::{
    TestApp, assert_error, in_mode, json, spawn_app_configured, spawn_app_in, start_binary, test_data, token_for,
};

/// How long a server may take to recover once the database is back.
const RECOVERY: Duration = Duration::from_secs(10);

/// Polls `attempt` until it gives an answer, failing the test after `RECOVERY`.
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(answer) = attempt().await {
            return answer;
        }
        assert!(started.elapsed() < RECOVERY, "{what} within {RECOVERY:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /posts` until it is `200`, allowing only the contract's `503` before; returns the posts.
async fn posts_once_recovered(app: &TestApp, token: &str) -> Value {
    eventually("GET /posts answers 200", || async {
        let response = app.get_posts(token).await;
        match response.status().as_u16() {
            200 => Some(json(response).await),
            503 => {
                assert_unavailable(response).await;
                None
            }
            status => panic!("200 or 503 while recovering, not {status}"),
        }
    })
    .await
}

/// The contract's `503`, telling nothing of the database behind it.
async fn assert_unavailable(response: Response) {
    let body = assert_error(response, 503, "unavailable").await.to_string();
    for internal in ["127.0.0.1", "postgres", "test_", "sqlx", "pool"] {
        assert!(!body.to_lowercase().contains(internal), "{body}");
    }
}

async fn healthz(app: &TestApp) -> u16 {
    let response = app.client.get(app.url("/healthz")).send().await.expect("GET /healthz");
    response.status().as_u16()
}

async fn readyz(app: &TestApp) -> Response {
    app.client.get(app.url("/readyz")).send().await.expect("GET /readyz")
}

#[tokio::test]
async fn the_server_recovers_by_itself_when_its_connections_are_terminated() {
    let data = Arc::new(test_data().await);
    let app = spawn_app_in(Arc::clone(&data)).await;
    let token = token_for("user-1", "ann");
    let post = app.created_post(&token, "before", "the connections were cut").await;
    // Several requests at once, so that the pool holds several connections.
    let (a, b, c) = tokio::join!(app.get_posts(&token), app.get_posts(&token), readyz(&app));
    assert_eq!(
        [a.status(), b.status(), c.status()].map(|s| s.as_u16()),
        [200, 200, 200]
    );

    // As a database restart or a failover would; returns once every session has ended.
    let terminated = data
        .postgres()
        .expect("the PostgreSQL backend")
        .terminate_connections()
        .await;
    assert!(terminated >= 1, "the server was connected");
    assert_eq!(
        data.postgres()
            .expect("the PostgreSQL backend")
            .connection_count()
            .await,
        0
    );

    assert_eq!(healthz(&app).await, 200);
    // Every connection the server had is gone: a 200 now comes over a new one, in the same process.
    assert_eq!(posts_once_recovered(&app, &token).await, json!([post]));
    assert_eq!(healthz(&app).await, 200);
    assert_eq!(readyz(&app).await.status(), 200);
    let later = app.created_post(&token, "after", "the connections were cut").await;
    assert_eq!(json(app.get_posts(&token).await).await, json!([later, post]));
    assert!(
        data.postgres()
            .expect("the PostgreSQL backend")
            .connection_count()
            .await
            >= 1
    );
}

#[tokio::test]
async fn an_unreachable_database_is_503_until_it_is_back() {
    let data = Arc::new(test_data().await);
    let mut proxy = DatabaseProxy::start(data.postgres().expect("the PostgreSQL backend")).await;
    let through_proxy = proxy.url().to_owned();
    let app = spawn_app_configured(Arc::clone(&data), |config| {
        config.database_url = through_proxy;
        // A request waits this long for a connection before it is answered 503.
        config.server.database.database_acquire_timeout = Duration::from_secs(1);
    })
    .await;
    let token = token_for("user-1", "ann");
    let post = app.created_post(&token, "before", "the database went away").await;

    // Every connection cut, and new ones refused: the database host is gone.
    proxy.take_down().await;

    assert_eq!(healthz(&app).await, 200);
    assert_unavailable(readyz(&app).await).await;
    assert_unavailable(app.get_posts(&token).await).await;
    let write = app
        .create_post(&token, &json!({ "title": "while", "body": "the database was away" }))
        .await;
    assert_unavailable(write).await;
    assert_eq!(healthz(&app).await, 200);

    proxy.bring_up().await;

    assert_eq!(posts_once_recovered(&app, &token).await, json!([post]));
    assert_eq!(readyz(&app).await.status(), 200);
    assert_eq!(healthz(&app).await, 200);
}

#[tokio::test]
async fn two_servers_on_one_database_see_each_others_posts() {
    let data = Arc::new(test_data().await);
    // Started at once on an empty database: both migrate it, one after the other.
    let (first, second) = tokio::join!(spawn_app_in(Arc::clone(&data)), spawn_app_in(Arc::clone(&data)));
    let ann = token_for("user-1", "ann");
    let bob = token_for("user-2", "bob");

    let one = first.created_post(&ann, "one", "written to the first server").await;
    let two = second.created_post(&ann, "two", "written to the second server").await;
    let bobs = second.created_post(&bob, "bob's", "written to the second server").await;

    for app in [&first, &second] {
        assert_eq!(json(app.get_posts(&ann).await).await, json!([two, one]));
        assert_eq!(json(app.get_posts(&bob).await).await, json!([bobs]));
    }
}

/// Nothing an instance has read hides another instance's write: the next read
/// anywhere shows it (the posts cache is for SQLite, whose server is the only writer).
#[tokio::test]
async fn a_write_on_one_server_is_in_the_next_read_on_another() {
    let data = Arc::new(test_data().await);
    let (first, second) = tokio::join!(spawn_app_in(Arc::clone(&data)), spawn_app_in(Arc::clone(&data)));
    let ann = token_for("user-1", "ann");
    let mut written = Vec::new();
    for n in 0..5 {
        // Read on the second server, so that it would have the list to keep.
        assert_eq!(json(second.get_posts(&ann).await).await, json!(written.clone()));
        let post = first
            .created_post(&ann, &format!("post {n}"), "written to the first server")
            .await;
        written.insert(0, post);
        assert_eq!(json(second.get_posts(&ann).await).await, json!(written.clone()));
    }
}

/// A local port that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

#[tokio::test]
async fn the_binary_waits_at_start_up_for_a_database_that_comes_up() {
    let data = test_data().await;
    let mut proxy = DatabaseProxy::start(data.postgres().expect("the PostgreSQL backend")).await;
    proxy.take_down().await;
    let mut command = POSTS_SERVER.command(data.dir().path());
    in_mode(&mut command)
        .env("POSTS_DATABASE_URL", proxy.url())
        .env("DATABASE_STARTUP_TIMEOUT", "30s");

    let database_comes_up = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy.bring_up().await;
    };
    let (server, ()) = tokio::join!(start_binary(&mut command), database_comes_up);

    let response = reqwest::Client::new()
        .get(server.url("/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(response.status(), 200);
    let exit = server.terminate().await;
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
    assert!(
        exit.output.contains("database not reachable yet; retrying"),
        "a retry was logged: {}",
        exit.output
    );
}

#[tokio::test]
async fn the_binary_gives_up_on_an_unreachable_database_with_one_line_and_no_password() {
    let data = test_data().await;
    let url = format!("postgres://posts:hunter2-secret@127.0.0.1:{}/posts", closed_port());
    let mut command = POSTS_SERVER.command(data.dir().path());
    in_mode(&mut command)
        .env("POSTS_DATABASE_URL", &url)
        .env("DATABASE_STARTUP_TIMEOUT", "1s");
    let started = Instant::now();

    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("it gives up in time")
        .expect("run the binary");

    assert!(started.elapsed() >= Duration::from_secs(1), "it retried for a while");
    assert!(!output.status.success(), "{:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("database not reachable yet; retrying"), "{stdout}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("posts-server: POSTS_DATABASE_URL: "), "{stderr}");
    assert!(stderr.contains("DATABASE_STARTUP_TIMEOUT"), "{stderr}");
    assert!(
        stderr.contains("postgres://posts@127.0.0.1:"),
        "names the database: {stderr}"
    );
    for printed in [&stdout, &stderr] {
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}

/// `ALTER DATABASE … ALLOW_CONNECTIONS false` (maintenance): PostgreSQL refuses every new
/// connection with SQLSTATE 55000, "database … is not currently accepting connections".
#[tokio::test]
async fn a_database_that_refuses_connections_is_503_until_it_takes_them_again() {
    let data = Arc::new(test_data().await);
    let app = spawn_app_in(Arc::clone(&data)).await;
    let token = token_for("user-1", "ann");
    let post = app
        .created_post(&token, "before", "the database closed its doors")
        .await;
    let database = data.postgres().expect("the PostgreSQL backend");

    database.allow_connections(false).await;
    database.terminate_connections().await;

    assert_eq!(healthz(&app).await, 200);
    assert_unavailable(readyz(&app).await).await;
    assert_unavailable(app.get_posts(&token).await).await;

    database.allow_connections(true).await;
    assert_eq!(posts_once_recovered(&app, &token).await, json!([post]));
    assert_eq!(readyz(&app).await.status(), 200);
}
