//! Users and sessions survive a restart on the same database file.

use crate::helpers::{PASSWORD, assert_error, assert_refused, spawn_app};

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let id = app.registered("Alice", PASSWORD).await;
    let login = app.logged_in("alice", PASSWORD).await;
    let before = app.address.clone();

    app.restart().await;
    assert_ne!(app.address, before, "a new server on a new port");

    let again = app.logged_in("ALICE", PASSWORD).await;
    let claims = app.access.verify(&again.access).expect("a valid access token");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.name, "Alice");
    // The refresh token issued before the restart still rotates, and its successor too.
    let next = app.refreshed(&login.refresh).await;
    app.refreshed(&next.refresh).await;
    // The name is still taken.
    assert_error(app.register("alice", PASSWORD).await, 409, "username_taken").await;
}

#[tokio::test]
async fn spent_and_revoked_tokens_stay_refused_after_a_restart() {
    let mut app = spawn_app().await;
    let (_, logged_out) = app.user_with_session("alice").await;
    let rotated = app.logged_in("alice", PASSWORD).await;
    let current = app.refreshed(&rotated.refresh).await;
    assert_eq!(app.logout(&logged_out.refresh, None).await.status(), 204);

    app.restart().await;

    assert_refused(app.refresh(&logged_out.refresh).await).await;
    // Reuse of the spent token is still detected, and still ends the session.
    assert_refused(app.refresh(&rotated.refresh).await).await;
    assert_refused(app.refresh(&current.refresh).await).await;
}
