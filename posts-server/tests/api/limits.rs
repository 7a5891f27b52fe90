//! `POST_RATE_PER_USER`: how many posts one user may create, with `429` and `Retry-After`.

use serde_json::json;
use service_kit::rate_limit::Switch;

use crate::helpers::{assert_error, spawn_app_with, token_for};

#[tokio::test]
async fn creating_posts_is_limited_per_user() {
    let app = spawn_app_with(|config| {
        config.server.limits.rate_limits = Switch::On;
        config.post_rate_per_user = "2/1h".parse().expect("a rate");
    })
    .await;
    let alice = token_for("user-alice", "alice");
    let post = json!({ "title": "hello", "body": "" });
    for _ in 0..2 {
        assert_eq!(app.create_post(&alice, &post).await.status(), 201);
    }

    let refused = app.create_post(&alice, &post).await;
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!((1700..=1800).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(refused, 429, "rate_limited").await;

    // Reading is not limited, and another user is not held back.
    assert_eq!(app.get_posts(&alice).await.status(), 200);
    let bob = token_for("user-bob", "bob");
    assert_eq!(app.create_post(&bob, &post).await.status(), 201);
}

#[tokio::test]
async fn with_rate_limits_off_nothing_is_limited() {
    let app = spawn_app_with(|config| {
        config.server.limits.rate_limits = Switch::Off;
        config.post_rate_per_user = "1/1h".parse().expect("a rate");
    })
    .await;
    let alice = token_for("user-alice", "alice");
    for _ in 0..3 {
        let status = app
            .create_post(&alice, &json!({ "title": "t", "body": "b" }))
            .await
            .status();
        assert_eq!(status, 201);
    }
}
