//! The caller's own account with a bearer access token: `GET /sessions` lists their live
//! sessions, `DELETE /sessions/{id}` ends one, `POST /password` changes the password and ends
//! every other session (through the ended-session log, like every end).

use std::collections::HashSet;
use std::time::Duration;

use auth_server::Config;
use reqwest::Response;
use serde_json::{Value, json};
use service_kit::rate_limit::Switch;

use crate::helpers::{
    PASSWORD, TestApp, Tokens, assert_bearer_error, assert_error, assert_refused, eventually, json, spawn_app,
    spawn_app_with,
};

const ENDED: &str = "the access token's session has ended (logged out or revoked)";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn get_sessions(app: &TestApp, access: &str) -> Response {
    app.client
        .get(app.url("/sessions"))
        .bearer_auth(access)
        .send()
        .await
        .expect("GET /sessions")
}

/// `GET /sessions`, which must answer `200`: the list, its shape checked.
async fn sessions(app: &TestApp, access: &str) -> Vec<Value> {
    let response = get_sessions(app, access).await;
    assert_eq!(response.status(), 200, "GET /sessions");
    assert_eq!(
        response.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let body = json(response).await;
    let list = body.as_array().expect("an array").clone();
    for session in &list {
        assert_eq!(
            crate::helpers::sorted_keys(session),
            ["createdAt", "current", "id", "lastUsedAt", "userAgent"],
            "{session}"
        );
        for time in ["createdAt", "lastUsedAt"] {
            let text = session[time].as_str().expect("a time");
            humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{time} {text}: {e}"));
            assert!(text.ends_with('Z'), "{text}");
        }
    }
    list
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|s| s["id"].as_str().expect("an id")).collect()
}

async fn delete_session(app: &TestApp, access: &str, id: &str) -> Response {
    app.client
        .delete(app.url(&format!("/sessions/{id}")))
        .bearer_auth(access)
        .send()
        .await
        .expect("DELETE /sessions/{id}")
}

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Response {
    app.client
        .post(app.url("/password"))
        .bearer_auth(access)
        .json(&json!({ "currentPassword": current, "newPassword": new }))
        .send()
        .await
        .expect("POST /password")
}

/// Logs in with `User-Agent: agent` (none for `None`); returns the tokens.
async fn login_as(app: &TestApp, username: &str, password: &str, agent: Option<&str>) -> Tokens {
    let mut request = app
        .client
        .post(app.url("/login"))
        .json(&json!({ "username": username, "password": password }));
    if let Some(agent) = agent {
        request = request.header("user-agent", agent);
    }
    let response = request.send().await.expect("POST /login");
    assert_eq!(response.status(), 200, "login {username}");
    Tokens::from(json(response).await)
}

fn sid(app: &TestApp, tokens: &Tokens) -> String {
    app.refresh_claims(&tokens.refresh).sid
}

/// The session ids the ended-session feed lists now.
async fn feed_sids(app: &TestApp) -> HashSet<String> {
    let body = json(app.get("/sessions/ended").await).await;
    body["ended"]
        .as_array()
        .expect("`ended`")
        .iter()
        .map(|entry| entry["sid"].as_str().expect("a sid").to_owned())
        .collect()
}

/// Whether the feed lists every one of `sids` within a second.
async fn feed_lists(app: &TestApp, sids: &[&str]) -> bool {
    eventually(Duration::from_secs(1), || async {
        let listed = feed_sids(app).await;
        sids.iter().all(|sid| listed.contains(*sid))
    })
    .await
}

#[tokio::test]
async fn every_route_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let body = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    let requests = || {
        [
            app.client.get(app.url("/sessions")),
            app.client.delete(app.url("/sessions/some-id")),
            app.client.post(app.url("/password")).json(&body),
        ]
    };
    for request in requests() {
        let response = request.send().await.expect("a request");
        assert_bearer_error(response, 401, "invalid_request").await;
    }
    // Not a token; a refresh token where an access token belongs.
    for bearer in ["not.a.token", tokens.refresh.as_str()] {
        for request in requests() {
            let response = request.bearer_auth(bearer).send().await.expect("a request");
            assert_bearer_error(response, 403, "invalid_token").await;
        }
    }
    // Nothing was changed by any of them.
    app.logged_in("alice", PASSWORD).await;
    assert_eq!(sessions(&app, &tokens.access).await.len(), 2);
}

#[tokio::test]
async fn an_ended_sessions_access_token_is_refused_at_once() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let other = app.logged_in("alice", PASSWORD).await;
    assert_eq!(app.logout(&tokens.refresh, None).await.status(), 204);

    let refused = assert_bearer_error(get_sessions(&app, &tokens.access).await, 403, "invalid_token").await;
    assert_eq!(refused["message"], ENDED);
    let refused = assert_bearer_error(
        delete_session(&app, &tokens.access, &sid(&app, &other)).await,
        403,
        "invalid_token",
    )
    .await;
    assert_eq!(refused["message"], ENDED);
    let refused = assert_bearer_error(
        change_password(&app, &tokens.access, PASSWORD, NEW_PASSWORD).await,
        403,
        "invalid_token",
    )
    .await;
    assert_eq!(refused["message"], ENDED);

    // The other session was not ended and the password not changed.
    app.refreshed(&other.refresh).await;
    app.logged_in("alice", PASSWORD).await;
}

