//! What operators see: `GET /metrics`, `x-request-id`, and `LOG_FORMAT=json`.
//!
//! The metrics recorder is one per process, and the tests of this target run side by side in
//! one process: a test on an in-process server sees the counts of every other test too. Those
//! tests compare a scrape before and after what they did and expect at least their own counts;
//! the exact counts are checked on a server binary of their own, a process nobody else talks to.

use serde_json::json;
use test_support::observe::{self, header, unique};
use test_support::prometheus::{self, delta};
use test_support::{Exit, ServerProcess};
use tokio::process::Command;

use crate::binary::POSTS_SERVER;
use crate::helpers::{TestApp, TestData, in_mode, spawn_app, start_binary, test_data, token_for};

async fn scrape(app: &TestApp) -> String {
    prometheus::scrape(&app.client, &app.url("/metrics")).await
}

#[tokio::test]
async fn metrics_answers_200_text_plain_in_the_prometheus_format() {
    let app = spawn_app().await;
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await.expect("GET").status(),
        200
    );

    let response = app.client.get(app.url("/metrics")).send().await.expect("GET /metrics");

    let text = prometheus::assert_exposition(response).await;
    assert!(text.contains("# TYPE http_requests_total counter"), "{text}");
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        !text.contains("auth_logins_total"),
        "auth series on the posts server:\n{text}"
    );
}

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_method_and_status() {
    let app = spawn_app().await;
    let token = token_for("metrics-user", "ann");
    let before = scrape(&app).await;

    for _ in 0..2 {
        assert_eq!(app.get_posts(&token).await.status(), 200);
    }
    assert_eq!(app.get_posts("not-a-token").await.status(), 403);
    let unknown = format!("/posts/{}", unique("no-such-post"));
    assert_eq!(
        app.client.get(app.url(&unknown)).send().await.expect("GET").status(),
        404
    );
    let after = scrape(&app).await;

    let listed = [("route", "/posts"), ("method", "GET"), ("status", "200")];
    assert!(delta(&before, &after, "http_requests_total", &listed) >= 2.0, "{after}");
    let refused = [("route", "/posts"), ("method", "GET"), ("status", "403")];
    assert!(
        delta(&before, &after, "http_requests_total", &refused) >= 1.0,
        "{after}"
    );
    prometheus::assert_timed(&before, &after, "/posts", "GET", 3.0);
    prometheus::assert_unmatched_counted(&before, &after, &unknown);
}

#[tokio::test]
async fn a_sane_request_id_is_returned_as_sent_on_successes_errors_and_404s() {
    let app = spawn_app().await;
    let id = unique("sent-id");

    for (path, bearer, status) in [
        ("/posts", Some(token_for("user-1", "ann")), 200),
        ("/posts", None, 401),
        ("/nope", None, 404),
    ] {
        let mut request = app.client.get(app.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        observe::assert_id_returned(request, &id, status, path).await;
    }
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_new_one() {
    let app = spawn_app().await;

    observe::assert_insane_ids_replaced(&app.client, &app.url("/healthz"), observe::is_uuid).await;
}

fn command(data: &TestData) -> Command {
    let mut command = POSTS_SERVER.command(data.dir().path());
    in_mode(&mut command).env("POSTS_DATABASE_URL", data.database_url());
    command
}

async fn create_post(server: &ServerProcess, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/posts"))
        .header("x-request-id", id)
        .bearer_auth(token_for("user-1", "ann"))
        .json(&json!({ "title": "observed", "body": "by the operators" }))
        .send()
        .await
        .expect("POST /posts")
}

/// On a process of its own, every count is exactly what the test caused.
#[tokio::test]
async fn a_server_process_counts_exactly_what_happened() {
    let data = test_data().await;
    let server = start_binary(&mut command(&data)).await;

    for _ in 0..2 {
        assert_eq!(create_post(&server, "one").await.status(), 201);
    }
    let response = reqwest::get(server.url("/posts")).await.expect("GET /posts");
    assert_eq!(response.status(), 401);
    let text = prometheus::scrape(&reqwest::Client::new(), &server.url("/metrics")).await;
    server.terminate().await;

    let count = |name: &str, labels: &[(&str, &str)]| prometheus::value(&text, name, labels);
    let created = [("route", "/posts"), ("method", "POST"), ("status", "201")];
    assert_eq!(count("http_requests_total", &created), 2.0, "{text}");
    let refused = [("route", "/posts"), ("method", "GET"), ("status", "401")];
    assert_eq!(count("http_requests_total", &refused), 1.0, "{text}");
    assert_eq!(count("http_requests_total", &[("route", "/posts")]), 3.0, "{text}");
    let timed = [("route", "/posts"), ("method", "POST")];
    assert_eq!(count("http_request_duration_seconds_count", &timed), 2.0, "{text}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_span_and_its_id() {
    let data = test_data().await;
    let mut command = command(&data);
    command.env("LOG_FORMAT", "json").env("RUST_LOG", "info");
    let server = start_binary(&mut command).await;
    let id = unique("json-log");

    let response = create_post(&server, &id).await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "x-request-id"), id);
    let Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{output}");

    observe::assert_json_logs(&output, "posts-server", &id, "POST", "/posts", 201);
}

#[tokio::test]
async fn text_logs_have_the_documented_access_line() {
    let data = test_data().await;
    let mut command = command(&data);
    command.env_remove("LOG_FORMAT").env("RUST_LOG", "info");
    let server = start_binary(&mut command).await;
    let id = unique("text-log");

    let response = create_post(&server, &id).await;
    assert_eq!(response.status(), 201);
    let Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{output}");

    observe::assert_text_line(&output, &id, "POST", "/posts", 201);
}

#[tokio::test]
async fn with_metrics_addr_metrics_move_to_a_listener_of_their_own() {
    let data = test_data().await;
    prometheus::assert_metrics_on_their_own_listener(&POSTS_SERVER, || command(&data), "http_requests_total", "/posts")
        .await;
}

#[tokio::test]
async fn a_bad_or_taken_metrics_addr_refuses_the_start_naming_it() {
    let data = test_data().await;
    prometheus::assert_bad_or_taken_metrics_addr_refused(&POSTS_SERVER, || command(&data)).await;
}
