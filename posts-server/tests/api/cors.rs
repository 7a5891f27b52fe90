//! Calls from a browser on another origin (`CORS_ALLOWED_ORIGINS`): preflights for bearer
//! requests, grants on every answer (a refused token included, so a page can see its 403 and
//! refresh), the headers scripts may read, and no grant by default.

use reqwest::Response;
use serde_json::json;
use test_support::cors::{self, FRONTEND, granted, header};

use crate::binary::POSTS_SERVER;
use crate::helpers::{TestApp, mode_env, spawn_app, spawn_app_with, token_for};

async fn spawn_allowing(origins: &str) -> TestApp {
    spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = origins.parse().expect("valid origins");
    })
    .await
}

/// The browser's question before `method /posts` with a bearer token and a JSON body.
async fn preflight(app: &TestApp, method: &str, origin: &str) -> Response {
    cors::preflight(
        &app.client,
        &app.url("/posts"),
        method,
        origin,
        "authorization,content-type",
    )
    .await
}

async fn get_posts_from(app: &TestApp, origin: &str, token: &str) -> Response {
    app.client
        .get(app.url("/posts"))
        .header("origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /posts")
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_granted() {
    let app = spawn_allowing(FRONTEND).await;

    for method in ["GET", "POST"] {
        let response = preflight(&app, method, FRONTEND).await;
        cors::assert_preflight_granted(&response, FRONTEND, method);
    }
}

#[tokio::test]
async fn another_origin_gets_no_grant() {
    let app = spawn_allowing(FRONTEND).await;
    let token = token_for("user-1", "ann");

    for origin in ["http://evil.example", "http://localhost:3001", "http://127.0.0.1:5173"] {
        cors::assert_no_grant(&preflight(&app, "GET", origin).await, origin);
        let response = get_posts_from(&app, origin, &token).await;
        assert_eq!(
            response.status(),
            200,
            "{origin}: the request itself is answered as ever"
        );
        cors::assert_no_grant(&response, origin);
    }
}

#[tokio::test]
async fn an_allowed_origin_may_read_posts_and_create_them() {
    let app = spawn_allowing(FRONTEND).await;
    let token = token_for("user-1", "ann");

    let created = app
        .client
        .post(app.url("/posts"))
        .header("origin", FRONTEND)
        .bearer_auth(&token)
        .json(&json!({ "title": "From a page", "body": "across origins" }))
        .send()
        .await
        .expect("POST /posts");
    assert_eq!(created.status(), 201);
    assert_eq!(granted(&created), Some(FRONTEND));

    let listed = get_posts_from(&app, FRONTEND, &token).await;
    assert_eq!(listed.status(), 200);
    assert_eq!(granted(&listed), Some(FRONTEND));
}

#[tokio::test]
async fn a_refused_token_is_readable_with_its_challenge() {
    let app = spawn_allowing(FRONTEND).await;

    let response = get_posts_from(&app, FRONTEND, "not-a-token").await;

    assert_eq!(response.status(), 403);
    cors::assert_readable_with_its_headers(&response, FRONTEND);
    assert!(header(response.headers(), "www-authenticate").is_some());
}

#[tokio::test]
async fn a_port_wildcard_allows_every_port_of_its_host_only() {
    let app = spawn_allowing("http://localhost:*,http://127.0.0.1:*").await;
    let token = token_for("user-1", "ann");

    for origin in ["http://localhost:5173", "http://127.0.0.1:8080"] {
        assert_eq!(granted(&get_posts_from(&app, origin, &token).await), Some(origin));
    }
    for origin in ["https://127.0.0.1:8080", "http://example.com:5173"] {
        cors::assert_no_grant(&get_posts_from(&app, origin, &token).await, origin);
    }
}

#[tokio::test]
async fn by_default_no_origin_gets_a_grant() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");

    cors::assert_no_grant(&preflight(&app, "GET", FRONTEND).await, FRONTEND);
    let response = get_posts_from(&app, FRONTEND, &token).await;
    assert_eq!(response.status(), 200);
    cors::assert_no_grant(&response, FRONTEND);
}

#[tokio::test]
async fn a_malformed_setting_refuses_the_start_naming_it() {
    let values = ["localhost:5173", "http://localhost:5173/app", "ftp://example.com"];
    let env = mode_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    cors::assert_malformed_origins_refused(&POSTS_SERVER, &env, &values).await;
}
