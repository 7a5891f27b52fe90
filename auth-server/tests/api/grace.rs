//! `REFRESH_REUSE_GRACE`: a spent refresh token presented again soon after its
//! rotation gets the session's current pair; later, or older, it is theft.

use std::time::Duration;

use crate::helpers::{PASSWORD, Tokens, assert_refused, json, spawn_app_with};

fn grace(seconds: u64) -> impl FnOnce(&mut auth_server::Config) {
    move |config| config.refresh_reuse_grace = Duration::from_secs(seconds)
}

#[tokio::test]
async fn within_the_grace_period_a_spent_token_gets_the_current_pair_and_nothing_is_revoked() {
    let app = spawn_app_with(grace(10)).await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;

    // The answer lost on the way: the client presents its old token again.
    let again = app.refreshed(&login.refresh).await;

    assert_eq!(again.refresh, next.refresh, "the same successor, not a new one");
    let claims = app.access.verify(&again.access).expect("a valid access token");
    assert_eq!(claims.sid, app.refresh_claims(&login.refresh).sid, "the same session");
    // Nothing was revoked: the current token rotates as usual, once.
    let after = app.refreshed(&next.refresh).await;
    assert_ne!(after.refresh, next.refresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tabs_all_get_the_same_successor() {
    const TABS: usize = 16;
    let app = spawn_app_with(grace(10)).await;
    let (_, login) = app.user_with_session("alice").await;

    let outcomes = app.concurrent_refreshes(&login.refresh, TABS).await;

    assert!(outcomes.iter().all(|(status, _)| *status == 200), "{outcomes:?}");
    let successors: Vec<&str> = outcomes
        .iter()
        .map(|(_, body)| body["refreshToken"].as_str().expect("a refreshToken"))
        .collect();
    assert!(
        successors.iter().all(|s| *s == successors[0]),
        "one successor: {successors:?}"
    );
    assert_ne!(successors[0], login.refresh);
    // The session lives on: its one current token rotates, and the chain goes on.
    let next = app.refreshed(successors[0]).await;
    app.refreshed(&next.refresh).await;
}

#[tokio::test]
async fn after_the_grace_period_a_spent_token_revokes_the_session() {
    let app = spawn_app_with(grace(1)).await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;

    // 1.2 s after the rotation, by the database's clock.
    app.age_sessions(Duration::from_millis(1200)).await;

    assert_refused(app.refresh(&login.refresh).await).await;
    assert_refused(app.refresh(&next.refresh).await).await;
}

#[tokio::test]
async fn a_token_spent_two_rotations_ago_is_theft_even_within_the_grace_period() {
    let app = spawn_app_with(grace(10)).await;
    let (_, login) = app.user_with_session("alice").await;
    let second = app.refreshed(&login.refresh).await;
    let third = app.refreshed(&second.refresh).await;

    let body = json(app.refresh(&login.refresh).await).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");

    assert_refused(app.refresh(&third.refresh).await).await;
    assert_refused(app.refresh(&second.refresh).await).await;
}

#[tokio::test]
async fn the_grace_period_does_not_outlive_a_logout() {
    let app = spawn_app_with(grace(10)).await;
    let (_, login) = app.user_with_session("alice").await;
    let next = app.refreshed(&login.refresh).await;
    assert_eq!(app.logout(&next.refresh, None).await.status(), 204);

    assert_refused(app.refresh(&login.refresh).await).await;
}

#[tokio::test]
async fn the_grace_period_is_per_session() {
    let app = spawn_app_with(grace(10)).await;
    let (_, first) = app.user_with_session("alice").await;
    let second: Tokens = app.logged_in("alice", PASSWORD).await;
    app.refreshed(&first.refresh).await;

    // The other session's token is current, not spent: it rotates normally.
    let rotated = app.refreshed(&second.refresh).await;
    assert_ne!(rotated.refresh, second.refresh);
    assert_ne!(
        app.refresh_claims(&rotated.refresh).sid,
        app.refresh_claims(&first.refresh).sid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_grace_exactly_one_of_many_concurrent_requests_succeeds() {
    const CONCURRENT: usize = 24;
    let app = spawn_app_with(grace(0)).await;
    let (_, login) = app.user_with_session("alice").await;

    let outcomes = app.concurrent_refreshes(&login.refresh, CONCURRENT).await;

    let winners: Vec<_> = outcomes.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, body) in &outcomes {
        if *status != 200 {
            assert_eq!(*status, 403, "{body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    // The losers presented a spent token outside any grace: the session is revoked.
    let winner = winners[0].1["refreshToken"].as_str().expect("a refreshToken");
    assert_refused(app.refresh(winner).await).await;
}
