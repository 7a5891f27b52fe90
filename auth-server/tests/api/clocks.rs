//! Several auth-server instances on one PostgreSQL database whose system clocks differ: the
//! reuse grace window means the same on each, because the database's clock times it.
//! PostgreSQL target only (SQLite is one server process).

use std::sync::Arc;
use std::time::Duration;

use auth_server::clock::Clock;

use crate::helpers::{PASSWORD, TestApp, assert_refused, spawn_app_on, test_data};

/// Five minutes, either way.
const SKEW_MS: i64 = 5 * 60 * 1000;
const GRACE: Duration = Duration::from_secs(1);

/// Instance A, whose clock is off by `skew_ms`, and instance B, on the system clock, on one
/// database with a one-second grace window.
async fn two_instances(skew_ms: i64) -> (TestApp, TestApp) {
    let data = test_data().await;
    let a = spawn_app_on(Arc::clone(&data), |config| {
        config.refresh_reuse_grace = GRACE;
        config.clock = Clock::skewed(skew_ms);
    })
    .await;
    let b = spawn_app_on(data, |config| config.refresh_reuse_grace = GRACE).await;
    (a, b)
}

#[tokio::test]
async fn a_spent_token_is_theft_after_the_grace_even_if_the_rotating_instance_ran_ahead() {
    let (a, b) = two_instances(SKEW_MS).await;
    a.registered("alice", PASSWORD).await;
    let login = b.logged_in("alice", PASSWORD).await;
    let rotated = a.refreshed(&login.refresh).await;

    tokio::time::sleep(GRACE + Duration::from_millis(500)).await;
    // Past the grace window: theft, and the whole session ends, on both instances.
    assert_refused(b.refresh(&login.refresh).await).await;
    assert_refused(a.refresh(&rotated.refresh).await).await;
}

#[tokio::test]
async fn a_spent_token_is_in_grace_at_once_even_if_the_rotating_instance_ran_behind() {
    let (a, b) = two_instances(-SKEW_MS).await;
    a.registered("alice", PASSWORD).await;
    let login = b.logged_in("alice", PASSWORD).await;
    let rotated = a.refreshed(&login.refresh).await;

    // At once (the answer lost on the way): the current pair, nothing revoked.
    let again = b.refreshed(&login.refresh).await;
    assert_eq!(again.refresh, rotated.refresh);
    a.refreshed(&rotated.refresh).await;
}
