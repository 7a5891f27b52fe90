//! A corpus of bad input for every route, table by table. Each row is one raw
//! request (method, path, headers, body bytes) and the answer it must get.
//! Every refusal must be the expected 4xx with the contract's JSON error body
//! (and a `WWW-Authenticate: Bearer` challenge on a 401 or 403), and no answer
//! may be a 5xx. Rows at the limits that must succeed are in the tables too,
//! and after each table the server must still serve a legitimate client.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::table::{BODY_LIMIT, Expect, Route, Row, Table, health_and_routing_corpus, json_corpus, with_field};

use crate::helpers::{TestApp, foreign_token_for, json, spawn_app, token_for};

/// Sends every row and fails the test with a line for each row the server got wrong.
async fn run_table(app: &TestApp, rows: &[Row]) {
    Table::new(&app.client, &app.address).assert_all(rows).await;
}

/// After a table: the caller's posts are listed (`expected` of them), and a new post can be made.
async fn still_serves(app: &TestApp, token: &str, expected: usize) {
    let response = app.get_posts(token).await;
    assert_eq!(response.status(), 200, "GET /posts after the table");
    let posts = json(response).await;
    assert_eq!(posts.as_array().map(Vec::len), Some(expected), "posts after the table");
    app.created_post(token, "after the table", "still here").await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("GET /healthz")
            .status(),
        200
    );
}

/// How many rows of a table create something.
fn created(rows: &[Row]) -> usize {
    rows.iter().filter(|row| matches!(row.expect, Expect::Ok(201))).count()
}

fn post(title: &str, body: &str) -> String {
    json!({ "title": title, "body": body }).to_string()
}

