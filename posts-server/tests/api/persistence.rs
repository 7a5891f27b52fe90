//! Posts outlive the server process that stored them.

use serde_json::json;

use crate::helpers::{json, spawn_app, spawn_app_in, token_for};

#[tokio::test]
async fn posts_survive_a_restart() {
    let first = spawn_app().await;
    let token = token_for("user-1", "ann");
    let post = first.created_post(&token, "kept", "across restarts").await;
    let dir = first.stop().await;

    let second = spawn_app_in(dir).await;
    assert_eq!(json(second.get_posts(&token).await).await, json!([post]));
}
