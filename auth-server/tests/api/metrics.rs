//! What operators see: `GET /metrics`, `x-request-id`, and `LOG_FORMAT=json`.
//!
//! The metrics recorder is one per process, and the tests of this target run side by side in
//! one process: a test on an in-process server sees the counts of every other test too. Those
//! tests compare a scrape before and after what they did and expect at least their own counts;
//! the exact counts are checked on a server binary of their own, a process nobody else talks to.

use std::time::Duration;

use serde_json::{Value, json};
use service_kit::rate_limit::Switch;
use test_support::observe::{self, header, unique};
use test_support::prometheus::{self, delta};
use test_support::{Exit, ServerProcess};

use crate::binary::{configured_on, post, start, tokens};
use crate::helpers::{PASSWORD, TestApp, age_sessions, spawn_app, spawn_app_with, test_data};

async fn scrape(app: &TestApp) -> String {
    prometheus::scrape(&app.client, &app.url("/metrics")).await
}

fn login_outcome(outcome: &str) -> [(&'static str, &str); 1] {
    [("outcome", outcome)]
}

/// Every auth series, as (metric, label, each value of the label), exposed from the start.
const AUTH_SERIES: [(&str, &str, &[&str]); 3] = [
    ("auth_logins_total", "outcome", &["succeeded", "failed", "rate_limited"]),
    (
        "auth_refreshes_total",
        "outcome",
        &["rotated", "grace", "reuse_detected"],
    ),
    (
        "auth_sessions_revoked_total",
        "reason",
        &["logout", "global_logout", "reuse", "session_deleted", "password_change"],
    ),
];

#[tokio::test]
async fn metrics_answers_200_text_plain_in_the_prometheus_format() {
    let app = spawn_app().await;

    let response = app.get("/metrics").await;

    let text = prometheus::assert_exposition(response).await;
    for kind in [
        "# TYPE auth_logins_total counter",
        "# TYPE auth_refreshes_total counter",
        "# TYPE auth_sessions_revoked_total counter",
    ] {
        assert!(text.contains(kind), "{kind}:\n{text}");
    }
    // Every auth series is there from the start, at 0 or more.
    for (name, label, values) in AUTH_SERIES {
        for value in values {
            let series = format!(r#"{name}{{{label}="{value}"}} "#);
            assert!(text.contains(&series), "{series}:\n{text}");
        }
    }
}

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_method_and_status() {
    let app = spawn_app().await;
    let before = scrape(&app).await;

    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let unknown = format!("/{}", unique("no-such-path"));
    assert_eq!(app.get(&unknown).await.status(), 404);
    let after = scrape(&app).await;

    let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
    assert!(
        delta(&before, &after, "http_requests_total", &healthz) >= 3.0,
        "{after}"
    );
    prometheus::assert_timed(&before, &after, "/healthz", "GET", 3.0);
    let timed = [("route", "/healthz"), ("method", "GET")];
    assert!(prometheus::value(&after, "http_request_duration_seconds_sum", &timed) > 0.0);
    assert!(
        after.contains("# TYPE http_request_duration_seconds histogram"),
        "{after}"
    );
    // An unknown path is counted under one label, never under its own.
    prometheus::assert_unmatched_counted(&before, &after, &unknown);
}

#[tokio::test]
async fn a_failed_login_a_rotation_and_a_reuse_are_counted() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("metrics-reuse").await;
    let before = scrape(&app).await;

    assert_eq!(app.login("metrics-reuse", "not the password").await.status(), 401);
    app.refreshed(&tokens.refresh).await;
    assert_eq!(app.refresh(&tokens.refresh).await.status(), 403);
    let after = scrape(&app).await;

    let moved = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, name, labels);
    assert!(moved("auth_logins_total", &login_outcome("failed")) >= 1.0, "{after}");
    assert!(
        moved("auth_refreshes_total", &[("outcome", "rotated")]) >= 1.0,
        "{after}"
    );
    assert!(moved("auth_refreshes_total", &[("outcome", "reuse_detected")]) >= 1.0);
    assert!(moved("auth_sessions_revoked_total", &[("reason", "reuse")]) >= 1.0);
}

#[tokio::test]
async fn a_spent_token_within_the_grace_period_is_counted_as_grace() {
    let app = spawn_app_with(|c| c.refresh_reuse_grace = Duration::from_secs(60)).await;
    let (_, tokens) = app.user_with_session("metrics-grace").await;
    app.refreshed(&tokens.refresh).await;
    let before = scrape(&app).await;

    app.refreshed(&tokens.refresh).await;
    let after = scrape(&app).await;

    assert!(delta(&before, &after, "auth_refreshes_total", &[("outcome", "grace")]) >= 1.0);
}

