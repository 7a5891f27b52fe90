//! Ended sessions (logged out, revoked, expired) are deleted in the background; live ones stay.

use std::time::Duration;

use crate::helpers::{PASSWORD, assert_refused, eventually, spawn_app_with};

const PATIENCE: Duration = Duration::from_secs(6);

#[tokio::test]
async fn logged_out_and_revoked_sessions_are_purged() {
    let app = spawn_app_with(|config| config.session_purge_interval = Duration::from_secs(1)).await;
    let (_, logged_out) = app.user_with_session("alice").await;
    let stolen = app.logged_in("alice", PASSWORD).await;
    let live = app.logged_in("alice", PASSWORD).await;
    assert_eq!(app.session_rows().await, 3);

    assert_eq!(app.logout(&logged_out.refresh, None).await.status(), 204);
    app.refreshed(&stolen.refresh).await;
    assert_refused(app.refresh(&stolen.refresh).await).await;

    let app = &app;
    assert!(
        eventually(PATIENCE, || async move { app.session_rows().await == 1 }).await,
        "the two ended sessions were not purged: {} rows",
        app.session_rows().await
    );
    // The live session was kept, and works.
    app.refreshed(&live.refresh).await;
    assert_eq!(app.session_rows().await, 1);
}

#[tokio::test]
async fn expired_sessions_are_purged() {
    let app = spawn_app_with(|config| {
        config.session_purge_interval = Duration::from_secs(1);
        config.refresh_token_ttl = Duration::from_secs(1);
        config.access_token_ttl = Duration::from_secs(1);
        config.tokens.jwt_leeway = Duration::ZERO;
    })
    .await;
    app.user_with_session("alice").await;
    assert_eq!(app.session_rows().await, 1);

    let app = &app;
    assert!(
        eventually(PATIENCE, || async move { app.session_rows().await == 0 }).await,
        "the expired session was not purged"
    );
}
