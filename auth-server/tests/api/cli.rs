//! The operators' command line (`auth-server user …`) on the target's database, beside a
//! server on the same database; and `REGISTRATION=closed`.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::binary::{AUTH_SERVER, configured_on, post, start, tokens};
use crate::helpers::{ACCESS_SECRET, PASSWORD, REFRESH_SECRET, TestData, assert_error_shape, test_data};

/// What one run of the command line did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `auth-server ARGS` on `data`'s database, with `stdin` as its standard input and no
/// token secret at all, and checks that `stdin` (a password) never appears in its output.
async fn cli(data: &TestData, args: &[&str], stdin: &str) -> Run {
    let mut command = AUTH_SERVER.command(data.dir().path());
    command
        .env("AUTH_DATABASE_URL", data.database_url())
        .args(args)
        .stdin(Stdio::piped());
    let mut child = command.spawn().expect("run auth-server");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).await.expect("write stdin");
    drop(input);
    let Output { status, stdout, stderr } = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command ends in time")
        .expect("wait for the command");
    let run = Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    };
    let password = stdin.trim_end();
    if !password.is_empty() {
        assert!(!run.stdout.contains(password), "the password is printed: {run:?}");
        assert!(!run.stderr.contains(password), "the password is printed: {run:?}");
    }
    run
}

/// A run that must succeed, printing nothing on stderr; returns its stdout.
async fn ok(data: &TestData, args: &[&str], stdin: &str) -> String {
    let run = cli(data, args, stdin).await;
    assert_eq!(run.code, Some(0), "auth-server {args:?}: {run:?}");
    assert_eq!(run.stderr, "", "auth-server {args:?}");
    run.stdout
}