#[tokio::test]
async fn a_rate_limited_login_is_counted() {
    let app = spawn_app_with(|c| {
        c.server.limits.rate_limits = Switch::On;
        c.login_rate_per_username = "1/1h".parse().expect("a rate");
    })
    .await;
    app.registered("metrics-limited", PASSWORD).await;
    app.logged_in("metrics-limited", PASSWORD).await;
    let before = scrape(&app).await;

    assert_eq!(app.login("metrics-limited", PASSWORD).await.status(), 429);
    let after = scrape(&app).await;

    assert!(delta(&before, &after, "auth_logins_total", &login_outcome("rate_limited")) >= 1.0);
}

#[tokio::test]
async fn logouts_count_the_sessions_they_end() {
    let app = spawn_app().await;
    let (_, one) = app.user_with_session("metrics-logout").await;
    let two = app.logged_in("metrics-logout", PASSWORD).await;
    let three = app.logged_in("metrics-logout", PASSWORD).await;
    let before = scrape(&app).await;

    assert_eq!(app.logout(&one.refresh, None).await.status(), 204);
    assert_eq!(app.logout(&three.refresh, Some("global")).await.status(), 204);
    let after = scrape(&app).await;

    let revoked = |reason| delta(&before, &after, "auth_sessions_revoked_total", &[("reason", reason)]);
    assert!(revoked("logout") >= 1.0, "{after}");
    assert!(revoked("global_logout") >= 2.0, "{after}");
    assert_eq!(
        app.refresh(&two.refresh).await.status(),
        403,
        "ended by the global logout"
    );
}

/// On a server process of its own, before any request, every auth series is exposed at exactly
/// 0: a dashboard sees the series (and a rate of 0) before the first login, not a gap.
#[tokio::test]
async fn every_auth_series_starts_at_zero_in_a_fresh_process() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;
    let text = scrape_process(&server).await;
    server.terminate().await;
    for (name, label, values) in AUTH_SERIES {
        for value in values {
            let series = format!(r#"{name}{{{label}="{value}"}} 0"#);
            assert!(text.lines().any(|line| line == series), "{series}:\n{text}");
        }
    }
}

async fn scrape_process(server: &ServerProcess) -> String {
    prometheus::scrape(&reqwest::Client::new(), &server.url("/metrics")).await
}

async fn login_status(server: &ServerProcess, username: &str, password: &str) -> u16 {
    let body = json!({ "username": username, "password": password });
    post(server, "/login", &body).await.status().as_u16()
}

async fn login(server: &ServerProcess, username: &str) -> Value {
    tokens(server, "/login", &json!({ "username": username, "password": PASSWORD })).await
}

fn refresh_token(pair: &Value) -> &str {
    pair["refreshToken"].as_str().expect("a refreshToken")
}

