//! Failures outside the handlers still answer with the contract's JSON error.

use serde_json::json;

use crate::helpers::{assert_error, spawn_app, token_for};

#[tokio::test]
async fn body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let body = json!({ "title": "t", "body": "x".repeat(17 * 1024) });
    let response = app.create_post(&token_for("user-1", "ann"), &body).await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_route_is_404() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/nope")).send().await.expect("GET /nope");
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_method_is_405() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/posts"))
        .send()
        .await
        .expect("DELETE /posts");
    let allow = response.headers().get("allow").expect("an Allow header").to_owned();
    assert_eq!(allow.to_str().expect("ASCII"), "GET,HEAD,POST");
    assert_error(response, 405, "method_not_allowed").await;
    let response = app
        .client
        .post(app.url("/healthz"))
        .send()
        .await
        .expect("POST /healthz");
    assert_error(response, 405, "method_not_allowed").await;
}
