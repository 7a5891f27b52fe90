//! A corpus of bad input for every route, table by table. Each row is one raw
//! request (method, path, headers, body bytes) and the answer it must get.
//! Every refusal must be the expected 4xx with the contract's JSON error body
//! (and a `WWW-Authenticate: Bearer` challenge on a 401 or 403), no answer may
//! be a 5xx, and no answer may echo the password that was sent.
//! Rows at the limits that must succeed are in the tables too, and after each
//! table the server must still serve a legitimate client.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::table::{Expect, Route, Row, Table, health_and_routing_corpus, json_corpus, with_field};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// Sends every row and fails the test with a line for each row the server got
/// wrong, or whose answer echoes the password it sent or the test password.
async fn run_table(app: &TestApp, rows: &[Row]) {
    Table::new(&app.client, &app.address)
        .never_echoing(|row| password_in(row).into_iter().chain([PASSWORD.to_owned()]).collect())
        .assert_all(rows)
        .await;
}

/// The password a row sends, if any, as it would appear in an echo.
fn password_in(row: &Row) -> Option<String> {
    let body: Value = serde_json::from_slice(&row.body).ok()?;
    let password = match body.get("password")? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    // Shorter values could occur in any message by chance ("line 1 column 12").
    (password.chars().count() >= 6).then_some(password)
}

