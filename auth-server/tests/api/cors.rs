//! Calls from a browser on another origin (`CORS_ALLOWED_ORIGINS`): preflights, grants on
//! every answer (errors included), the headers scripts may read, and no grant by default.

use reqwest::Response;
use serde_json::json;
use test_support::cors::{self, FRONTEND, granted, header, list};

use crate::binary::{AUTH_SERVER, access_key_env};
use crate::helpers::{REFRESH_SECRET, TestApp, TestDir, spawn_app, spawn_app_with};

async fn spawn_allowing(origins: &str) -> TestApp {
    spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = origins.parse().expect("valid origins");
    })
    .await
}

/// The browser's question before `method path` with a JSON body from `origin`.
async fn preflight(app: &TestApp, method: &str, path: &str, origin: &str) -> Response {
    cors::preflight(&app.client, &app.url(path), method, origin, "content-type").await
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

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_granted() {
    let app = spawn_allowing(FRONTEND).await;

    let response = preflight(&app, "POST", "/login", FRONTEND).await;

    // Credentials too: a listed origin's page may use the refresh cookie (see `cookies`).
    cors::assert_preflight_granted(&response, FRONTEND, "POST");
    let headers = response.headers();
    let methods = list(headers, "access-control-allow-methods");
    for method in ["get", "post", "delete"] {
        assert!(methods.contains(&method.to_owned()), "{methods:?}");
    }
    assert!(header(headers, "access-control-max-age").is_some());
}

#[tokio::test]
async fn a_preflight_for_logout_is_granted_too() {
    let app = spawn_allowing(FRONTEND).await;

    let response = preflight(&app, "DELETE", "/logout", FRONTEND).await;

    assert_eq!(granted(&response), Some(FRONTEND));
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
        cors::assert_no_grant(&preflight(&app, "POST", "/login", origin).await, origin);
        let response = login_from(&app, origin).await;
        assert_eq!(
            response.status(),
            401,
            "{origin}: the request itself is answered as ever"
        );
        cors::assert_no_grant(&response, origin);
    }
}

#[tokio::test]
async fn an_allowed_origin_may_read_errors_and_their_headers() {
    let app = spawn_allowing(FRONTEND).await;

    let response = login_from(&app, FRONTEND).await;

    assert_eq!(response.status(), 401);
    cors::assert_readable_with_its_headers(&response, FRONTEND);
    let headers = response.headers();
    assert!(list(headers, "vary").contains(&"origin".to_owned()));
    assert_eq!(header(headers, "access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn a_port_wildcard_allows_every_port_of_its_host_only() {
    let app = spawn_allowing("http://localhost:*,http://127.0.0.1:*").await;

    for origin in ["http://localhost:5173", "http://127.0.0.1:40123", "http://localhost"] {
        assert_eq!(granted(&login_from(&app, origin).await), Some(origin));
    }
    for origin in [
        "https://localhost:5173",
        "http://127.0.0.2:5173",
        "http://localhost.evil.example:80",
    ] {
        cors::assert_no_grant(&login_from(&app, origin).await, origin);
    }
}

#[tokio::test]
async fn a_star_allows_any_origin_without_credentials() {
    let app = spawn_allowing("*").await;

    let response = login_from(&app, "https://anywhere.example").await;

    assert_eq!(granted(&response), Some("*"));
    assert_eq!(header(response.headers(), "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn by_default_no_origin_gets_a_grant() {
    let app = spawn_app().await;

    cors::assert_no_grant(&preflight(&app, "POST", "/login", FRONTEND).await, FRONTEND);
    let response = login_from(&app, FRONTEND).await;
    assert_eq!(response.status(), 401);
    cors::assert_no_grant(&response, FRONTEND);
    assert_eq!(header(response.headers(), "access-control-expose-headers"), None);
}

#[tokio::test]
async fn a_malformed_setting_refuses_the_start_naming_it() {
    let keys = TestDir::new();
    let mut envs = access_key_env(crate::ALG, keys.path());
    envs.push(("REFRESH_TOKEN_SECRET", REFRESH_SECRET.to_owned()));
    let secrets: Vec<(&str, &str)> = envs.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let values = [
        "localhost:5173",
        "http://localhost:5173/",
        "*,http://localhost:5173",
        "http://*.example.com",
    ];
    cors::assert_malformed_origins_refused(&AUTH_SERVER, &secrets, &values).await;
}
