//! Calls from a browser on another origin (`CORS_ALLOWED_ORIGINS`): preflights, grants on
//! every answer (errors included), the headers scripts may read, and no grant by default.

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::binary::AUTH_SERVER;
use crate::helpers::{ACCESS_SECRET, REFRESH_SECRET, TestApp, TestDir, spawn_app, spawn_app_with};

const FRONTEND: &str = "http://localhost:5173";

async fn spawn_allowing(origins: &str) -> TestApp {
    spawn_app_with(|config| {
        config.cors.cors_allowed_origins = origins.parse().expect("valid origins");
    })
    .await
}

/// The browser's question before `POST path` with a JSON body from `origin`.
async fn preflight(app: &TestApp, method: &str, path: &str, origin: &str) -> Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("send a preflight")
}

/// A failed login from `origin`: `401`, with a challenge a script may want to read.
async fn login_from(app: &TestApp, origin: &str) -> Response {
    app.client
        .post(app.url("/login"))
        .header("origin", origin)
        .json(&json!({ "username": "nobody", "password": "wrong password" }))
        .send()
        .await
        .expect("send a login")
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

    let response = preflight(&app, "POST", "/login", FRONTEND).await;

    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(FRONTEND));
    let methods = list(headers, "access-control-allow-methods");
    for method in ["get", "post", "delete"] {
        assert!(methods.contains(&method.to_owned()), "{methods:?}");
    }
    let allowed = list(headers, "access-control-allow-headers");
    for name in ["authorization", "content-type"] {
        assert!(allowed.contains(&name.to_owned()), "{allowed:?}");
    }
    assert!(header(headers, "access-control-max-age").is_some());
    // Bearer tokens, never cookies: nothing is granted for credentials.
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn a_preflight_for_logout_is_granted_too() {
    let app = spawn_allowing(FRONTEND).await;

    let response = preflight(&app, "DELETE", "/logout", FRONTEND).await;

    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some(FRONTEND)
    );
    assert!(list(response.headers(), "access-control-allow-methods").contains(&"delete".to_owned()));
}

#[tokio::test]
async fn another_origin_gets_no_grant() {
    let app = spawn_allowing(FRONTEND).await;

    for origin in [
        "http://evil.example",
        "http://localhost:5174",
        "https://localhost:5173",
        "http://localhost:5173.evil.example",
        "null",
    ] {
        let response = preflight(&app, "POST", "/login", origin).await;
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
        let response = login_from(&app, origin).await;
        assert_eq!(
            response.status(),
            401,
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
async fn an_allowed_origin_may_read_errors_and_their_headers() {
    let app = spawn_allowing(FRONTEND).await;

    let response = login_from(&app, FRONTEND).await;

    assert_eq!(response.status(), 401);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(FRONTEND));
    let exposed = list(headers, "access-control-expose-headers");
    for name in ["www-authenticate", "retry-after", "x-request-id"] {
        assert!(exposed.contains(&name.to_owned()), "{exposed:?}");
    }
    assert!(list(headers, "vary").contains(&"origin".to_owned()));
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn a_port_wildcard_allows_every_port_of_its_host_only() {
    let app = spawn_allowing("http://localhost:*,http://127.0.0.1:*").await;

    for origin in ["http://localhost:5173", "http://127.0.0.1:40123", "http://localhost"] {
        let response = login_from(&app, origin).await;
        assert_eq!(header(response.headers(), "access-control-allow-origin"), Some(origin));
    }
    for origin in [
        "https://localhost:5173",
        "http://127.0.0.2:5173",
        "http://localhost.evil.example:80",
    ] {
        let response = login_from(&app, origin).await;
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn a_star_allows_any_origin_without_credentials() {
    let app = spawn_allowing("*").await;

    let response = login_from(&app, "https://anywhere.example").await;

    assert_eq!(header(response.headers(), "access-control-allow-origin"), Some("*"));
    assert_eq!(header(response.headers(), "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn by_default_no_origin_gets_a_grant() {
    let app = spawn_app().await;

    let response = preflight(&app, "POST", "/login", FRONTEND).await;
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
    let response = login_from(&app, FRONTEND).await;
    assert_eq!(response.status(), 401);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
    assert_eq!(header(response.headers(), "access-control-expose-headers"), None);
}

#[tokio::test]
async fn a_malformed_setting_refuses_the_start_naming_it() {
    for value in [
        "localhost:5173",
        "http://localhost:5173/",
        "*,http://localhost:5173",
        "http://*.example.com",
    ] {
        let dir = TestDir::new();
        let mut command = AUTH_SERVER.command(dir.path());
        command
            .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
            .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
            .env("CORS_ALLOWED_ORIGINS", value);
        let refusal = AUTH_SERVER.refused_start(&mut command).await;
        refusal.assert_one_line_naming("CORS_ALLOWED_ORIGINS");
    }
}