/// On a process of its own, every count is exactly what the test caused.
#[tokio::test]
async fn a_server_process_counts_exactly_what_happened() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command
        .env("RATE_LIMITS", "on")
        .env("LOGIN_RATE_PER_USERNAME", "3/1h")
        .env("REFRESH_REUSE_GRACE", "1s");
    let server = start(&mut command).await;
    for username in ["alice", "bob"] {
        let body = json!({ "username": username, "password": PASSWORD });
        assert_eq!(post(&server, "/register", &body).await.status(), 201);
    }

    assert_eq!(login_status(&server, "alice", "not the password").await, 401);
    let first = login(&server, "alice").await;
    let spent = refresh_token(&first);
    tokens(&server, "/token", &json!({ "token": spent })).await;
    // Within the grace period, then after it.
    tokens(&server, "/token", &json!({ "token": spent })).await;
    // 1.3 s after the rotation, by the database's clock.
    age_sessions(&data, Duration::from_millis(1300)).await;
    assert_eq!(post(&server, "/token", &json!({ "token": spent })).await.status(), 403);
    let third = login(&server, "alice").await;
    assert_eq!(login_status(&server, "alice", PASSWORD).await, 429);
    let logout = reqwest::Client::new()
        .delete(server.url("/logout"))
        .json(&json!({ "token": refresh_token(&third) }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    login(&server, "bob").await;
    let bob = login(&server, "bob").await;
    let logout = reqwest::Client::new()
        .delete(server.url("/logout"))
        .json(&json!({ "token": refresh_token(&bob), "scope": "global" }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    let text = scrape_process(&server).await;
    server.terminate().await;

    let count = |name: &str, labels: &[(&str, &str)]| prometheus::value(&text, name, labels);
    let logins = "auth_logins_total";
    assert_eq!(count(logins, &login_outcome("succeeded")), 4.0, "{text}");
    assert_eq!(count(logins, &login_outcome("failed")), 1.0, "{text}");
    assert_eq!(count(logins, &login_outcome("rate_limited")), 1.0, "{text}");
    let refreshes = "auth_refreshes_total";
    assert_eq!(count(refreshes, &[("outcome", "rotated")]), 1.0, "{text}");
    assert_eq!(count(refreshes, &[("outcome", "grace")]), 1.0, "{text}");
    assert_eq!(count(refreshes, &[("outcome", "reuse_detected")]), 1.0, "{text}");
    let revoked = "auth_sessions_revoked_total";
    assert_eq!(count(revoked, &[("reason", "reuse")]), 1.0, "{text}");
    assert_eq!(count(revoked, &[("reason", "logout")]), 1.0, "{text}");
    assert_eq!(count(revoked, &[("reason", "global_logout")]), 2.0, "{text}");
    let requests = "http_requests_total";
    let login_with = |status| [("route", "/login"), ("method", "POST"), ("status", status)];
    assert_eq!(count(requests, &login_with("200")), 4.0, "{text}");
    assert_eq!(count(requests, &login_with("401")), 1.0, "{text}");
    assert_eq!(count(requests, &login_with("429")), 1.0, "{text}");
    let token_with = |status| [("route", "/token"), ("method", "POST"), ("status", status)];
    assert_eq!(count(requests, &token_with("200")), 2.0, "{text}");
    assert_eq!(count(requests, &token_with("403")), 1.0, "{text}");
    let timed = [("route", "/login"), ("method", "POST")];
    assert_eq!(count("http_request_duration_seconds_count", &timed), 6.0, "{text}");
}

#[tokio::test]
async fn a_sane_request_id_is_returned_as_sent_on_successes_errors_and_404s() {
    let app = spawn_app().await;
    let id = unique("sent-id");

    for (path, status) in [("/healthz", 200), ("/no-such-route", 404)] {
        observe::assert_id_returned(app.client.get(app.url(path)), &id, status, path).await;
    }
    let login = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/json")
        .body("{not json");
    observe::assert_id_returned(login, &id, 400, "POST /login").await;
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_new_one() {
    let app = spawn_app().await;

    let is_uuid = |id: &str| uuid::Uuid::parse_str(id).is_ok();
    observe::assert_insane_ids_replaced(&app.client, &app.url("/healthz"), is_uuid).await;
    // The longest sane id is kept.
    let longest = "b".repeat(128);
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", &longest)
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(header(&response, "x-request-id"), longest);
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_span_and_its_id() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("LOG_FORMAT", "json").env("RUST_LOG", "info");
    let server = start(&mut command).await;
    let id = unique("json-log");

    let login = reqwest::Client::new()
        .post(server.url("/login"))
        .json(&json!({ "username": "nobody", "password": PASSWORD }));
    observe::assert_id_returned(login, &id, 401, "POST /login").await;
    let Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{output}");

    observe::assert_json_logs(&output, "auth-server", &id, "POST", "/login", 401);
}

#[tokio::test]
async fn with_metrics_addr_metrics_move_to_a_listener_of_their_own() {
    let data = test_data().await;
    prometheus::assert_metrics_on_their_own_listener(
        &crate::binary::AUTH_SERVER,
        || configured_on(&data),
        "auth_logins_total",
        "/login",
    )
    .await;
}

#[tokio::test]
async fn a_bad_or_taken_metrics_addr_refuses_the_start_naming_it() {
    let data = test_data().await;
    prometheus::assert_bad_or_taken_metrics_addr_refused(&crate::binary::AUTH_SERVER, || configured_on(&data)).await;
}

async fn logout_process(server: &ServerProcess, body: &Value) -> u16 {
    let response = reqwest::Client::new()
        .delete(server.url("/logout"))
        .json(body)
        .send()
        .await
        .expect("DELETE /logout");
    response.status().as_u16()
}

/// `auth_sessions_revoked_total` counts sessions that ended, not logout requests: a repeated
/// logout ends nothing, a global logout with a spent token ends (and counts) its own session
/// alone, and a real global logout counts every session it ended.
#[tokio::test]
async fn revocations_count_the_sessions_actually_ended() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;
    let body = json!({ "username": "alice", "password": PASSWORD });
    assert_eq!(post(&server, "/register", &body).await.status(), 201);

    let first = login(&server, "alice").await;
    for _ in 0..3 {
        assert_eq!(
            logout_process(&server, &json!({ "token": refresh_token(&first) })).await,
            204
        );
    }
    let second = login(&server, "alice").await;
    let spent = refresh_token(&second);
    let next = tokens(&server, "/token", &json!({ "token": spent })).await;
    // A spent token cannot log out everywhere, but it ends its own session.
    assert_eq!(
        logout_process(&server, &json!({ "token": spent, "scope": "global" })).await,
        403
    );
    assert_eq!(
        post(&server, "/token", &json!({ "token": refresh_token(&next) }))
            .await
            .status(),
        403,
        "the session has ended"
    );
    let _third = login(&server, "alice").await;
    let fourth = login(&server, "alice").await;
    assert_eq!(
        logout_process(&server, &json!({ "token": refresh_token(&fourth), "scope": "global" })).await,
        204
    );
    let text = scrape_process(&server).await;
    server.terminate().await;

    let revoked = |reason| prometheus::value(&text, "auth_sessions_revoked_total", &[("reason", reason)]);
    assert_eq!(revoked("logout"), 2.0, "{text}");
    assert_eq!(revoked("global_logout"), 2.0, "{text}");
    assert_eq!(revoked("reuse"), 0.0, "{text}");
}