#[tokio::test]
async fn lists_the_callers_live_sessions_newest_first_with_their_user_agents() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;
    app.registered("bob", PASSWORD).await;
    let first = login_as(&app, "alice", PASSWORD, Some("first-client/1.0")).await;
    let ended = login_as(&app, "alice", PASSWORD, Some("ended-client/1.0")).await;
    let bob = login_as(&app, "bob", PASSWORD, Some("bob-client/1.0")).await;
    let long_agent = format!("Mozilla/5.0 caf\u{e9}\t{}", "x".repeat(300));
    let third = login_as(&app, "alice", PASSWORD, Some(&long_agent)).await;
    let fourth = login_as(&app, "Alice", PASSWORD, None).await;
    assert_eq!(app.logout(&ended.refresh, None).await.status(), 204);
    let first = app.refreshed(&first.refresh).await;

    let list = sessions(&app, &third.access).await;
    assert_eq!(
        ids(&list),
        [sid(&app, &fourth), sid(&app, &third), sid(&app, &first)],
        "newest first, without the ended one or bob's: {list:?}"
    );
    let current: Vec<bool> = list.iter().map(|s| s["current"].as_bool().expect("a bool")).collect();
    assert_eq!(current, [false, true, false]);
    assert_eq!(list[0]["userAgent"], Value::Null);
    let short = list[1]["userAgent"].as_str().expect("a user agent");
    assert_eq!(short.len(), 100, "{short}");
    assert!(short.starts_with("Mozilla/5.0 cafxxx"), "{short}");
    assert_eq!(list[2]["userAgent"], "first-client/1.0");
    // Never refreshed: last used when it started. Refreshed: later than it started.
    assert_eq!(list[1]["lastUsedAt"], list[1]["createdAt"]);
    let (created, used) = (&list[2]["createdAt"], &list[2]["lastUsedAt"]);
    assert!(used.as_str() > created.as_str(), "{created} then {used}");
    assert!(list[0]["createdAt"].as_str() > list[1]["createdAt"].as_str());

    // Asked with another session's token, that one is current.
    let list = sessions(&app, &first.access).await;
    let current: Vec<bool> = list.iter().map(|s| s["current"].as_bool().expect("a bool")).collect();
    assert_eq!(current, [false, false, true]);

    // Bob sees his own only.
    let list = sessions(&app, &bob.access).await;
    assert_eq!(ids(&list), [sid(&app, &bob)]);
    assert_eq!(list[0]["userAgent"], "bob-client/1.0");
    assert_eq!(list[0]["current"], true);
}

