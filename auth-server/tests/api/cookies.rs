//! The refresh cookie of browser apps (`"delivery": "cookie"`): its attributes, rotation, reuse
//! detection, the grace window and logout through it, the CSRF checks (a JSON body and an
//! allowed `Origin`, or nothing is spent), and the CORS credentials that let a page use it.

use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use test_support::cors::{self, FRONTEND, header};

use crate::helpers::{PASSWORD, TestApp, assert_bearer_error, assert_error, json, spawn_app_with};

/// A listed origin on https (the cookie is `Secure`) and the development one (it is not).
const APP: &str = "https://app.example.com";
const ORIGINS: &str = "https://app.example.com,http://localhost:5173";
const THIRTY_DAYS: u64 = 30 * 24 * 3600;

async fn spawn_listing(origins: &str, grace: Duration) -> TestApp {
    spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = origins.parse().expect("valid origins");
        config.refresh_reuse_grace = grace;
    })
    .await
}

async fn spawn() -> TestApp {
    spawn_listing(ORIGINS, Duration::ZERO).await
}

/// The `Set-Cookie` values of an answer.
fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("an ASCII header").to_owned())
        .collect()
}

/// One cookie as set: its value and attributes.
#[derive(Debug)]
struct Cookie {
    token: String,
    path: String,
    max_age: u64,
    secure: bool,
    raw: String,
}

/// Both cookies of an answer, checked to be `refresh_token`, `HttpOnly`, `SameSite=Strict`, one
/// for `/token` and one for `/logout`, with one value and one `Max-Age`; returns the `/token` one.
fn both_cookies(response: &Response) -> Cookie {
    let cookies: Vec<Cookie> = set_cookies(response).iter().map(|raw| parse(raw)).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let paths: Vec<&str> = cookies.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/token", "/logout"], "{cookies:?}");
    assert_eq!(cookies[0].token, cookies[1].token);
    assert_eq!(cookies[0].max_age, cookies[1].max_age);
    assert_eq!(cookies[0].secure, cookies[1].secure);
    cookies.into_iter().next().expect("two cookies")
}

