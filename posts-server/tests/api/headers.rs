//! `X-Content-Type-Options: nosniff` on every answer: successes, errors, `404`s, `405`s,
//! `413`s and preflights alike.

use reqwest::Response;
use test_support::cors::{self, FRONTEND};

use crate::helpers::{spawn_app_with, token_for};

fn assert_nosniff(response: &Response, what: &str) {
    let value = response
        .headers()
        .get("x-content-type-options")
        .and_then(|value| value.to_str().ok());
    assert_eq!(
        value,
        Some("nosniff"),
        "{what} answers {} without nosniff: {:?}",
        response.status(),
        response.headers()
    );
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let app = spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = FRONTEND.parse().expect("a valid origin");
    })
    .await;
    let token = token_for("user-1", "ann");
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/posts"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let answers = [
        ("GET /healthz", app.client.get(app.url("/healthz")).send().await, 200),
        ("GET /metrics", app.client.get(app.url("/metrics")).send().await, 200),
        (
            "GET /posts",
            app.client.get(app.url("/posts")).bearer_auth(&token).send().await,
            200,
        ),
        (
            "GET /posts without a token",
            app.client.get(app.url("/posts")).send().await,
            401,
        ),
        (
            "GET /posts with a bad token",
            app.client.get(app.url("/posts")).bearer_auth("x.y.z").send().await,
            403,
        ),
        ("POST /posts", post(br#"{"title":"t","body":"b"}"#.to_vec()).await, 201),
        ("POST /posts not JSON", post(b"{nope".to_vec()).await, 400),
        ("POST /posts with 17 KiB", post(vec![b' '; 17 * 1024]).await, 413),
        ("GET /nowhere", app.client.get(app.url("/nowhere")).send().await, 404),
        ("PUT /posts", app.client.put(app.url("/posts")).send().await, 405),
        (
            "preflight",
            Ok(cors::preflight(&app.client, &app.url("/posts"), "GET", FRONTEND, "authorization").await),
            200,
        ),
    ];
    for (what, response, status) in answers {
        let response = response.expect("an answer");
        assert_eq!(response.status(), status, "{what}");
        assert_nosniff(&response, what);
    }
}
