//! Calls from a browser on another origin (`CORS_ALLOWED_ORIGINS`): preflights for bearer
//! requests, grants on every answer (a refused token included, so a page can see its 403 and
//! refresh), the headers scripts may read, and no grant by default.

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::binary::POSTS_SERVER;
use crate::helpers::{ACCESS_SECRET, TestApp, TestDir, spawn_app, spawn_app_with, token_for};

const FRONTEND: &str = "http://localhost:5173";

async fn spawn_allowing(origins: &str) -> TestApp {
    spawn_app_with(|config| {
        config.cors.cors_allowed_origins = origins.parse().expect("valid origins");
    })
    .await
}

/// The browser's question before `method /posts` with a bearer token and a JSON body.
async fn preflight(app: &TestApp, method: &str, origin: &str) -> Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/posts"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("send a preflight")
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().expect("an ASCII header"))
}

/// A comma-separated header's entries, lowercased.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .collect()
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_granted() {
    let app = spawn_allowing(FRONTEND).await;

    for method in ["GET", "POST"] {
        let response = preflight(&app, method, FRONTEND).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), Some(FRONTEND));
        assert!(list(headers, "access-control-allow-methods").contains(&method.to_ascii_lowercase()));
        let allowed = list(headers, "access-control-allow-headers");
        for name in ["authorization", "content-type"] {
            assert!(allowed.contains(&name.to_owned()), "{allowed:?}");
        }
        assert_eq!(header(headers, "access-control-allow-credentials"), None);
    }
}

#[tokio::test]
async fn another_origin_gets_no_grant() {
    let app = spawn_allowing(FRONTEND).await;
    let token = token_for("user-1", "ann");

    for origin in ["http://evil.example", "http://localhost:3001", "http://127.0.0.1:5173"] {
        let response = preflight(&app, "GET", origin).await;
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
        let response = get_posts_from(&app, origin, &token).await;
        assert_eq!(
            response.status(),
            200,
            "{origin}: the request itself is answered as ever"
        );
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
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
    assert_eq!(header(created.headers(), "access-control-allow-origin"), Some(FRONTEND));

    let listed = get_posts_from(&app, FRONTEND, &token).await;
    assert_eq!(listed.status(), 200);
    assert_eq!(header(listed.headers(), "access-control-allow-origin"), Some(FRONTEND));
}

#[tokio::test]
async fn a_refused_token_is_readable_with_its_challenge() {
    let app = spawn_allowing(FRONTEND).await;

    let response = get_posts_from(&app, FRONTEND, "not-a-token").await;

    assert_eq!(response.status(), 403);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(FRONTEND));
    let exposed = list(headers, "access-control-expose-headers");
    for name in ["www-authenticate", "retry-after", "x-request-id"] {
        assert!(exposed.contains(&name.to_owned()), "{exposed:?}");
    }
    assert!(header(headers, "www-authenticate").is_some());
}

#[tokio::test]
async fn a_port_wildcard_allows_every_port_of_its_host_only() {
    let app = spawn_allowing("http://localhost:*,http://127.0.0.1:*").await;
    let token = token_for("user-1", "ann");

    for origin in ["http://localhost:5173", "http://127.0.0.1:8080"] {
        let response = get_posts_from(&app, origin, &token).await;
        assert_eq!(header(response.headers(), "access-control-allow-origin"), Some(origin));
    }
    for origin in ["https://127.0.0.1:8080", "http://example.com:5173"] {
        let response = get_posts_from(&app, origin, &token).await;
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn by_default_no_origin_gets_a_grant() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");

    let response = preflight(&app, "GET", FRONTEND).await;
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
    let response = get_posts_from(&app, FRONTEND, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_malformed_setting_refuses_the_start_naming_it() {
    for value in ["localhost:5173", "http://localhost:5173/app", "ftp://example.com"] {
        let dir = TestDir::new();
        let mut command = POSTS_SERVER.command(dir.path());
        command
            .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
            .env("CORS_ALLOWED_ORIGINS", value);
        let refusal = POSTS_SERVER.refused_start(&mut command).await;
        refusal.assert_one_line_naming("CORS_ALLOWED_ORIGINS");
    }
}
