//! One SQLite file, one server process: a second auth-server on a file that a running one uses
//! refuses to start, however the first one ended; operator commands work beside a running one
//! (see `cli.rs`).

use test_support::ServerProcess;

use crate::binary::{AUTH_SERVER, configured_on};
use crate::helpers::test_data;

async fn ready(server: &ServerProcess) -> u16 {
    reqwest::get(server.url("/readyz"))
        .await
        .expect("GET /readyz")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_second_server_on_a_sqlite_file_in_use_refuses_to_start() {
    let data = test_data().await;
    let first = AUTH_SERVER.start(&mut configured_on(&data)).await;

    let refusal = AUTH_SERVER.refused_start(&mut configured_on(&data)).await;
    refusal.assert_one_line_naming("AUTH_DATABASE_URL");
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
    let second = AUTH_SERVER.start(&mut configured_on(&data)).await;
    assert_eq!(ready(&second).await, 200);
    second.kill().await;
    let third = AUTH_SERVER.start(&mut configured_on(&data)).await;
    assert_eq!(ready(&third).await, 200);
    third.terminate().await;
}
