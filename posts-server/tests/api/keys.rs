//! Key rotation on the verifying side: the previous access key keeps
//! verifying until it is removed, and the current one verifies too.
//!
//! The rotation of HS256 secrets runs on an HS256 server in every target; that of published
//! Ed25519 keys is in `follow` and `rotation` (the `api_eddsa` target).

use jwt_tokens::Secret;

use crate::helpers::{
    ACCESS_SECRET, assert_bearer_error, foreign_token_for, spawn_app, spawn_app_with, tokens_with_secret, use_hs256,
};

const NEW_ACCESS_SECRET: &str = "rotated-access-secret-for-posts-0123456789";

fn token_signed_with(secret: &str) -> String {
    tokens_with_secret(secret)
        .issue("user-1", "alice", "session-1", std::time::Duration::from_secs(900))
        .expect("issue a token")
}

#[tokio::test]
async fn after_a_rotation_tokens_of_the_previous_key_still_verify_until_it_is_removed() {
    let old = token_signed_with(ACCESS_SECRET);
    let new = token_signed_with(NEW_ACCESS_SECRET);

    let rotating = spawn_app_with(|config| {
        use_hs256(config);
        config.tokens.access_token_secret = Some(Secret::new(NEW_ACCESS_SECRET));
        config.tokens.access_token_previous_secrets = vec![Secret::new(ACCESS_SECRET)];
    })
    .await;
    assert_eq!(
        rotating.get_posts(&old).await.status(),
        200,
        "the previous key verifies"
    );
    assert_eq!(rotating.get_posts(&new).await.status(), 200, "the current key verifies");

    let rotated = spawn_app_with(|config| {
        use_hs256(config);
        config.tokens.access_token_secret = Some(Secret::new(NEW_ACCESS_SECRET));
    })
    .await;
    assert_eq!(rotated.get_posts(&new).await.status(), 200);
    let refused = rotated.get_posts(&old).await;
    assert_refused_as_unknown_key(refused).await;
}

/// Refused because its `kid` names no key the server holds: not for any other reason a
/// rotation could hide behind (a bad signature, an expired token).
async fn assert_refused_as_unknown_key(response: reqwest::Response) {
    let body = assert_bearer_error(response, 403, "invalid_token").await;
    assert_eq!(
        body["message"], "the access token was not signed with a known key",
        "{body}"
    );
}

/// In the target's mode: a token of another secret, or of another Ed25519 key, each under its
/// own `kid`.
#[tokio::test]
async fn before_a_rotation_a_token_of_a_key_the_server_does_not_hold_is_refused() {
    let app = spawn_app().await;
    assert_refused_as_unknown_key(app.get_posts(&foreign_token_for("user-1", "alice")).await).await;
}
