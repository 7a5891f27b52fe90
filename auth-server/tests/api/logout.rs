//! `DELETE /logout`: ending one session, or every session of a user.

use jwt_tokens::{RefreshClaims, now_unix};
use serde_json::json;

use crate::helpers::{
    ISSUER, PASSWORD, assert_bearer_error, assert_error, assert_refused, foreign_refresh_tokens, spawn_app,
};

#[tokio::test]
async fn logout_is_204_and_ends_the_session() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;

    let response = app.logout(&next.refresh, None).await;

    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("a body").is_empty());
    assert_refused(app.refresh(&next.refresh).await).await;
}

#[tokio::test]
async fn logout_with_scope_session_ends_only_that_session() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.logged_in("alice", PASSWORD).await;

    assert_eq!(app.logout(&first.refresh, Some("session")).await.status(), 204);

    assert_refused(app.refresh(&first.refresh).await).await;
    app.refreshed(&second.refresh).await;
}

#[tokio::test]
async fn plain_logout_of_one_session_leaves_the_other_working() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.logged_in("alice", PASSWORD).await;

    assert_eq!(app.logout(&first.refresh, None).await.status(), 204);

    assert_refused(app.refresh(&first.refresh).await).await;
    let rotated = app.refreshed(&second.refresh).await;
    app.refreshed(&rotated.refresh).await;
}

#[tokio::test]
async fn logout_with_a_spent_token_of_a_live_session_ends_it() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;

    // The old token still proves the session; logging out with it ends the session.
    assert_eq!(app.logout(&login.refresh, None).await.status(), 204);

    assert_refused(app.refresh(&next.refresh).await).await;
}

#[tokio::test]
async fn global_logout_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let second = app.logged_in("alice", PASSWORD).await;
    let (_, bystander) = app.user_with_session("bob").await;

    let response = app.logout(&first.refresh, Some("global")).await;

    assert_eq!(response.status(), 204);
    assert_refused(app.refresh(&first.refresh).await).await;
    assert_refused(app.refresh(&second.refresh).await).await;
    // Another user is not logged out.
    app.refreshed(&bystander.refresh).await;
    // A new login after a global logout starts a working session.
    let again = app.logged_in("alice", PASSWORD).await;
    app.refreshed(&again.refresh).await;
}

/// A token whose session has ended (logged out, or revoked as stolen) "leaves
/// nothing to end" (routes/logout.rs): it must not end the user's other,
/// newer sessions either, or whoever holds an old token can log the user out
/// everywhere, again and again, until that token expires.
#[tokio::test]
async fn a_token_of_an_ended_session_cannot_log_out_the_other_sessions() {
    let app = spawn_app().await;
    let (_, logged_out) = app.user_with_session("alice").await;
    assert_eq!(app.logout(&logged_out.refresh, None).await.status(), 204);
    let stolen = app.logged_in("alice", PASSWORD).await;
    app.refreshed(&stolen.refresh).await;
    assert_refused(app.refresh(&stolen.refresh).await).await;
    let live = app.logged_in("alice", PASSWORD).await;

    for ended in [&logged_out.refresh, &stolen.refresh] {
        assert_eq!(app.logout(ended, Some("global")).await.status(), 204);
        assert_eq!(app.logout(ended, None).await.status(), 204);
    }

    app.refreshed(&live.refresh).await;
}

#[tokio::test]
async fn logout_of_unknown_garbage_or_revoked_tokens_is_204() {
    let app = spawn_app().await;
    let (id, login) = app.user_with_session("alice").await;

    let unknown_session = app
        .refresh
        .sign(&RefreshClaims {
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            sub: id,
            iat: now_unix(),
            exp: now_unix() + 3600,
            jti: "no-such-jti".into(),
            sid: "no-such-session".into(),
        })
        .expect("sign");
    let forged = foreign_refresh_tokens()
        .sign(&app.refresh_claims(&login.refresh))
        .expect("sign");
    for token in [
        unknown_session.as_str(),
        "garbage",
        "",
        forged.as_str(),
        login.access.as_str(),
    ] {
        let response = app.logout(token, None).await;
        assert_eq!(response.status(), 204, "logout with {token:?}");
    }
    // None of those ended the real session.
    let next = app.refreshed(&login.refresh).await;

    assert_eq!(app.logout(&next.refresh, None).await.status(), 204);
    // Already revoked: still 204, in either scope.
    assert_eq!(app.logout(&next.refresh, None).await.status(), 204);
    assert_eq!(app.logout(&next.refresh, Some("global")).await.status(), 204);
}

#[tokio::test]
async fn malformed_logout_bodies_are_400() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    let bodies = [
        json!({}),
        json!({ "scope": "global" }),
        json!({ "token": null }),
        json!({ "token": 42 }),
        json!({ "token": login.refresh, "scope": "everything" }),
        json!({ "token": login.refresh, "scope": "Global" }),
        json!({ "token": login.refresh, "scope": 1 }),
    ];
    for body in &bodies {
        let response = app.delete_json("/logout", body).await;
        assert_error(response, 400, "invalid_body").await;
    }

    let response = app
        .client
        .delete(app.url("/logout"))
        .header("content-type", "application/json")
        .body("{\"token\": ")
        .send()
        .await
        .expect("DELETE /logout");
    assert_error(response, 400, "invalid_body").await;

    let response = app
        .client
        .delete(app.url("/logout"))
        .send()
        .await
        .expect("DELETE /logout");
    assert_error(response, 400, "invalid_body").await;

    // None of the refused requests logged the session out.
    app.refreshed(&login.refresh).await;
}

/// A spent refresh token of a live session can end that session, and nothing more: asked to end
/// every session, it gets a refusal that says so, not the `204` of a global logout.
#[tokio::test]
async fn a_global_logout_with_a_spent_token_ends_only_its_session_and_says_so() {
    let app = spawn_app().await;
    let (_, first) = app.user_with_session("alice").await;
    let next = app.refreshed(&first.refresh).await;
    let other = app.logged_in("alice", PASSWORD).await;

    let body = assert_bearer_error(app.logout(&first.refresh, Some("global")).await, 403, "invalid_grant").await;
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("only the current refresh token"), "{message}");

    // Its own session has ended; the user's other session goes on.
    assert_refused(app.refresh(&next.refresh).await).await;
    app.refreshed(&other.refresh).await;
}

#[tokio::test]
async fn an_unknown_scope_is_400_without_echoing_what_was_sent() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;

    for scope in [json!("SECRETSCOPE"), json!(12345678), json!("Global ")] {
        let response = app
            .delete_json("/logout", &json!({ "token": login.refresh, "scope": scope }))
            .await;
        let body = assert_error(response, 400, "invalid_body").await;
        let sent = scope.as_str().map_or_else(|| scope.to_string(), str::to_owned);
        assert!(!body.to_string().contains(sent.trim()), "{body}");
        assert!(!body.to_string().contains(&login.refresh), "{body}");
    }
    // Nothing was ended.
    app.refreshed(&login.refresh).await;
}
