//! One SQLite file, one server process: a second posts-server on a file that a running one uses
//! refuses to start (it would serve a stale list from memory), however the first one ended.

use test_support::ServerProcess;

use crate::binary::POSTS_SERVER;
use crate::helpers::{TestDir, in_mode, start_binary};

fn on_file(dir: &TestDir) -> tokio::process::Command {
    let mut command = POSTS_SERVER.command(dir.path());
    in_mode(&mut command);
    command
}

async fn ready(server: &ServerProcess) -> u16 {
    reqwest::get(server.url("/readyz"))
        .await
        .expect("GET /readyz")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_second_server_on_a_sqlite_file_in_use_refuses_to_start() {
    let dir = TestDir::new();
    let first = start_binary(&mut on_file(&dir)).await;

    let refusal = POSTS_SERVER.refused_start(&mut on_file(&dir)).await;
    refusal.assert_one_line_naming("POSTS_DATABASE_URL");
    assert!(
        refusal.stderr.contains("in use by another running server"),
        "{}",
        refusal.stderr
    );
    assert!(
        refusal.stderr.contains("PostgreSQL"),
        "points to PostgreSQL: {}",
        refusal.stderr
    );
    assert_eq!(ready(&first).await, 200, "the first one goes on");

    // Stopped, or killed: the file is free again.
    first.terminate().await;
    let second = start_binary(&mut on_file(&dir)).await;
    assert_eq!(ready(&second).await, 200);
    second.kill().await;
    let third = start_binary(&mut on_file(&dir)).await;
    assert_eq!(ready(&third).await, 200);
    third.terminate().await;
}
