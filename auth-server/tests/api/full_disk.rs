//! A full disk under the SQLite file: every write either fails with `503 storage_full` or is
//! stored; nothing acknowledged is lost, no session is revoked by the fault, reads keep working,
//! and writes work again once space is freed, without a restart.

use serde_json::Value;
use test_support::SmallDisk;

use crate::helpers::{PASSWORD, Tokens, assert_error, json, spawn_app_with};

/// What a write answered on the full disk: stored (`Done`) or refused as `503 storage_full`.
enum Outcome<T> {
    Done(T),
    Refused,
}

/// `201`/`200`/`204` as `Done`, or the contract's `503 storage_full` with a `Retry-After`.
async fn outcome(response: reqwest::Response, success: u16) -> Outcome<Value> {
    let status = response.status().as_u16();
    if status == success {
        let body = if status == 204 {
            Value::Null
        } else {
            json(response).await
        };
        return Outcome::Done(body);
    }
    assert!(
        response.headers().contains_key("retry-after"),
        "a Retry-After on {status}"
    );
    let body = assert_error(response, 503, "storage_full").await;
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("storage is full"), "{message}");
    Outcome::Refused
}

#[tokio::test]
async fn a_full_disk_refuses_writes_cleanly_and_loses_nothing_it_acknowledged() {
    let disk = SmallDisk::mount(4 * 1024 * 1024);
    let url = disk.sqlite_url("auth.db");
    let mut app = spawn_app_with(|config| config.database_url = url.clone()).await;
    let mut sessions: Vec<Tokens> = Vec::new();
    for n in 0..6 {
        app.registered(&format!("user{n}"), PASSWORD).await;
        sessions.push(app.logged_in(&format!("user{n}"), PASSWORD).await);
    }
    let to_log_out = app.logged_in("user0", PASSWORD).await;

    disk.empty_sqlite_log(&url).await;
    assert!(disk.fill() > 0);

    // Rotations: each either stored or refused; the client keeps what it was given.
    let mut refused = 0;
    for tokens in &mut sessions {
        match outcome(app.refresh(&tokens.refresh).await, 200).await {
            Outcome::Done(body) => *tokens = Tokens::from(body),
            Outcome::Refused => refused += 1,
        }
    }
    // Their answers are judged after the sessions are: a lost write shows there first.
    let register = app.register("newcomer", PASSWORD).await;
    let login = app.login("user1", PASSWORD).await;
    let logout = app.logout(&to_log_out.refresh, None).await;
    // Reads keep working: the server is up and its database answers.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_error(app.login("user1", "wrong password!").await, 401, "invalid_credentials").await;

    // Space again: writes work at once, on the same server, and every session goes on from the
    // refresh token its client holds (a rotation acknowledged but not stored would be refused
    // here as a reused token, and its session revoked).
    disk.free();
    for tokens in &mut sessions {
        *tokens = app.refreshed(&tokens.refresh).await;
    }
    assert!(refused > 0, "a full disk refused no rotation: the test filled nothing");
    match outcome(register, 201).await {
        Outcome::Done(_) => {
            assert_error(app.register("newcomer", PASSWORD).await, 409, "username_taken").await;
        }
        Outcome::Refused => {
            app.registered("newcomer", PASSWORD).await;
        }
    }
    if let Outcome::Done(body) = outcome(login, 200).await {
        app.refreshed(&Tokens::from(body).refresh).await;
    }
    match outcome(logout, 204).await {
        Outcome::Done(_) => assert_eq!(app.refresh(&to_log_out.refresh).await.status(), 403),
        Outcome::Refused => {
            app.refreshed(&to_log_out.refresh).await;
        }
    }

    // And after a restart, every session still has the token its client holds.
    app.restart().await;
    for tokens in &sessions {
        app.refreshed(&tokens.refresh).await;
    }
    app.logged_in("newcomer", PASSWORD).await;
}
