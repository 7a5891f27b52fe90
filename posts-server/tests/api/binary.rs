//! The `posts-server` binary: refusing bad settings, reporting its port, stopping.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use crate::helpers::{ACCESS_SECRET, TestDir, json, token_for};

/// Every variable of the contract, so that none leaks in from the test's environment.
const CONTRACT_VARIABLES: &[&str] = &[
    "AUTH_ADDR",
    "POSTS_ADDR",
    "AUTH_DATABASE_URL",
    "POSTS_DATABASE_URL",
    "ACCESS_TOKEN_SECRET",
    "REFRESH_TOKEN_SECRET",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "REFRESH_REUSE_GRACE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY",
    "CORS_ALLOWED_ORIGINS",
    "RATE_LIMITS",
    "RUST_LOG",
];

const PATIENCE: Duration = Duration::from_secs(60);

/// The binary, run in `dir` (so no `.env` of ours is read) with a clean
/// environment, any free port and its database in `dir`.
fn posts_server(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_posts-server"));
    for variable in CONTRACT_VARIABLES {
        command.env_remove(variable);
    }
    command
        .current_dir(dir)
        .env("POSTS_ADDR", "127.0.0.1:0")
        .env("POSTS_DATABASE_URL", "sqlite://posts.db")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a start that must fail, returning its stderr.
async fn refused_start(command: &mut Command) -> String {
    let output = timeout(PATIENCE, command.output())
        .await
        .expect("the server should refuse to start, not run")
        .expect("run the binary");
    assert!(!output.status.success(), "{:?}", output.status);
    String::from_utf8(output.stderr).expect("UTF-8 stderr")
}

fn assert_one_line_naming(stderr: &str, variable: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("posts-server: "), "{stderr}");
    assert!(stderr.contains(variable), "{stderr}");
}

#[tokio::test]
async fn refuses_to_start_without_the_access_secret() {
    let dir = TestDir::new();
    let stderr = refused_start(&mut posts_server(dir.path())).await;
    assert_one_line_naming(&stderr, "ACCESS_TOKEN_SECRET");
}

#[tokio::test]
async fn refuses_a_short_access_secret_without_printing_it() {
    let dir = TestDir::new();
    let stderr = refused_start(posts_server(dir.path()).env("ACCESS_TOKEN_SECRET", "0123456789")).await;
    assert_one_line_naming(&stderr, "ACCESS_TOKEN_SECRET");
    assert!(!stderr.contains("0123456789"), "{stderr}");
}

#[tokio::test]
async fn refuses_a_postgres_url() {
    let dir = TestDir::new();
    let mut command = posts_server(dir.path());
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("POSTS_DATABASE_URL", "postgres://x");
    let stderr = refused_start(&mut command).await;
    assert_one_line_naming(&stderr, "POSTS_DATABASE_URL");
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
}

#[tokio::test]
async fn refuses_an_unknown_database_url_without_echoing_it() {
    let dir = TestDir::new();
    let mut command = posts_server(dir.path());
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("POSTS_DATABASE_URL", "mysql://user:hunter2@db/posts");
    let stderr = refused_start(&mut command).await;
    assert_one_line_naming(&stderr, "POSTS_DATABASE_URL");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn refuses_a_bad_leeway() {
    let dir = TestDir::new();
    let mut command = posts_server(dir.path());
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("JWT_LEEWAY", "abc");
    let stderr = refused_start(&mut command).await;
    assert_one_line_naming(&stderr, "JWT_LEEWAY");
}

/// A running binary and the base URL it announced.
struct Running {
    child: Child,
    base: String,
}

async fn start(dir: &Path) -> Running {
    let mut child = posts_server(dir)
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(base) = line.strip_prefix("posts-server listening on ") {
                return base.to_owned();
            }
        }
        panic!("stdout closed before the listening line");
    })
    .await
    .expect("the listening line in time");
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running { child, base }
}

async fn create_post(base: &str, title: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .json(&json!({ "title": title, "body": "from the binary" }))
        .send()
        .await
        .expect("POST /posts");
    assert_eq!(response.status(), 201);
    json(response).await
}

async fn list_posts(base: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(format!("{base}/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(response.status(), 200);
    json(response).await
}

async fn wait(child: &mut Child) -> ExitStatus {
    timeout(PATIENCE, child.wait())
        .await
        .expect("the server to exit in time")
        .expect("wait for the server")
}

#[tokio::test]
async fn sigterm_stops_it_cleanly() {
    let dir = TestDir::new();
    let mut server = start(dir.path()).await;
    create_post(&server.base, "before SIGTERM").await;

    let pid = server.child.id().expect("a running child").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = wait(&mut server.child).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test]
async fn committed_posts_survive_sigkill() {
    let dir = TestDir::new();
    let mut server = start(dir.path()).await;
    let post = create_post(&server.base, "before SIGKILL").await;

    // tokio's kill is SIGKILL on Unix: no chance to close the database.
    server.child.kill().await.expect("SIGKILL the server");

    let mut restarted = start(dir.path()).await;
    assert_eq!(list_posts(&restarted.base).await, json!([post]));
    restarted.child.kill().await.expect("stop the server");
}