/// After a table: a new user can register and log in, and an old one still can.
async fn still_serves(app: &TestApp, existing: Option<&str>) {
    let response = app.register("after-table", PASSWORD).await;
    assert_eq!(response.status(), 201, "register after the table");
    let tokens = app.logged_in("after-table", PASSWORD).await;
    assert_eq!(app.refreshed(&tokens.refresh).await.body["tokenType"], "Bearer");
    if let Some(username) = existing {
        app.logged_in(username, PASSWORD).await;
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// The username a password row registers under: `pw-` and the row's letters and digits.
fn password_user(name: &str) -> String {
    let letters: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("pw-{letters}")
}

/// Rows without a username or password, or with one that is a JSON value
/// other than a string: `400 invalid_body`. The rows without a good password
/// send `username`.
fn fields_missing_or_of_the_wrong_type(route: &Route, username: &str) -> Vec<Row> {
    let usernames = [
        ("a number", json!(12345)),
        ("an array", json!(["alice"])),
        ("an object", json!({ "name": "alice" })),
        ("null", Value::Null),
        ("true", json!(true)),
    ];
    let passwords = [
        ("a number", json!(12_345_678_901_u64)),
        ("a float", json!(1_234_567.5)),
        ("an array", json!([PASSWORD])),
        ("an object", json!({ "value": PASSWORD })),
        ("null", Value::Null),
    ];
    let row = |name: &str, body: Value| route.row(name).json(body.to_string());
    let missing = [
        row("{}", json!({})),
        row("no username", json!({ "password": PASSWORD })),
        row("no password", json!({ "username": username })),
    ];
    let wrong_usernames = usernames.into_iter().map(|(what, value)| {
        row(
            &format!("username as {what}"),
            json!({ "username": value, "password": PASSWORD }),
        )
    });
    let wrong_passwords = passwords.into_iter().map(|(what, value)| {
        row(
            &format!("password as {what}"),
            json!({ "username": username, "password": value }),
        )
    });
    missing
        .into_iter()
        .chain(wrong_usernames)
        .chain(wrong_passwords)
        .collect()
}

fn credentials(username: &str, password: &str) -> String {
    json!({ "username": username, "password": password }).to_string()
}

#[tokio::test]
async fn register_refuses_bad_input() {
    let app = spawn_app().await;
    let route = Route::new(Method::POST, "/register");
    let creds = |username: &str, password: &str| {
        route
            .row(&format!("{username:?}"))
            .json(credentials(username, password))
    };
    let body = |name: &str, body: Value| route.row(name).json(body.to_string());
    let password = |name: &str, password: String| {
        route
            .row(&format!("password of {name}"))
            .json(credentials(&password_user(name), &password))
    };

    let mut rows = json_corpus(
        &route,
        |tag| json!({ "username": format!("user-{tag}"), "password": PASSWORD }),
        Expect::Ok(201),
    );
    rows.extend(fields_missing_or_of_the_wrong_type(&route, "numeric"));
    rows.extend([
        // Unknown fields.
        body(
            "unknown fields are ignored",
            json!({ "username": "extra-fields", "password": PASSWORD, "admin": true, "id": "x", "n": 1e300 }),
        )
        .ok(201),
        route
            .row("an unknown field with 8,000 levels of []")
            .json(with_field(
                &json!({ "username": "deep-unknown", "password": PASSWORD }),
                format!(r#""n":{}{}"#, "[".repeat(8_000), "]".repeat(8_000)).as_bytes(),
            ))
            .ok(201),
        route
            .row("an unknown field given twice")
            .json(with_field(
                &json!({ "username": "twice-unknown", "password": PASSWORD }),
                br#""n":1,"n":2"#,
            ))
            .ok(201),
        route
            .row("an unknown field holding 1e400")
            .json(with_field(
                &json!({ "username": "huge-unknown", "password": PASSWORD }),
                br#""n":1e400"#,
            ))
            .ok(201),
        route.row("the password twice").json(with_field(
            &json!({ "username": "twice", "password": PASSWORD }),
            br#""password":"other-password""#,
        )),
        // Usernames: 3 to 64 ASCII letters, digits, '.', '_', '-'.
        creds("ab", PASSWORD).fails(400, "invalid_username"),
        creds("abc", PASSWORD).ok(201),
        creds(&"m".repeat(64), PASSWORD).ok(201),
        creds(&"n".repeat(65), PASSWORD).fails(400, "invalid_username"),
        creds("", PASSWORD).fails(400, "invalid_username"),
        creds("   ", PASSWORD).fails(400, "invalid_username"),
        creds("with space", PASSWORD).fails(400, "invalid_username"),
        creds(" leading", PASSWORD).fails(400, "invalid_username"),
        creds("trailing\n", PASSWORD).fails(400, "invalid_username"),
        creds("alice@example.com", PASSWORD).fails(400, "invalid_username"),
        creds("a/b", PASSWORD).fails(400, "invalid_username"),
        creds("nul\u{0}byte", PASSWORD).fails(400, "invalid_username"),
        creds("._-", PASSWORD).ok(201),
        // `alice` is taken first; no look-alike of it may become another user.
        creds("alice", PASSWORD).ok(201),
        creds("Alice", PASSWORD).fails(409, "username_taken"),
        creds("ALICE", PASSWORD).fails(409, "username_taken"),
        creds("\u{430}lice", PASSWORD).fails(400, "invalid_username"),
        creds("\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", PASSWORD).fails(400, "invalid_username"),
        creds("ali\u{200d}ce", PASSWORD).fails(400, "invalid_username"),
        creds("ali\u{200b}ce", PASSWORD).fails(400, "invalid_username"),
        creds("alice\u{301}", PASSWORD).fails(400, "invalid_username"),
        creds("al\u{131}ce", PASSWORD).fails(400, "invalid_username"),
        creds("AL\u{130}CE", PASSWORD).fails(400, "invalid_username"),
        creds("\u{212a}yle", PASSWORD).fails(400, "invalid_username"),
        creds(&"\u{e9}".repeat(10), PASSWORD).fails(400, "invalid_username"),
        // Passwords: 8 to 1024 characters, counted as Unicode scalar values.
        password("0 chars", String::new()).fails(400, "invalid_password"),
        password("7 chars", "seven77".into()).fails(400, "invalid_password"),
        password("7 two-byte chars", "\u{e9}".repeat(7)).fails(400, "invalid_password"),
        password("8 chars", "eight888".into()).ok(201),
        password("8 spaces", " ".repeat(8)).ok(201),
        password("8 chars with an escaped NUL", "abc\u{0}defg".into()).ok(201),
        password("1024 chars", "p".repeat(1024)).ok(201),
        password("1025 chars", "q".repeat(1025)).fails(400, "invalid_password"),
        password("1024 two-byte chars", "\u{fc}".repeat(1024)).ok(201),
        password("1025 two-byte chars", "\u{fc}".repeat(1025)).fails(400, "invalid_password"),
        password("1024 four-byte chars", "\u{1f600}".repeat(1024)).ok(201),
        password("1025 four-byte chars", "\u{1f600}".repeat(1025)).fails(400, "invalid_password"),
        password("512 e + combining acute, 1024 scalars", "e\u{301}".repeat(512)).ok(201),
        password("513 e + combining acute, 1026 scalars", "e\u{301}".repeat(513)).fails(400, "invalid_password"),
    ]);

    run_table(&app, &rows).await;

    // The look-alikes created no one: only `alice` logs in, under any ASCII case.
    app.logged_in("ALICE", PASSWORD).await;
    let response = app.login("\u{430}lice", PASSWORD).await;
    assert_eq!(response.status(), 401, "a look-alike is no user");
    // What was accepted is kept as given, and its password works.
    app.logged_in(&password_user("1024 four-byte chars"), &"\u{1f600}".repeat(1024))
        .await;
    app.logged_in(&password_user("8 chars with an escaped NUL"), "abc\u{0}defg")
        .await;
    still_serves(&app, Some("alice")).await;
}

#[tokio::test]
async fn login_refuses_bad_input() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;
    let route = Route::new(Method::POST, "/login");
    let creds = |username: &str, password: &str| {
        route
            .row(&format!("{username:?} / {} chars", password.chars().count()))
            .json(credentials(username, password))
    };
    let body = |name: &str, body: Value| route.row(name).json(body.to_string());
    let wrong = |row: Row| row.fails(401, "invalid_credentials");

    let mut rows = json_corpus(
        &route,
        |_| json!({ "username": "alice", "password": PASSWORD }),
        Expect::Ok(200),
    );
    rows.extend(fields_missing_or_of_the_wrong_type(&route, "alice"));
    rows.extend([
        body(
            "unknown fields are ignored",
            json!({ "username": "alice", "password": PASSWORD, "remember": true }),
        )
        .ok(200),
        // The same username in another ASCII case is the same user.
        creds("ALICE", PASSWORD).ok(200),
        creds("aLiCe", PASSWORD).ok(200),
        // A username that cannot exist is no user: the same 401 as a wrong password.
        wrong(creds("\u{430}lice", PASSWORD)),
        wrong(creds("\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", PASSWORD)),
        wrong(creds("al\u{131}ce", PASSWORD)),
        wrong(creds("ali\u{200d}ce", PASSWORD)),
        wrong(creds("alice\u{301}", PASSWORD)),
        wrong(creds(" alice", PASSWORD)),
        wrong(creds("alice ", PASSWORD)),
        wrong(creds("", PASSWORD)),
        wrong(creds("al", PASSWORD)),
        wrong(creds(&"a".repeat(65), PASSWORD)),
        wrong(creds("alice\u{0}", PASSWORD)),
        // Passwords are compared exactly, whatever their length.
        wrong(creds("alice", "")),
        wrong(creds("alice", "seven77")),
        wrong(creds("alice", &format!("{PASSWORD} "))),
        wrong(creds("alice", &PASSWORD.to_uppercase())),
        wrong(creds("alice", &"q".repeat(1025))),
        wrong(creds("alice", &"\u{1f600}".repeat(2048))),
    ]);

    run_table(&app, &rows).await;
    still_serves(&app, Some("alice")).await;
}

#[tokio::test]
async fn token_refuses_bad_input() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let route = Route::new(Method::POST, "/token");
    let body = |name: &str, body: Value| route.row(name).json(body.to_string());
    let garbage = json!({ "token": "not-a-refresh-token" });

    let mut rows = json_corpus(&route, |_| garbage.clone(), Expect::Error(403, "invalid_grant"));
    rows.extend([
        // No token at all is the tutorial's 401.
        body("{}", json!({})).fails(401, "invalid_request"),
        body("token null", json!({ "token": null })).fails(401, "invalid_request"),
        body("token empty", json!({ "token": "" })).fails(401, "invalid_request"),
        body("only unknown fields", json!({ "refreshToken": "x" })).fails(401, "invalid_request"),
        // A token of the wrong type is a malformed body.
        body("token as a number", json!({ "token": 12345 })),
        body("token as an object", json!({ "token": { "token": "x" } })),
        body("token as an array", json!({ "token": ["x"] })),
        body("token as true", json!({ "token": true })),
        // A string that is no refresh token of ours.
        body("token of three dots", json!({ "token": "..." })).fails(403, "invalid_grant"),
        body("token a.b.c", json!({ "token": "a.b.c" })).fails(403, "invalid_grant"),
        body("token with an escaped NUL", json!({ "token": "a\u{0}b" })).fails(403, "invalid_grant"),
        body("token of non-ASCII", json!({ "token": "\u{430}\u{1f600}" })).fails(403, "invalid_grant"),
        body("token of 16,000 chars", json!({ "token": "x".repeat(16_000) })).fails(403, "invalid_grant"),
        body("an access token", json!({ "token": tokens.access })).fails(403, "invalid_grant"),
        body(
            "refresh token with a trailing space",
            json!({ "token": format!("{} ", tokens.refresh) }),
        )
        .fails(403, "invalid_grant"),
        body(
            "unknown fields beside a bad token",
            json!({ "token": "x", "grant_type": "refresh_token" }),
        )
        .fails(403, "invalid_grant"),
    ]);

    run_table(&app, &rows).await;
    // The session survived all of that: its refresh token rotates.
    app.refreshed(&tokens.refresh).await;
    still_serves(&app, Some("alice")).await;
}

#[tokio::test]
async fn logout_refuses_bad_input() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let route = Route::new(Method::DELETE, "/logout");
    let body = |name: &str, body: Value| route.row(name).json(body.to_string());
    let garbage = json!({ "token": "not-a-refresh-token" });

    let mut rows = json_corpus(&route, |_| garbage.clone(), Expect::Ok(204));
    rows.extend([
        body("{}", json!({})),
        body("token null", json!({ "token": null })),
        body("token as a number", json!({ "token": 12345 })),
        body("token as an object", json!({ "token": { "token": "x" } })),
        body("token as an array", json!({ "token": ["x"] })),
        body("scope alone", json!({ "scope": "global" })),
        body("scope unknown", json!({ "token": "x", "scope": "everywhere" })),
        body("scope in capitals", json!({ "token": "x", "scope": "GLOBAL" })),
        body("scope as a number", json!({ "token": "x", "scope": 1 })),
        body("scope as null", json!({ "token": "x", "scope": null })),
        body("scope as an array", json!({ "token": "x", "scope": ["global"] })),
        // Any well-formed body is 204, whatever the token.
        body("token empty", json!({ "token": "" })).ok(204),
        body("token with an escaped NUL", json!({ "token": "a\u{0}b" })).ok(204),
        body(
            "scope global with a bad token",
            json!({ "token": "x", "scope": "global" }),
        )
        .ok(204),
        body(
            "scope session with a bad token",
            json!({ "token": "x", "scope": "session" }),
        )
        .ok(204),
        body("an access token", json!({ "token": tokens.access, "scope": "global" })).ok(204),
        body("unknown fields", json!({ "token": "x", "all": true })).ok(204),
    ]);

    run_table(&app, &rows).await;
    // None of those ended the session: its refresh token still rotates.
    app.refreshed(&tokens.refresh).await;
    still_serves(&app, Some("alice")).await;
}

