//! Key rotation: a new secret signs, the previous one keeps verifying until it
//! is removed; no one is logged out by a rotation.
//!
//! These rotate the HS256 access secret beside the refresh secret, so their servers run in
//! `HS256` mode in every target; the rotation of Ed25519 access keys is in `jwks.rs`.

use jwt_tokens::{AccessTokens, KeySet, RefreshTokens, Secret, TokenAlgorithm, key_id};

use crate::helpers::{
    ACCESS_SECRET, PASSWORD, REFRESH_SECRET, TestApp, assert_refused, default_settings, spawn_app_in,
};

async fn spawn_app() -> TestApp {
    spawn_app_in(TokenAlgorithm::Hs256, |_| {}).await
}

const NEW_ACCESS_SECRET: &str = "rotated-access-secret-0123456789-abcdefghijk";
const NEW_REFRESH_SECRET: &str = "rotated-refresh-secret-0123456789-abcdefghij";

fn only(secret: &str) -> KeySet {
    KeySet::single(&Secret::new(secret)).expect("a valid test secret")
}

fn kid_in_header(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT header")
        .kid
        .expect("a kid")
}

/// Restarts `app` on the same database with `access`/`refresh` signing and `previous` still verifying.
async fn rotate_keys(app: &mut TestApp, previous: bool) {
    app.config.tokens.access_token_secret = Some(Secret::new(NEW_ACCESS_SECRET));
    app.config.refresh_token_secret = Some(Secret::new(NEW_REFRESH_SECRET));
    let (old_access, old_refresh) = if previous {
        (vec![Secret::new(ACCESS_SECRET)], vec![Secret::new(REFRESH_SECRET)])
    } else {
        (Vec::new(), Vec::new())
    };
    app.config.tokens.access_token_previous_secrets = old_access;
    app.config.refresh_token_previous_secrets = old_refresh;
    app.restart().await;
}

#[tokio::test]
async fn sessions_started_before_a_rotation_keep_working_and_move_to_the_new_key() {
    let mut app = spawn_app().await;
    let (_, before) = app.user_with_session("alice").await;
    let old_kid = key_id(&Secret::new(REFRESH_SECRET)).expect("a kid");
    assert_eq!(kid_in_header(&before.refresh), old_kid);

    rotate_keys(&mut app, true).await;

    // The old refresh token verifies with the previous key and rotates…
    let after = app.refreshed(&before.refresh).await;
    // …into tokens signed by the new keys alone, with their kid.
    let new_refresh = RefreshTokens::new(only(NEW_REFRESH_SECRET), &default_settings());
    let new_access = AccessTokens::new(only(NEW_ACCESS_SECRET), &default_settings());
    new_refresh
        .verify(&after.refresh)
        .expect("signed with the new refresh key");
    new_access
        .verify(&after.access)
        .expect("signed with the new access key");
    assert_eq!(
        kid_in_header(&after.access),
        key_id(&Secret::new(NEW_ACCESS_SECRET)).expect("a kid")
    );
    // New logins are signed with the new keys too.
    let fresh = app.logged_in("alice", PASSWORD).await;
    new_refresh
        .verify(&fresh.refresh)
        .expect("signed with the new refresh key");
}

#[tokio::test]
async fn once_the_previous_key_is_removed_its_tokens_are_refused() {
    let mut app = spawn_app().await;
    let (_, untouched) = app.user_with_session("alice").await;
    let (_, moved) = app.user_with_session("bob").await;

    rotate_keys(&mut app, true).await;
    let moved = app.refreshed(&moved.refresh).await;

    rotate_keys(&mut app, false).await;

    // A session that never refreshed during the overlap holds a token of the removed key.
    assert_refused(app.refresh(&untouched.refresh).await).await;
    // A session that refreshed during the overlap carries on.
    app.refreshed(&moved.refresh).await;
}