#[tokio::test]
async fn deleting_a_session_ends_it_and_another_users_answers_as_an_unknown_one() {
    let app = spawn_app().await;
    let (_, mine) = app.user_with_session("alice").await;
    let doomed = app.logged_in("alice", PASSWORD).await;
    let (_, bob) = app.user_with_session("bob").await;
    let doomed_sid = sid(&app, &doomed);

    let response = delete_session(&app, &mine.access, &doomed_sid).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("a body").is_empty());
    assert_refused(app.refresh(&doomed.refresh).await).await;
    assert!(
        feed_lists(&app, &[&doomed_sid]).await,
        "the ended session is in the feed"
    );
    assert_eq!(ids(&sessions(&app, &mine.access).await), [sid(&app, &mine)]);
    assert_bearer_error(get_sessions(&app, &doomed.access).await, 403, "invalid_token").await;

    // An ended session, another user's live one and an unknown id: one and the same answer.
    let mut answers = Vec::new();
    for id in [doomed_sid.as_str(), &sid(&app, &bob), "no-such-session"] {
        let response = delete_session(&app, &mine.access, id).await;
        assert_eq!(response.status(), 404, "{id}");
        let headers = response.headers().clone();
        assert_eq!(
            headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        assert!(headers.get("www-authenticate").is_none());
        let text = response.text().await.expect("a body");
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(body["error"], "not_found", "{text}");
        answers.push(text);
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    // Bob's session goes on.
    app.refreshed(&bob.refresh).await;

    // The current session may end itself: that is a logout.
    assert_eq!(
        delete_session(&app, &mine.access, &sid(&app, &mine)).await.status(),
        204
    );
    assert_refused(app.refresh(&mine.refresh).await).await;
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_keeps_the_current_one() {
    let app = spawn_app().await;
    let (_, current) = app.user_with_session("alice").await;
    let other = app.logged_in("alice", PASSWORD).await;
    let rotated = app.refreshed(&app.logged_in("alice", PASSWORD).await.refresh).await;
    let (_, bob) = app.user_with_session("bob").await;

    let response = change_password(&app, &current.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("a body").is_empty());

    // The other sessions have ended, through the log that posts-servers follow.
    assert_refused(app.refresh(&other.refresh).await).await;
    assert_refused(app.refresh(&rotated.refresh).await).await;
    let (other_sid, rotated_sid) = (sid(&app, &other), sid(&app, &rotated));
    assert!(
        feed_lists(&app, &[&other_sid, &rotated_sid]).await,
        "the ended sessions are in the feed"
    );
    let listed = feed_sids(&app).await;
    assert!(
        !listed.contains(&sid(&app, &current)),
        "the current session is not in the feed"
    );
    assert!(!listed.contains(&sid(&app, &bob)));

    // The current one goes on, and alone.
    let next = app.refreshed(&current.refresh).await;
    assert_eq!(ids(&sessions(&app, &next.access).await), [sid(&app, &current)]);

    // The new password logs in; the old one does not.
    assert_error(app.login("alice", PASSWORD).await, 401, "invalid_credentials").await;
    app.logged_in("alice", NEW_PASSWORD).await;
    // Bob is untouched.
    app.refreshed(&bob.refresh).await;
    app.logged_in("bob", PASSWORD).await;
}

#[tokio::test]
async fn a_new_password_must_follow_the_rules_of_registration() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let other = app.logged_in("alice", PASSWORD).await;
    for new in ["short", &"x".repeat(1025)] {
        let response = change_password(&app, &tokens.access, PASSWORD, new).await;
        assert_error(response, 400, "invalid_password").await;
    }
    let response = app
        .client
        .post(app.url("/password"))
        .bearer_auth(&tokens.access)
        .json(&json!({ "newPassword": NEW_PASSWORD }))
        .send()
        .await
        .expect("POST /password");
    assert_error(response, 400, "invalid_body").await;
    // Nothing changed.
    app.refreshed(&other.refresh).await;
    app.logged_in("alice", PASSWORD).await;
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_ends_nothing() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("alice").await;
    let other = app.logged_in("alice", PASSWORD).await;
    let response = change_password(&app, &tokens.access, "not the password", NEW_PASSWORD).await;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    let refused = assert_bearer_error(response, 403, "invalid_credentials").await;
    assert_eq!(refused["message"], "the current password is wrong");
    let challenge = challenge.expect("a challenge");
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    app.refreshed(&other.refresh).await;
    app.logged_in("alice", PASSWORD).await;
    assert_error(app.login("alice", NEW_PASSWORD).await, 401, "invalid_credentials").await;
}

fn limited(adjust: impl FnOnce(&mut Config)) -> impl FnOnce(&mut Config) {
    move |config| {
        config.server.limits.rate_limits = Switch::On;
        adjust(config);
    }
}

async fn assert_limited(response: Response) {
    assert!(response.headers().contains_key("retry-after"), "Retry-After on a 429");
    assert_error(response, 429, "rate_limited").await;
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_login_limit_per_username() {
    let app = spawn_app_with(limited(|c| {
        c.login_rate_per_username = "3/1h".parse().expect("a rate");
    }))
    .await;
    // The login is the first attempt of three.
    let (_, tokens) = app.user_with_session("alice").await;
    for _ in 0..2 {
        let response = change_password(&app, &tokens.access, "not the password", NEW_PASSWORD).await;
        assert_error(response, 403, "invalid_credentials").await;
    }
    assert_limited(change_password(&app, &tokens.access, "not the password", NEW_PASSWORD).await).await;
    // The right one waits too, and so does the login form: one count for both.
    assert_limited(change_password(&app, &tokens.access, PASSWORD, NEW_PASSWORD).await).await;
    assert_limited(app.login("alice", PASSWORD).await).await;
    // Another user is not held back.
    app.user_with_session("bob").await;
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_login_limit_per_address() {
    let app = spawn_app_with(limited(|c| {
        c.login_rate_per_address = "3/1h".parse().expect("a rate");
    }))
    .await;
    let (_, tokens) = app.user_with_session("alice").await;
    let response = change_password(&app, &tokens.access, "not the password", NEW_PASSWORD).await;
    assert_error(response, 403, "invalid_credentials").await;
    // A right one counts as well.
    let response = change_password(&app, &tokens.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);
    assert_limited(change_password(&app, &tokens.access, NEW_PASSWORD, PASSWORD).await).await;
    assert_limited(app.login("alice", NEW_PASSWORD).await).await;
}

#[tokio::test]
async fn the_account_routes_are_described_with_the_bearer_scheme() {
    let app = spawn_app().await;
    let doc = test_support::openapi::document(&app.client, &app.address).await;
    for (path, method) in [
        ("/sessions", "get"),
        ("/sessions/{id}", "delete"),
        ("/password", "post"),
    ] {
        let operation = test_support::openapi::operation(&doc, path, method);
        assert_eq!(operation["security"], json!([{ "bearer": [] }]), "{method} {path}");
        let responses = operation["responses"].as_object().expect("responses");
        for status in ["401", "403"] {
            assert!(responses.contains_key(status), "{method} {path} documents {status}");
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]["securitySchemes"]
    );
    let codes = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["enum"];
    let codes: Vec<&str> = codes
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("a code"))
        .collect();
    let unique: HashSet<&&str> = codes.iter().collect();
    assert_eq!(unique.len(), codes.len(), "each code once: {codes:?}");
}