fn parse(raw: &str) -> Cookie {
    let mut parts = raw.split("; ");
    let token = parts
        .next()
        .and_then(|pair| pair.strip_prefix("refresh_token="))
        .unwrap_or_else(|| panic!("a refresh_token cookie: {raw}"))
        .to_owned();
    let attributes: Vec<&str> = parts.collect();
    assert!(attributes.contains(&"HttpOnly"), "{raw}");
    assert!(attributes.contains(&"SameSite=Strict"), "{raw}");
    let value = |name: &str| {
        attributes
            .iter()
            .find_map(|a| a.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {raw}"))
    };
    let secure = attributes.contains(&"Secure");
    assert_eq!(attributes.len(), 4 + usize::from(secure), "no other attribute: {raw}");
    Cookie {
        token,
        path: value("Path=").to_owned(),
        max_age: value("Max-Age=").parse().expect("a Max-Age"),
        secure,
        raw: raw.to_owned(),
    }
}

/// Both cookies cleared: empty, `Max-Age=0`.
fn assert_cleared(response: &Response) {
    let cookie = both_cookies(response);
    assert_eq!(cookie.token, "", "{}", cookie.raw);
    assert_eq!(cookie.max_age, 0, "{}", cookie.raw);
}

async fn login_from(app: &TestApp, origin: &str) -> Response {
    app.client
        .post(app.url("/login"))
        .header("origin", origin)
        .json(&json!({ "username": "alice", "password": PASSWORD, "delivery": "cookie" }))
        .send()
        .await
        .expect("POST /login")
}

/// Registers alice and logs her in with cookie delivery from `APP`; the answer's body and cookie.
async fn cookie_session(app: &TestApp) -> (Value, Cookie) {
    app.registered("alice", PASSWORD).await;
    logged_in_by_cookie(app).await
}

async fn logged_in_by_cookie(app: &TestApp) -> (Value, Cookie) {
    let response = login_from(app, APP).await;
    assert_eq!(response.status(), 200);
    let cookie = both_cookies(&response);
    (json(response).await, cookie)
}

/// `POST /token` with `body` and the cookie holding `token`, from `origin` (if any).
async fn refresh_with_cookie(app: &TestApp, token: &str, origin: Option<&str>) -> Response {
    let mut request = app
        .client
        .post(app.url("/token"))
        .header("cookie", format!("theme=dark; refresh_token={token}"))
        .json(&json!({}));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.expect("POST /token")
}

async fn logout_with_cookie(app: &TestApp, token: &str, origin: Option<&str>, body: Value) -> Response {
    let mut request = app
        .client
        .delete(app.url("/logout"))
        .header("cookie", format!("refresh_token={token}"))
        .json(&body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.expect("DELETE /logout")
}

/// A cookie refresh that must succeed: the next cookie.
async fn refreshed_by_cookie(app: &TestApp, token: &str) -> Cookie {
    let response = refresh_with_cookie(app, token, Some(APP)).await;
    assert_eq!(response.status(), 200);
    let cookie = both_cookies(&response);
    assert_access_only(&json(response).await);
    cookie
}

/// The body of cookie delivery: the access token, no refresh token.
fn assert_access_only(body: &Value) {
    assert_eq!(
        crate::helpers::sorted_keys(body),
        ["accessToken", "expiresIn", "tokenType"],
        "{body}"
    );
    assert_eq!(body["tokenType"], "Bearer");
}

async fn ended_sids(app: &TestApp) -> Vec<String> {
    let body = json(app.get("/sessions/ended?after=0").await).await;
    body["ended"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| entry["sid"].as_str().expect("a sid").to_owned())
        .collect()
}

#[tokio::test]
async fn cookie_login_sets_both_cookies_and_no_refresh_token_in_the_body() {
    let app = spawn().await;
    app.registered("alice", PASSWORD).await;

    let response = login_from(&app, APP).await;

    assert_eq!(response.status(), 200);
    assert_eq!(header(response.headers(), "cache-control"), Some("no-store"));
    let cookie = both_cookies(&response);
    assert!(cookie.secure, "{}", cookie.raw);
    assert!(
        (THIRTY_DAYS - 5..=THIRTY_DAYS).contains(&cookie.max_age),
        "Max-Age is the session's life: {}",
        cookie.raw
    );
    let claims = app.refresh_claims(&cookie.token);
    let body = json(response).await;
    assert_access_only(&body);
    let access = app
        .access
        .verify(body["accessToken"].as_str().expect("an access token"))
        .expect("a valid access token");
    assert_eq!(access.sid, claims.sid);
    assert!(!body.to_string().contains(&cookie.token));
}

#[tokio::test]
async fn a_development_origin_gets_no_secure_and_the_body_flow_no_cookie() {
    let app = spawn().await;
    app.registered("alice", PASSWORD).await;

    let cookie = both_cookies(&login_from(&app, FRONTEND).await);
    assert!(!cookie.secure, "{}", cookie.raw);

    // The tutorial's flow: both tokens in the body, no cookie, also from a browser.
    for delivery in [None, Some("body")] {
        let mut body = json!({ "username": "alice", "password": PASSWORD });
        if let Some(delivery) = delivery {
            body["delivery"] = json!(delivery);
        }
        let response = app
            .client
            .post(app.url("/login"))
            .header("origin", APP)
            .json(&body)
            .send()
            .await
            .expect("POST /login");
        assert_eq!(response.status(), 200);
        assert!(set_cookies(&response).is_empty());
        assert!(json(response).await["refreshToken"].is_string());
    }
    let response = app
        .post_json(
            "/login",
            &json!({ "username": "alice", "password": PASSWORD, "delivery": "jar" }),
        )
        .await;
    assert_error(response, 400, "invalid_body").await;
}

#[tokio::test]
async fn samesite_none_is_always_secure() {
    let app = spawn_app_with(|config| {
        config.server.cors.cors_allowed_origins = ORIGINS.parse().expect("valid origins");
        config.refresh_cookie_samesite = auth_server::cookie::SameSite::None;
    })
    .await;
    app.registered("alice", PASSWORD).await;

    let response = login_from(&app, FRONTEND).await;

    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    for cookie in cookies {
        assert!(
            cookie.contains("; SameSite=None") && cookie.ends_with("; Secure"),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn a_cookie_refresh_rotates_and_replaces_both_cookies() {
    let app = spawn().await;
    let (_, first) = cookie_session(&app).await;

    let next = refreshed_by_cookie(&app, &first.token).await;

    assert_ne!(next.token, first.token);
    assert_eq!(
        app.refresh_claims(&next.token).sid,
        app.refresh_claims(&first.token).sid
    );
    assert!(next.secure);
    // Max-Age is what is left of the session, not a new 30 days.
    app.age_sessions(Duration::from_secs(24 * 3600)).await;
    let later = refreshed_by_cookie(&app, &next.token).await;
    let left = THIRTY_DAYS - 24 * 3600;
    assert!((left - 5..=left).contains(&later.max_age), "{}", later.raw);
    // The body token still works as ever beside it: the same session, rotated once more.
    let body = app.refreshed(&later.token).await;
    assert_eq!(
        app.refresh_claims(&body.refresh).sid,
        app.refresh_claims(&first.token).sid
    );
}

#[tokio::test]
async fn a_body_token_ignores_the_cookie() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;
    let body = app.logged_in("alice", PASSWORD).await;

    let response = app
        .client
        .post(app.url("/token"))
        .header("cookie", format!("refresh_token={}", cookie.token))
        .json(&json!({ "token": body.refresh }))
        .send()
        .await
        .expect("POST /token");

    assert_eq!(response.status(), 200);
    assert!(set_cookies(&response).is_empty());
    assert!(json(response).await["refreshToken"].is_string());
    // The cookie's session was not touched.
    refreshed_by_cookie(&app, &cookie.token).await;
}

#[tokio::test]
async fn a_spent_cookie_presented_again_revokes_the_session_and_clears_the_cookies() {
    let app = spawn().await;
    let (_, first) = cookie_session(&app).await;
    let next = refreshed_by_cookie(&app, &first.token).await;

    // The grace is 0 s: the old cookie's token is spent, and presenting it again is theft.
    let response = refresh_with_cookie(&app, &first.token, Some(APP)).await;
    assert_cleared(&response);
    let body = assert_bearer_error(response, 403, "invalid_grant").await;
    assert!(
        body["message"].as_str().unwrap_or_default().contains("revoked"),
        "{body}"
    );

    let response = refresh_with_cookie(&app, &next.token, Some(APP)).await;
    assert_cleared(&response);
    assert_bearer_error(response, 403, "invalid_grant").await;
    let sid = app.refresh_claims(&next.token).sid;
    assert!(ended_sids(&app).await.contains(&sid));
}

#[tokio::test]
async fn within_the_grace_a_spent_cookie_gets_the_current_cookie() {
    let app = spawn_listing(ORIGINS, Duration::from_secs(10)).await;
    let (_, first) = cookie_session(&app).await;
    let next = refreshed_by_cookie(&app, &first.token).await;

    let again = refreshed_by_cookie(&app, &first.token).await;

    assert_eq!(again.token, next.token, "the session's current refresh token, again");
    // Nothing was revoked: the current cookie goes on.
    refreshed_by_cookie(&app, &next.token).await;
}

#[tokio::test]
async fn logout_by_cookie_ends_the_session_and_clears_both_cookies() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;
    let other = app.logged_in("alice", PASSWORD).await;
    let sid = app.refresh_claims(&cookie.token).sid;

    let response = logout_with_cookie(&app, &cookie.token, Some(APP), json!({})).await;

    assert_eq!(response.status(), 204);
    assert_cleared(&response);
    assert!(ended_sids(&app).await.contains(&sid));
    let response = refresh_with_cookie(&app, &cookie.token, Some(APP)).await;
    assert_cleared(&response);
    assert_bearer_error(response, 403, "invalid_grant").await;
    // Only that session.
    app.refreshed(&other.refresh).await;
    // Again: nothing left to end, still 204, the cookies cleared.
    let response = logout_with_cookie(&app, &cookie.token, Some(APP), json!({})).await;
    assert_eq!(response.status(), 204);
    assert_cleared(&response);
}

#[tokio::test]
async fn a_global_logout_by_cookie_ends_every_session() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;
    let other = app.logged_in("alice", PASSWORD).await;

    let response = logout_with_cookie(&app, &cookie.token, Some(APP), json!({ "scope": "global" })).await;

    assert_eq!(response.status(), 204);
    assert_cleared(&response);
    let ended = ended_sids(&app).await;
    assert!(ended.contains(&app.refresh_claims(&cookie.token).sid));
    assert!(ended.contains(&app.refresh_claims(&other.refresh).sid));
    assert_error(app.refresh(&other.refresh).await, 403, "invalid_grant").await;
}

#[tokio::test]
async fn no_token_and_no_cookie_is_refused_as_before() {
    let app = spawn().await;
    let response = app
        .client
        .post(app.url("/token"))
        .header("origin", APP)
        .json(&json!({}))
        .send()
        .await
        .expect("POST /token");
    assert!(set_cookies(&response).is_empty());
    assert_bearer_error(response, 401, "invalid_request").await;

    let response = app.delete_json("/logout", &json!({})).await;
    assert_error(response, 400, "invalid_body").await;
}

/// The classic CSRF: an HTML form on any page posts to `/token`, and the browser attaches the
/// cookie. The form cannot send JSON: refused before anything else, nothing spent.
#[tokio::test]
async fn a_form_post_with_the_cookie_spends_nothing() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;

    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "token="),
        ("application/x-www-form-urlencoded", ""),
        ("text/plain", "{}"),
        ("multipart/form-data; boundary=x", "--x--"),
    ] {
        let response = app
            .client
            .post(app.url("/token"))
            .header("origin", APP)
            .header("cookie", format!("refresh_token={}", cookie.token))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST /token");
        assert!(set_cookies(&response).is_empty(), "{content_type}");
        assert_error(response, 400, "invalid_body").await;
    }
    let response = app
        .client
        .delete(app.url("/logout"))
        .header("origin", APP)
        .header("cookie", format!("refresh_token={}", cookie.token))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("DELETE /logout");
    assert_error(response, 400, "invalid_body").await;

    // The token was not spent: the page's own refresh still works, with no reuse detected.
    refreshed_by_cookie(&app, &cookie.token).await;
}