/// A run that must fail with exit code `code` and one line on stderr containing `names`.
async fn fails(data: &TestData, args: &[&str], stdin: &str, code: i32, names: &str) -> Run {
    let run = cli(data, args, stdin).await;
    assert_eq!(run.code, Some(code), "auth-server {args:?}: {run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert!(run.stderr.starts_with("auth-server: "), "{run:?}");
    assert!(run.stderr.contains(names), "names {names:?}: {run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    run
}

/// Adds `username` with `password` through standard input; returns the printed id.
async fn add(data: &TestData, username: &str, password: &str) -> String {
    let stdout = ok(data, &["user", "add", username], &format!("{password}\n")).await;
    let id = stdout.strip_suffix('\n').expect("one line").to_owned();
    assert!(uuid_like(&id), "an id: {stdout:?}");
    id
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn credentials(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

/// `user list`, one `[id, username, created, sessions]` per line.
async fn listed(data: &TestData) -> Vec<Vec<String>> {
    ok(data, &["user", "list"], "")
        .await
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn a_user_added_on_the_command_line_logs_in_over_http() {
    let data = test_data().await;
    let id = add(&data, "Operator.Made", PASSWORD).await;
    let server = start(&mut configured_on(&data)).await;

    let login = tokens(&server, "/login", &credentials("operator.made", PASSWORD)).await;
    assert!(login["accessToken"].is_string(), "{login}");
    let wrong = post(&server, "/login", &credentials("Operator.Made", "not the password")).await;
    assert_eq!(wrong.status(), 401);

    let users = listed(&data).await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0][..2], [id.clone(), "Operator.Made".to_owned()]);
    server.terminate().await;
}

#[tokio::test]
async fn a_password_line_keeps_its_spaces_and_loses_only_its_line_ending() {
    let data = test_data().await;
    let password = " spaces  around ";
    ok(&data, &["user", "add", "alice"], &format!("{password}\r\n")).await;
    let server = start(&mut configured_on(&data)).await;

    tokens(&server, "/login", &credentials("alice", password)).await;
    let trimmed = post(&server, "/login", &credentials("alice", password.trim())).await;
    assert_eq!(trimmed.status(), 401);
    server.terminate().await;
}

#[tokio::test]
async fn list_shows_every_user_oldest_first_with_live_sessions() {
    let data = test_data().await;
    assert_eq!(ok(&data, &["user", "list"], "").await, "", "no users, no lines");
    let alice = add(&data, "alice", PASSWORD).await;
    let bob = add(&data, "bob", PASSWORD).await;
    let server = start(&mut configured_on(&data)).await;
    tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    let second = tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    let logout = reqwest::Client::new()
        .delete(server.url("/logout"))
        .json(&json!({ "token": second["refreshToken"] }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    tokens(&server, "/login", &credentials("alice", PASSWORD)).await;

    let users = listed(&data).await;
    assert_eq!(users.len(), 2, "{users:?}");
    assert_eq!(users[0][0], alice);
    assert_eq!(users[0][1], "alice");
    assert_eq!(users[0][3], "2", "two live sessions, one ended: {users:?}");
    assert_eq!(users[1][..2], [bob.clone(), "bob".to_owned()]);
    assert_eq!(users[1][3], "0");
    for user in &users {
        let created = &user[2];
        assert!(created.len() == 20 && created.ends_with('Z'), "RFC 3339 UTC: {created}");
    }

    let json: Value = serde_json::from_str(&ok(&data, &["user", "list", "--json"], "").await).expect("JSON");
    assert_eq!(json[0]["id"], alice.as_str());
    assert_eq!(json[0]["username"], "alice");
    assert_eq!(json[0]["createdAt"], users[0][2].as_str());
    assert_eq!(json[0]["sessions"], 2);
    assert_eq!(json[1]["username"], "bob");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    server.terminate().await;
}

#[tokio::test]
async fn revoke_sessions_ends_every_session_of_the_user_only() {
    let data = test_data().await;
    add(&data, "alice", PASSWORD).await;
    add(&data, "bob", PASSWORD).await;
    let server = start(&mut configured_on(&data)).await;
    let first = tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    let second = tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    let bobs = tokens(&server, "/login", &credentials("bob", PASSWORD)).await;

    assert_eq!(ok(&data, &["user", "revoke-sessions", "ALICE"], "").await, "2\n");

    for login in [&first, &second] {
        let refreshed = post(&server, "/token", &json!({ "token": login["refreshToken"] })).await;
        assert_eq!(refreshed.status(), 403);
    }
    tokens(&server, "/token", &json!({ "token": bobs["refreshToken"] })).await;
    assert_eq!(ok(&data, &["user", "revoke-sessions", "alice"], "").await, "0\n");
    // A new login works as before.
    tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    server.terminate().await;
}

#[tokio::test]
async fn delete_removes_the_user_and_their_sessions() {
    let data = test_data().await;
    add(&data, "alice", PASSWORD).await;
    add(&data, "bob", PASSWORD).await;
    let server = start(&mut configured_on(&data)).await;
    let login = tokens(&server, "/login", &credentials("alice", PASSWORD)).await;

    ok(&data, &["user", "delete", "alice"], "").await;

    let again = post(&server, "/login", &credentials("alice", PASSWORD)).await;
    assert_eq!(again.status(), 401);
    let refreshed = post(&server, "/token", &json!({ "token": login["refreshToken"] })).await;
    assert_eq!(refreshed.status(), 403);
    let users = listed(&data).await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0][1], "bob");
    fails(&data, &["user", "delete", "alice"], "", 1, "alice").await;
    // The name is free again.
    add(&data, "alice", PASSWORD).await;
    server.terminate().await;
}

/// A delete says whether it found the user: `user delete` relies on it when another operator
/// deleted the same user between its lookup and its delete (it then fails as for an unknown
/// name rather than report a delete it did not do).
#[tokio::test]
async fn the_store_says_whether_a_delete_found_the_user() {
    let data = test_data().await;
    let id = add(&data, "alice", PASSWORD).await;
    let store = auth_server::open_store(
        &data.database_url(),
        &database::postgres::DatabaseArgs::default(),
        database::sqlite::Access::Shared,
    )
    .await
    .expect("open the store");
    assert!(!store.delete_user("no-such-user").await.expect("a delete"));
    assert!(store.delete_user(&id).await.expect("a delete"));
    assert!(!store.delete_user(&id).await.expect("a delete"), "deleted twice");
    store.close().await;
    fails(&data, &["user", "delete", "alice"], "", 1, "alice").await;
}

#[tokio::test]
async fn unknown_users_taken_names_and_invalid_input_fail_with_one_line_and_exit_code_1() {
    let data = test_data().await;
    fails(&data, &["user", "delete", "nobody"], "", 1, "nobody").await;
    fails(&data, &["user", "revoke-sessions", "nobody"], "", 1, "nobody").await;
    fails(
        &data,
        &["user", "revoke-sessions", "no such/name"],
        "",
        1,
        "no such/name",
    )
    .await;

    fails(&data, &["user", "add", "alice"], "short7!\n", 1, "password").await;
    fails(&data, &["user", "add", "alice"], "", 1, "password").await;
    fails(&data, &["user", "add", "a"], &format!("{PASSWORD}\n"), 1, "username").await;
    add(&data, "alice", PASSWORD).await;
    let taken = "another good password";
    fails(&data, &["user", "add", "Alice"], &format!("{taken}\n"), 1, "taken").await;

    let users = listed(&data).await;
    assert_eq!(users.len(), 1, "only the valid user: {users:?}");
}

#[tokio::test]
async fn usage_errors_exit_with_code_2() {
    let data = test_data().await;
    for args in [
        &["user"][..],
        &["user", "frobnicate"],
        &["user", "add"],
        &["user", "list", "--yaml"],
    ] {
        let run = cli(&data, args, "").await;
        assert_eq!(run.code, Some(2), "auth-server {args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
        assert!(run.stderr.starts_with("auth-server: "), "{run:?}");
    }
}

#[tokio::test]
async fn the_command_line_needs_no_secret_and_shows_none() {
    let data = test_data().await;
    // No secret at all (the `cli` runs), and bad ones are not even looked at.
    add(&data, "alice", PASSWORD).await;
    let mut command = AUTH_SERVER.command(data.dir().path());
    command
        .env("AUTH_DATABASE_URL", data.database_url())
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("REFRESH_TOKEN_SECRET", ACCESS_SECRET)
        .args(["user", "list"]);
    let output = command.output().await.expect("run auth-server");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout.contains("\talice\t"), "{stdout}");
    for secret in [ACCESS_SECRET, REFRESH_SECRET] {
        assert!(!stdout.contains(secret) && !String::from_utf8_lossy(&output.stderr).contains(secret));
    }
}

#[tokio::test]
async fn the_database_url_may_follow_the_subcommand() {
    let data = test_data().await;
    let url = data.database_url();
    let mut command = AUTH_SERVER.command(data.dir().path());
    command
        .env("AUTH_DATABASE_URL", "sqlite://elsewhere.db")
        .args(["user", "list", "--database-url", &url]);
    assert_eq!(command.output().await.expect("run").status.code(), Some(0));
    add(&data, "alice", PASSWORD).await;
    let mut command = AUTH_SERVER.command(data.dir().path());
    command
        .env("AUTH_DATABASE_URL", "sqlite://elsewhere.db")
        .args(["user", "list", "--database-url", &url]);
    let output = command.output().await.expect("run");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("\talice\t"),
        "{output:?}"
    );
}

#[tokio::test]
async fn with_registration_closed_only_operators_add_users() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("REGISTRATION", "closed");
    let server = start(&mut command).await;

    let response = post(&server, "/register", &credentials("alice", PASSWORD)).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], "registration_closed", "{body}");
    assert_error_shape(&body);

    add(&data, "alice", PASSWORD).await;
    tokens(&server, "/login", &credentials("alice", PASSWORD)).await;
    server.terminate().await;
}

#[tokio::test]
async fn a_bad_registration_setting_is_refused_naming_it() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("REGISTRATION", "invite-only");
    let refusal = AUTH_SERVER.refused_start(&mut command).await;
    assert_eq!(refusal.status.code(), Some(2));
    refusal.assert_one_line_naming("REGISTRATION");
}

#[tokio::test]
async fn a_missing_argument_is_named_on_the_one_line() {
    let data = test_data().await;
    for (args, names) in [
        (&["user", "add"][..], "<USERNAME>"),
        (&["user", "delete"], "<USERNAME>"),
    ] {
        let run = cli(&data, args, "").await;
        assert_eq!(run.code, Some(2), "auth-server {args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
        assert!(run.stderr.contains(names), "names {names}: {run:?}");
    }
}
