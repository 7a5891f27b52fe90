//! Ended sessions on the verify path: a token whose session has ended is refused however valid
//! it is otherwise, on every path (the fast path, the library, a verified-token cache hit); a
//! fail-closed verifier whose feed lags refuses every token with a `503`, a fail-open one does
//! not; nothing else changes.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use jwt_tokens::ended::FeedHealth;
use jwt_tokens::{AccessTokens, Ed25519PrivateKey, KeySet, Rejection, Secret, TokenSettings, VerifyReason, now_unix};

const SECRET: &str = "the-access-secret-of-these-tests-0123456789";
const ENDED: &str = "0b9f6c8e-3f0e-4f57-9d4b-6a1f1f2d8c11";
const LIVE: &str = "7d1c2a3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    }
}

fn hs256() -> AccessTokens {
    AccessTokens::new(KeySet::single(&Secret::new(SECRET)).expect("a key"), &settings())
}

fn token(tokens: &AccessTokens, sid: &str) -> String {
    tokens
        .issue("user-1", "Kyle", sid, Duration::from_secs(900))
        .expect("issued")
}

fn reason(result: Result<jwt_tokens::AccessClaims, jwt_tokens::VerifyError>) -> Option<VerifyReason> {
    result.err().map(|err| err.reason)
}

#[test]
fn a_token_of_an_ended_session_is_refused_on_both_paths_and_others_are_not() {
    let tokens = hs256();
    let (ended, live) = (token(&tokens, ENDED), token(&tokens, LIVE));
    assert!(tokens.verify(&ended).is_ok(), "before it ends");
    assert!(tokens.ended().insert(ENDED, now_unix() + 900));
    for verify in [AccessTokens::verify, AccessTokens::verify_by_library] {
        assert_eq!(reason(verify(&tokens, &ended)), Some(VerifyReason::SessionEnded));
        assert_eq!(verify(&tokens, &live).expect("another session").sid, LIVE);
    }
    let err = tokens.verify(&ended).expect_err("ended");
    assert_eq!(
        err.to_string(),
        "the access token's session has ended (logged out or revoked)"
    );
    // As a client sees it: 403 invalid_token, with the challenge.
    let response = Rejection::Token(err).into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().expect("ASCII");
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
}

#[test]
fn a_cached_eddsa_token_is_refused_once_its_session_ends() {
    let key = Ed25519PrivateKey::generate().expect("a key");
    let issuer = AccessTokens::new(KeySet::ed25519(&key, &[]).expect("keys"), &settings());
    let verifier = AccessTokens::following(&settings());
    verifier
        .replace_keys(KeySet::from_jwks(issuer.jwks().as_bytes()).expect("a set"))
        .expect("applied");
    let ended = token(&issuer, ENDED);
    assert!(verifier.verify(&ended).is_ok());
    assert_eq!(verifier.verified_cache_len(), 1, "kept after its first verification");
    verifier.ended().insert(ENDED, now_unix() + 900);
    assert_eq!(reason(verifier.verify(&ended)), Some(VerifyReason::SessionEnded));
    assert_eq!(
        reason(verifier.verify_by_library(&ended)),
        Some(VerifyReason::SessionEnded)
    );
}

#[test]
fn an_invalid_token_is_refused_for_what_it_is_whatever_the_set_holds() {
    let tokens = hs256();
    tokens.ended().insert(ENDED, now_unix() + 900);
    let other = AccessTokens::new(
        KeySet::single(&Secret::new("another-access-secret-0123456789abcdef")).expect("a key"),
        &settings(),
    );
    // Signed with another key: the signature is what is wrong, not the session.
    assert_ne!(
        reason(tokens.verify(&token(&other, ENDED))),
        Some(VerifyReason::SessionEnded)
    );
}

#[test]
fn a_fail_closed_verifier_refuses_every_token_with_a_503_until_caught_up_and_while_behind() {
    let tokens = hs256();
    let health = Arc::new(FeedHealth::new(Duration::from_millis(50), true));
    tokens.follow_health(Arc::clone(&health));
    let live = token(&tokens, LIVE);
    let err = tokens.verify(&live).expect_err("not caught up yet");
    assert_eq!(err.reason, VerifyReason::SessionsUnknown);
    let response = Rejection::Token(err).into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(!response.headers().contains_key("www-authenticate"));

    health.answered();
    health.set_caught_up();
    assert!(tokens.verify(&live).is_ok());
    health.failed();
    assert!(tokens.verify(&live).is_ok(), "within the lag allowed");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(reason(tokens.verify(&live)), Some(VerifyReason::SessionsUnknown));
    // A token that is wrong in itself is still refused for that, with a 403.
    assert_eq!(reason(tokens.verify("not.a.token")), Some(VerifyReason::Malformed));
    health.answered();
    assert!(tokens.verify(&live).is_ok(), "the feed is back");
}

#[test]
fn a_fail_open_verifier_goes_on_with_what_it_knows() {
    let tokens = hs256();
    let health = Arc::new(FeedHealth::new(Duration::ZERO, false));
    tokens.follow_health(Arc::clone(&health));
    tokens.ended().insert(ENDED, now_unix() + 900);
    health.failed();
    std::thread::sleep(Duration::from_millis(5));
    assert!(health.too_far_behind());
    assert!(tokens.verify(&token(&tokens, LIVE)).is_ok());
    assert_eq!(
        reason(tokens.verify(&token(&tokens, ENDED))),
        Some(VerifyReason::SessionEnded),
        "what it knew still counts"
    );
}