/// A page on an origin that is not listed (or a request with no `Origin`) cannot use the
/// cookie, even with JSON: `403 invalid_origin`, nothing spent, nothing ended, cookies kept.
#[tokio::test]
async fn the_cookie_from_an_unlisted_origin_spends_and_ends_nothing() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;

    for origin in [
        Some("https://evil.example"),
        Some("http://localhost:5174"),
        Some("https://app.example.com.evil.example"),
        Some("null"),
        None,
    ] {
        let response = refresh_with_cookie(&app, &cookie.token, origin).await;
        assert!(set_cookies(&response).is_empty(), "{origin:?}");
        assert_bearer_error(response, 403, "invalid_origin").await;
        for body in [json!({}), json!({ "scope": "global" })] {
            let response = logout_with_cookie(&app, &cookie.token, origin, body).await;
            assert!(set_cookies(&response).is_empty(), "{origin:?}");
            assert_bearer_error(response, 403, "invalid_origin").await;
        }
    }
    // `*` allows any origin to call, but names no one: the cookie is still refused.
    let star = spawn_listing("*", Duration::ZERO).await;
    let (_, star_cookie) = cookie_session(&star).await;
    let response = refresh_with_cookie(&star, &star_cookie.token, Some(APP)).await;
    assert_bearer_error(response, 403, "invalid_origin").await;

    refreshed_by_cookie(&app, &cookie.token).await;
}

