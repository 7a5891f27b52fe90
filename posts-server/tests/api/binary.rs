//! The `posts-server` binary: refusing bad settings, reporting its port, stopping.

use std::time::Duration;

use serde_json::json;
use test_support::{ServerBinary, ServerProcess};

use crate::helpers::{ACCESS_SECRET, TestData, TestDir, in_mode, json, start_binary, test_data, token_for};

/// The binary, run in its test's directory (so no `.env` of ours is read) with a clean
/// environment, any free port and its database in that directory (unless a test names
/// another); a start or a stop may take 60 s.
pub(crate) const POSTS_SERVER: ServerBinary = ServerBinary::new("posts-server", env!("CARGO_BIN_EXE_posts-server"))
    .envs(&[
        ("POSTS_ADDR", "127.0.0.1:0"),
        ("POSTS_DATABASE_URL", "sqlite://posts.db"),
        ("RUST_LOG", "warn"),
    ])
    .patience(Duration::from_secs(60));

/// Unset, `ACCESS_TOKEN_ALG` is HS256, whose secret is required: in every target.
#[tokio::test]
async fn refuses_to_start_without_the_access_secret() {
    let dir = TestDir::new();
    let refusal = POSTS_SERVER.refused_start(&mut POSTS_SERVER.command(dir.path())).await;
    refusal.assert_one_line_naming("ACCESS_TOKEN_SECRET");
}

/// About HS256 secrets themselves: in every target.
#[tokio::test]
async fn refuses_a_short_access_secret_without_printing_it() {
    let dir = TestDir::new();
    let refusal = POSTS_SERVER
        .refused_start(
            POSTS_SERVER
                .command(dir.path())
                .env("ACCESS_TOKEN_SECRET", "0123456789"),
        )
        .await;
    refusal.assert_one_line_naming("ACCESS_TOKEN_SECRET");
    let stderr = &refusal.stderr;
    assert!(!stderr.contains("0123456789"), "{stderr}");
}

#[tokio::test]
async fn refuses_an_unknown_database_url_without_echoing_it() {
    let dir = TestDir::new();
    let mut command = POSTS_SERVER.command(dir.path());
    in_mode(&mut command).env("POSTS_DATABASE_URL", "mysql://user:hunter2@db/posts");
    let refusal = POSTS_SERVER.refused_start(&mut command).await;
    refusal.assert_one_line_naming("POSTS_DATABASE_URL");
    let stderr = &refusal.stderr;
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn refuses_a_bad_leeway() {
    let dir = TestDir::new();
    let mut command = POSTS_SERVER.command(dir.path());
    in_mode(&mut command).env("JWT_LEEWAY", "abc");
    let refusal = POSTS_SERVER.refused_start(&mut command).await;
    refusal.assert_one_line_naming("JWT_LEEWAY");
}

/// Starts the binary on `data` (on the target's backend) in the target's mode, and waits until
/// it is serving.
async fn start(data: &TestData) -> ServerProcess {
    let mut command = POSTS_SERVER.command(data.dir().path());
    in_mode(&mut command).env("POSTS_DATABASE_URL", data.database_url());
    start_binary(&mut command).await
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

#[tokio::test]
async fn sigterm_stops_it_cleanly() {
    let data = test_data().await;
    let server = start(&data).await;
    create_post(server.base(), "before SIGTERM").await;

    let exit = server.terminate().await;
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
}

#[tokio::test]
async fn committed_posts_survive_sigkill() {
    let data = test_data().await;
    let server = start(&data).await;
    let post = create_post(server.base(), "before SIGKILL").await;

    // SIGKILL: no chance to close the database.
    server.kill().await;

    let restarted = start(&data).await;
    assert_eq!(list_posts(restarted.base()).await, json!([post]));
    restarted.kill().await;
}

/// About HS256 secrets themselves: on an HS256 binary in every target.
#[tokio::test]
async fn access_secrets_can_be_read_from_files_without_their_line_ending() {
    let data = test_data().await;
    let dir = data.dir().path();
    let old = "an-older-access-secret-0123456789-abcdefghij";
    std::fs::write(dir.join("access.secret"), format!("{ACCESS_SECRET}\n")).expect("write a secret file");
    std::fs::write(dir.join("previous.secrets"), format!("{old}\n")).expect("write a secret file");
    let server = POSTS_SERVER
        .start(
            POSTS_SERVER
                .command(dir)
                .env("POSTS_DATABASE_URL", data.database_url())
                .env("ACCESS_TOKEN_SECRET_FILE", dir.join("access.secret"))
                .env("ACCESS_TOKEN_PREVIOUS_SECRETS_FILE", dir.join("previous.secrets")),
        )
        .await;

    let response = reqwest::Client::new()
        .get(server.url("/posts"))
        .bearer_auth(signed_with(ACCESS_SECRET))
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(response.status(), 200, "the secret of the file verifies");
    let signed_with_old = signed_with(old);
    let response = reqwest::Client::new()
        .get(server.url("/posts"))
        .bearer_auth(signed_with_old)
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(response.status(), 200, "the previous secret of the file verifies");

    let exit = server.terminate().await;
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
}

fn signed_with(secret: &str) -> String {
    crate::helpers::tokens_with_secret(secret)
        .issue("user-1", "ann", "session-1", Duration::from_secs(900))
        .expect("sign a token")
}

/// About HS256 secrets themselves: in every target.
#[tokio::test]
async fn a_secret_file_given_with_the_secret_or_unreadable_refuses_the_start_naming_it() {
    let dir = TestDir::new();
    let file = dir.path().join("access.secret");
    std::fs::write(&file, ACCESS_SECRET).expect("write a secret file");

    let mut both = POSTS_SERVER.command(dir.path());
    both.env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("ACCESS_TOKEN_SECRET_FILE", &file);
    let refusal = POSTS_SERVER.refused_start(&mut both).await;
    refusal.assert_one_line_naming("ACCESS_TOKEN_SECRET_FILE");
    let stderr = refusal.stderr.replace("ACCESS_TOKEN_SECRET_FILE", "");
    assert!(stderr.contains("ACCESS_TOKEN_SECRET"), "names both: {}", refusal.stderr);
    assert!(!refusal.stderr.contains(ACCESS_SECRET), "{}", refusal.stderr);

    let mut missing = POSTS_SERVER.command(dir.path());
    missing.env("ACCESS_TOKEN_SECRET_FILE", dir.path().join("missing.secret"));
    POSTS_SERVER
        .refused_start(&mut missing)
        .await
        .assert_one_line_naming("ACCESS_TOKEN_SECRET_FILE");
}
