//! Who may call `/posts`: 401 without a usable header, 403 for a refused token.

use serde_json::json;

use crate::helpers::{
    AUDIENCE, OTHER_SECRET, assert_bearer_error, claims_for, json, spawn_app, spawn_app_with, token_for, tokens,
    tokens_with_secret, use_hs256,
};

#[tokio::test]
async fn no_authorization_header_is_401() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/posts")).send().await.expect("GET /posts");
    assert_bearer_error(response, 401, "invalid_request").await;
}

#[tokio::test]
async fn basic_authorization_is_401() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/posts"))
        .header("authorization", "Basic dXNlcjpwYXNzd29yZA==")
        .send()
        .await
        .expect("GET /posts");
    assert_bearer_error(response, 401, "invalid_request").await;
}

#[tokio::test]
async fn missing_token_is_401_even_with_a_bad_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/posts"))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .expect("POST /posts");
    assert_bearer_error(response, 401, "invalid_request").await;
}

#[tokio::test]
async fn garbage_token_is_403() {
    let app = spawn_app().await;
    assert_bearer_error(app.get_posts("not.a.jwt").await, 403, "invalid_token").await;
}

#[tokio::test]
async fn expired_token_is_403() {
    let app = spawn_app().await;
    let mut claims = claims_for("user-1");
    // Well past the 5 s leeway.
    claims.iat -= 120;
    claims.nbf -= 120;
    claims.exp = claims.iat + 60;
    let token = tokens().sign(&claims).expect("sign");
    let body = assert_bearer_error(app.get_posts(&token).await, 403, "invalid_token").await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("expired")),
        "{body}"
    );
}

#[tokio::test]
async fn token_for_another_audience_is_403() {
    let app = spawn_app().await;
    let mut claims = claims_for("user-1");
    claims.aud = format!("not-{AUDIENCE}");
    let token = tokens().sign(&claims).expect("sign");
    assert_bearer_error(app.get_posts(&token).await, 403, "invalid_token").await;
}

/// About HS256 secrets themselves: on an HS256 server in every target.
#[tokio::test]
async fn token_signed_with_another_secret_is_403() {
    let app = spawn_app_with(use_hs256).await;
    let token = tokens_with_secret(OTHER_SECRET)
        .sign(&claims_for("user-1"))
        .expect("sign");
    assert_bearer_error(app.get_posts(&token).await, 403, "invalid_token").await;
    let response = app.create_post(&token, &json!({ "title": "t", "body": "b" })).await;
    assert_bearer_error(response, 403, "invalid_token").await;
}

#[tokio::test]
async fn valid_token_is_200() {
    let app = spawn_app().await;
    let response = app.get_posts(&token_for("user-1", "ann")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await, json!([]));
}
