//! Headers every answer carries: `X-Content-Type-Options: nosniff` on all of them (errors,
//! `404`s, `405`s, `413`s and preflights included), and `Cache-Control: no-store` with
//! `Pragma: no-cache` on the answers that carry tokens (RFC 6749 §5.1).

use reqwest::Response;
use serde_json::json;
use test_support::cors::{self, FRONTEND};

use crate::helpers::{PASSWORD, TestApp, Tokens, json, spawn_app_with};

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

fn assert_nosniff(response: &Response, what: &str) {
    assert_eq!(
        header(response, "x-content-type-options"),
        Some("nosniff"),
        "{what} answers {} without nosniff: {:?}",
        response.status(),
        response.headers()
    );
}

fn assert_not_stored(response: &Response, what: &str) {
    assert_eq!(header(response, "cache-control"), Some("no-store"), "{what}");
    assert_eq!(header(response, "pragma"), Some("no-cache"), "{what}");
}

async fn spawn_allowing_the_frontend() -> TestApp {
    spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = FRONTEND.parse().expect("a valid origin");
    })
    .await
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let app = spawn_allowing_the_frontend().await;
    let (_, tokens) = app.user_with_session("alice").await;

    let answers = [
        ("GET /healthz", app.get("/healthz").await, 200),
        ("GET /readyz", app.get("/readyz").await, 200),
        ("GET /metrics", app.get("/metrics").await, 200),
        ("GET /openapi.json", app.get("/openapi.json").await, 200),
        ("GET /nowhere", app.get("/nowhere").await, 404),
        (
            "PUT /login",
            app.client.put(app.url("/login")).send().await.expect("PUT /login"),
            405,
        ),
        (
            "POST /login with 17 KiB",
            app.post_raw("/login", vec![b' '; 17 * 1024]).await,
            413,
        ),
        ("POST /login not JSON", app.post_raw("/login", "{nope").await, 400),
        (
            "POST /login wrong password",
            app.login("alice", "wrong password").await,
            401,
        ),
        ("POST /token", app.refresh(&tokens.refresh).await, 200),
        ("DELETE /logout", app.logout(&tokens.refresh, None).await, 204),
        (
            "preflight",
            cors::preflight(&app.client, &app.url("/login"), "POST", FRONTEND, "content-type").await,
            200,
        ),
    ];
    for (what, response, status) in answers {
        assert_eq!(response.status(), status, "{what}");
        assert_nosniff(&response, what);
    }
}

#[tokio::test]
async fn answers_with_tokens_are_never_stored() {
    let app = spawn_allowing_the_frontend().await;
    app.registered("alice", PASSWORD).await;

    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status(), 200);
    assert_not_stored(&login, "POST /login");
    let tokens = Tokens::from(json(login).await);

    let refreshed = app.refresh(&tokens.refresh).await;
    assert_eq!(refreshed.status(), 200);
    assert_not_stored(&refreshed, "POST /token");

    // The same from a browser on an allowed origin.
    let from_browser = app
        .client
        .post(app.url("/login"))
        .header("origin", FRONTEND)
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("POST /login");
    assert_eq!(from_browser.status(), 200);
    assert_not_stored(&from_browser, "POST /login from a browser");
}