/// The server's own origin may use the cookie (a page it would serve itself), listed or not.
#[tokio::test]
async fn the_servers_own_origin_may_use_the_cookie() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;

    let response = refresh_with_cookie(&app, &cookie.token, Some(&app.address)).await;

    assert_eq!(response.status(), 200);
    both_cookies(&response);
}

#[tokio::test]
async fn listed_origins_get_credentials_others_and_star_never() {
    let app = spawn().await;
    let (_, cookie) = cookie_session(&app).await;
    let credentials =
        |response: &Response| header(response.headers(), "access-control-allow-credentials").map(str::to_owned);

    for (origin, granted) in [(APP, true), (FRONTEND, true), ("https://evil.example", false)] {
        for path in ["/token", "/logout"] {
            let method = if path == "/token" { "POST" } else { "DELETE" };
            let response = cors::preflight(&app.client, &app.url(path), method, origin, "content-type").await;
            assert_eq!(
                credentials(&response).as_deref(),
                granted.then_some("true"),
                "{origin} {path}"
            );
            assert_eq!(cors::granted(&response), granted.then_some(origin), "{origin} {path}");
        }
        let response = app
            .client
            .post(app.url("/token"))
            .header("origin", origin)
            .json(&json!({ "token": "not a token" }))
            .send()
            .await
            .expect("POST /token");
        assert_eq!(credentials(&response).as_deref(), granted.then_some("true"), "{origin}");
    }
    // A listed origin's cookie refresh: readable, with credentials.
    let response = refresh_with_cookie(&app, &cookie.token, Some(APP)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(cors::granted(&response), Some(APP));
    assert_eq!(credentials(&response).as_deref(), Some("true"));

    let star = spawn_listing("*", Duration::ZERO).await;
    let response = cors::preflight(&star.client, &star.url("/token"), "POST", APP, "content-type").await;
    assert_eq!(cors::granted(&response), Some("*"));
    assert_eq!(credentials(&response), None);
    let response = star
        .client
        .post(star.url("/token"))
        .header("origin", APP)
        .json(&json!({}))
        .send()
        .await
        .expect("POST /token");
    assert_eq!(cors::granted(&response), Some("*"));
    assert_eq!(credentials(&response), None);
}

#[tokio::test]
async fn the_openapi_document_describes_the_cookie_mode() {
    let app = spawn().await;
    let doc = json(app.get("/openapi.json").await).await;
    let text = doc.to_string();

    let login = &doc["paths"]["/login"]["post"];
    let schema = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a request schema");
    let name = schema.rsplit('/').next().expect("a name");
    assert!(
        doc["components"]["schemas"][name]["properties"]["delivery"].is_object(),
        "{schema}"
    );
    for (path, method) in [("/login", "post"), ("/token", "post"), ("/logout", "delete")] {
        let responses = doc["paths"][path][method]["responses"].to_string();
        assert!(responses.contains("Set-Cookie"), "{path}");
    }
    let token = doc["paths"]["/token"]["post"]["responses"]["403"].to_string();
    assert!(token.contains("invalid_origin"), "{token}");
    assert!(text.contains("AccessToken"));
}

/// The whole cookie flow, logged at `debug` by the real binary: no token, nor its signature,
/// ever appears in the output, whichever way the cookie went (refreshed, reused, refused for
/// its origin, logged out).
#[tokio::test]
async fn the_logs_never_contain_a_cookie_token() {
    use crate::binary::{configured_on, start};
    let data = crate::helpers::test_data().await;
    let mut command = configured_on(&data);
    command
        .env("RUST_LOG", "debug")
        .env("REFRESH_REUSE_GRACE", "0s")
        .env("CORS_ALLOWED_ORIGINS", ORIGINS);
    let server = start(&mut command).await;
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, cookie: Option<&str>, origin: &str, body: Value| {
        let mut request = client
            .request(method, server.url(path))
            .header("origin", origin)
            .json(&body);
        if let Some(token) = cookie {
            request = request.header("cookie", format!("refresh_token={token}"));
        }
        request.send()
    };
    let credentials = json!({ "username": "alice", "password": PASSWORD, "delivery": "cookie" });
    let registered = send(reqwest::Method::POST, "/register", None, APP, credentials.clone())
        .await
        .expect("POST /register");
    assert_eq!(registered.status(), 201);

    let mut seen = Vec::new();
    let login = send(reqwest::Method::POST, "/login", None, APP, credentials)
        .await
        .expect("POST /login");
    let first = both_cookies(&login).token;
    seen.push(
        json(login).await["accessToken"]
            .as_str()
            .expect("an access token")
            .to_owned(),
    );
    let refused = send(
        reqwest::Method::POST,
        "/token",
        Some(&first),
        "https://evil.example",
        json!({}),
    )
    .await
    .expect("POST /token");
    assert_eq!(refused.status(), 403);
    let rotated = send(reqwest::Method::POST, "/token", Some(&first), APP, json!({}))
        .await
        .expect("POST /token");
    let next = both_cookies(&rotated).token;
    seen.push(
        json(rotated).await["accessToken"]
            .as_str()
            .expect("an access token")
            .to_owned(),
    );
    let reused = send(reqwest::Method::POST, "/token", Some(&first), APP, json!({}))
        .await
        .expect("POST /token");
    assert_eq!(reused.status(), 403);
    let logout = send(reqwest::Method::DELETE, "/logout", Some(&next), APP, json!({}))
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    let test_support::Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0));

    assert!(output.contains("DEBUG"), "debug logging was on: {output}");
    assert!(output.contains("possible theft"), "the reuse was detected: {output}");
    seen.extend([first, next]);
    for token in &seen {
        let signature = token.rsplit('.').next().expect("a signature");
        assert!(!output.contains(signature), "the output contains a token:\n{output}");
    }
}