#[tokio::test]
async fn create_post_refuses_bad_input() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let route = Route::new(Method::POST, "/posts").with_bearer(token.clone());
    let body = |name: &str, body: Value| route.row(name).json(body.to_string());
    let sized = |name: &str, title: &str, text: &str| route.row(name).json(post(title, text));

    let mut rows = json_corpus(
        &route,
        |tag| json!({ "title": format!("t-{tag}"), "body": "b" }),
        Expect::Ok(201),
    );
    rows.extend([
        // Fields missing, unknown or of the wrong type.
        body("{}", json!({})),
        body("no title", json!({ "body": "b" })),
        body("no body", json!({ "title": "t" })),
        body(
            "unknown fields are ignored, the owner comes from the token",
            json!({ "title": "t", "body": "b", "username": "mallory", "id": 9, "createdAt": 0 }),
        )
        .ok(201),
        route
            .row("an unknown field with 8,000 levels of []")
            .json(with_field(
                &json!({ "title": "deep", "body": "b" }),
                format!(r#""n":{}{}"#, "[".repeat(8_000), "]".repeat(8_000)).as_bytes(),
            ))
            .ok(201),
        route
            .row("an unknown field given twice")
            .json(with_field(&json!({ "title": "twice", "body": "b" }), br#""n":1,"n":2"#))
            .ok(201),
        route
            .row("an unknown field holding 1e400")
            .json(with_field(&json!({ "title": "huge", "body": "b" }), br#""n":1e400"#))
            .ok(201),
        body("title as an array", json!({ "title": ["t"], "body": "b" })),
        body("title as a number", json!({ "title": 1, "body": "b" })),
        body("title as an object", json!({ "title": { "text": "t" }, "body": "b" })),
        body("title as null", json!({ "title": null, "body": "b" })),
        body("title as false", json!({ "title": false, "body": "b" })),
        body("body as a number", json!({ "title": "t", "body": 10_000 })),
        body("body as an array", json!({ "title": "t", "body": ["b"] })),
        body("body as null", json!({ "title": "t", "body": null })),
        route
            .row("the title twice")
            .json(with_field(&json!({ "title": "t", "body": "b" }), br#""title":"first""#)),
        // Titles: 1 to 200 characters, not only whitespace; bodies: at most 10,000.
        sized("title of 0 chars", "", "b").fails(400, "invalid_post"),
        sized("title of 1 char", "t", "b").ok(201),
        sized("title of 200 chars", &"t".repeat(200), "b").ok(201),
        sized("title of 201 chars", &"t".repeat(201), "b").fails(400, "invalid_post"),
        sized("title of 200 two-byte chars", &"\u{e9}".repeat(200), "b").ok(201),
        sized("title of 201 two-byte chars", &"\u{e9}".repeat(201), "b").fails(400, "invalid_post"),
        sized("title of 200 four-byte chars", &"\u{1f600}".repeat(200), "b").ok(201),
        sized("title of a space", " ", "b").fails(400, "invalid_post"),
        sized("title of tabs and newlines", "\t\r\n", "b").fails(400, "invalid_post"),
        sized("title of no-break spaces", "\u{a0}\u{3000}", "b").fails(400, "invalid_post"),
        sized("title of one letter among spaces", "  x  ", "b").ok(201),
        sized("title with an escaped NUL", "a\u{0}b", "b").ok(201),
        sized("title of a zero-width space", "\u{200b}", "b").ok(201),
        sized("body of 0 chars", "t", "").ok(201),
        sized("body of 10,000 chars", "t", &"b".repeat(10_000)).ok(201),
        sized("body of 10,001 chars", "t", &"b".repeat(10_001)).fails(400, "invalid_post"),
        sized("body of 8,000 two-byte chars", "t", &"\u{e9}".repeat(8_000)).ok(201),
        // 10,000 two-byte characters are within the character limit but over
        // the 16 KiB body limit, which is checked first.
        sized("body of 10,000 two-byte chars", "t", &"\u{e9}".repeat(10_000)).fails(413, "payload_too_large"),
    ]);

    run_table(&app, &rows).await;
    still_serves(&app, &token, created(&rows)).await;

    // What was accepted is stored as sent.
    let posts = json(app.get_posts(&token).await).await;
    let titles: Vec<&str> = posts
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|post| post["title"].as_str())
        .collect();
    assert!(titles.contains(&"a\u{0}b"), "a NUL in a title is kept");
    assert!(titles.contains(&"\u{1f600}".repeat(200).as_str()));
    assert!(
        posts
            .as_array()
            .expect("an array")
            .iter()
            .all(|post| post["username"] == "ann")
    );
}

#[tokio::test]
async fn create_post_without_a_usable_token_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let foreign = foreign_token_for("user-1", "ann");
    let none = Route::new(Method::POST, "/posts");
    let forged = Route::new(Method::POST, "/posts").with_bearer(foreign);
    let valid = post("t", "b");

    let rows = [
        none.row("a valid post")
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("invalid JSON")
            .json("{\"title\":")
            .fails(401, "invalid_request"),
        none.row("an array").json("[]").fails(401, "invalid_request"),
        none.row("no Content-Type")
            .raw(valid.clone())
            .fails(401, "invalid_request"),
        none.row("a form")
            .header("content-type", "application/x-www-form-urlencoded")
            .raw("title=t&body=b")
            .fails(401, "invalid_request"),
        none.row("a title of 201 chars")
            .json(post(&"t".repeat(201), "b"))
            .fails(401, "invalid_request"),
        none.row("Authorization: Basic")
            .header("authorization", "Basic dXNlcjpwYXNzd29yZA==")
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("Authorization: Bearer with no token")
            .header("authorization", "Bearer ")
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("a token after a tab")
            .header("authorization", format!("Bearer\t{token}"))
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("a token that is not token68")
            .header("authorization", "Bearer not a token!")
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("a token with non-UTF-8 bytes")
            .header("authorization", b"Bearer \xff\xfe")
            .json(valid.clone())
            .fails(401, "invalid_request"),
        none.row("two Authorization headers")
            .bearer(&token)
            .bearer(&token)
            .json(valid.clone())
            .fails(401, "invalid_request"),
        // The body limit holds before anything else.
        none.row("16 KiB + 1 bytes")
            .json(vec![b'{'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
        forged
            .row("a valid post")
            .json(valid.clone())
            .fails(403, "invalid_token"),
        forged
            .row("invalid JSON")
            .json("{\"title\":")
            .fails(403, "invalid_token"),
        forged
            .row("no Content-Type")
            .raw(valid.clone())
            .fails(403, "invalid_token"),
        none.row("a token that is no JWT")
            .bearer("not.a.jwt")
            .json("[[[")
            .fails(403, "invalid_token"),
        // The scheme is case-insensitive (RFC 7235).
        none.row("scheme in lower case")
            .header("authorization", format!("bearer {token}"))
            .json(valid.clone())
            .ok(201),
        // `"Bearer" 1*SP b64token` (RFC 6750 §2.1): any number of spaces.
        none.row("a token after two spaces")
            .header("authorization", format!("Bearer  {token}"))
            .json(valid.clone())
            .ok(201),
    ];

    run_table(&app, &rows).await;
    still_serves(&app, &token, created(&rows)).await;
}

#[tokio::test]
async fn list_posts_refuses_bad_input() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let route = Route::new(Method::GET, "/posts");

    let rows = [
        route.row("no Authorization").fails(401, "invalid_request"),
        route
            .row("Authorization: Basic")
            .header("authorization", "Basic dXNlcjpwYXNzd29yZA==")
            .fails(401, "invalid_request"),
        route
            .row("the scheme alone")
            .header("authorization", "Bearer")
            .fails(401, "invalid_request"),
        route
            .row("a token without a scheme")
            .header("authorization", token.clone())
            .fails(401, "invalid_request"),
        route
            .row("a token with a comma")
            .header("authorization", format!("Bearer {token},x"))
            .fails(401, "invalid_request"),
        route
            .row("a token with non-UTF-8 bytes")
            .header("authorization", b"Bearer \xc0\xaf")
            .fails(401, "invalid_request"),
        route
            .row("two Authorization headers")
            .bearer(&token)
            .bearer("x")
            .fails(401, "invalid_request"),
        route
            .row("a token that is no JWT")
            .bearer("abc")
            .fails(403, "invalid_token"),
        route
            .row("a JWT of three dots")
            .bearer("a.b.c")
            .fails(403, "invalid_token"),
        route
            .row("a token of 8,000 chars")
            .bearer(&"x".repeat(8_000))
            .fails(403, "invalid_token"),
        route
            .row("a token with its signature cut")
            .bearer(token.rsplit_once('.').map_or("", |(signed, _)| signed))
            .fails(403, "invalid_token"),
        // A valid caller: whatever body or query comes along is ignored.
        route.row("a valid token").bearer(&token).ok(200),
        route
            .row("a valid token and a body of garbage")
            .bearer(&token)
            .header("content-type", "text/plain")
            .raw(&b"\xff\0 not json"[..])
            .ok(200),
        Row::new("GET /posts?limit=-1&x=%FF", Method::GET, "/posts?limit=-1&x=%FF")
            .bearer(&token)
            .ok(200),
        route
            .row("a valid token and 16 KiB + 1 bytes of body")
            .bearer(&token)
            .json(vec![b'{'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
    ];

    run_table(&app, &rows).await;
    still_serves(&app, &token, 0).await;
}

#[tokio::test]
async fn routing_and_health_refuse_bad_input() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let row = Row::request;

    let mut rows = health_and_routing_corpus();
    rows.extend([
        // A token changes nothing on a health check.
        row(Method::GET, "/readyz").bearer("not.a.jwt").json("{").ok(200),
        // Wrong methods on /posts.
        row(Method::PUT, "/posts")
            .bearer(&token)
            .json(post("t", "b"))
            .fails(405, "method_not_allowed"),
        row(Method::PATCH, "/posts")
            .bearer(&token)
            .fails(405, "method_not_allowed"),
        row(Method::DELETE, "/posts").fails(405, "method_not_allowed"),
        row(Method::from_bytes(b"BREW").expect("a method"), "/posts").fails(405, "method_not_allowed"),
        // Unknown paths, with a valid token.
        row(Method::GET, "/nope").bearer(&token).fails(404, "not_found"),
        row(Method::GET, "/posts/").bearer(&token).fails(404, "not_found"),
        row(Method::GET, "/posts/1").bearer(&token).fails(404, "not_found"),
        row(Method::GET, "/Posts").bearer(&token).fails(404, "not_found"),
        row(Method::POST, "/posts/")
            .bearer(&token)
            .json(post("t", "b"))
            .fails(404, "not_found"),
        // The auth server's routes are not here.
        row(Method::POST, "/login").json("{}").fails(404, "not_found"),
    ]);

    run_table(&app, &rows).await;
    still_serves(&app, &token, 0).await;
}