#[tokio::test]
async fn routing_and_health_refuse_bad_input() {
    let app = spawn_app().await;
    let row = Row::request;

    let mut rows = health_and_routing_corpus();
    rows.extend([
        // Wrong methods on the auth routes.
        row(Method::GET, "/register").fails(405, "method_not_allowed"),
        row(Method::PUT, "/register")
            .json(credentials("put-user", PASSWORD))
            .fails(405, "method_not_allowed"),
        row(Method::PATCH, "/login").fails(405, "method_not_allowed"),
        row(Method::GET, "/token").fails(405, "method_not_allowed"),
        row(Method::POST, "/logout").fails(405, "method_not_allowed"),
        row(Method::GET, "/logout").fails(405, "method_not_allowed"),
        row(Method::from_bytes(b"BREW").expect("a method"), "/login").fails(405, "method_not_allowed"),
        // Unknown paths near the auth routes, and the posts server's.
        row(Method::POST, "/register/")
            .json(credentials("slash-user", PASSWORD))
            .fails(404, "not_found"),
        row(Method::POST, "/Register")
            .json(credentials("case-user", PASSWORD))
            .fails(404, "not_found"),
        row(Method::POST, "/register/extra").fails(404, "not_found"),
        row(Method::GET, "/posts").fails(404, "not_found"),
    ]);

    run_table(&app, &rows).await;
    still_serves(&app, None).await;
}
