//! `POST /token`: rotation, refusals, reuse detection, concurrency and expiry.

use std::time::Duration;

use jwt_tokens::{AccessClaims, RefreshClaims, VerifyReason, now_unix};
use serde_json::json;

use crate::helpers::{
    ISSUER, OTHER_SECRET, PASSWORD, assert_bearer_error, assert_refused, foreign_refresh_tokens, json, spawn_app,
    spawn_app_with,
};

#[tokio::test]
async fn rotation_returns_a_new_access_and_a_new_refresh_token() {
    let app = spawn_app().await;
    let (id, login) = app.user_with_session("alice").await;

    let response = app.refresh(&login.refresh).await;

    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    let access = body["accessToken"].as_str().expect("an accessToken");
    let refresh = body["refreshToken"].as_str().expect("a refreshToken");
    assert_ne!(access, login.access);
    assert_ne!(refresh, login.refresh);

    let old = app.refresh_claims(&login.refresh);
    let new = app.refresh_claims(refresh);
    assert_eq!(new.sid, old.sid, "the same session");
    assert_eq!(new.sub, id);
    assert_ne!(new.jti, old.jti);
    // Both issued just now (in whole seconds, by the database's clock), the new one no earlier.
    let now = now_unix();
    assert!(
        (now - 60..=now).contains(&old.iat) && (old.iat..=now).contains(&new.iat),
        "login iat {}, rotation iat {}, now {now}",
        old.iat,
        new.iat
    );
    // The session ends REFRESH_TOKEN_TTL after login, not after the last rotation.
    assert_eq!(new.exp, old.exp);

    let claims = app.access.verify(access).expect("a valid access token");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.name, "alice");
    assert_eq!(claims.sid, old.sid);
}

#[tokio::test]
async fn a_chain_of_three_rotations_works() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;

    let mut seen = vec![login.refresh.clone()];
    let mut current = login;
    for _ in 0..3 {
        let next = app.refreshed(&current.refresh).await;
        assert!(!seen.contains(&next.refresh), "every refresh token is new");
        assert_ne!(next.access, current.access);
        seen.push(next.refresh.clone());
        current = next;
    }
    app.access
        .verify(&current.access)
        .expect("the last access token is valid");
}

#[tokio::test]
async fn no_token_is_401_invalid_request() {
    let app = spawn_app().await;
    for body in [json!({}), json!({ "token": null }), json!({ "token": "" })] {
        let response = app.post_json("/token", &body).await;
        assert_bearer_error(response, 401, "invalid_request").await;
    }
}

#[tokio::test]
async fn garbage_is_403() {
    let app = spawn_app().await;
    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer x"] {
        assert_refused(app.refresh(garbage).await).await;
    }
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;

    assert_refused(app.refresh(&login.access).await).await;

    // The refusal spent nothing: the real refresh token still works.
    app.refreshed(&login.refresh).await;
}

#[tokio::test]
async fn a_refresh_token_signed_with_another_secret_is_403() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;

    // The real session's claims, signed with a key the server does not know.
    let claims = app.refresh_claims(&login.refresh);
    let forged = foreign_refresh_tokens().sign(&claims).expect("sign");
    assert_refused(app.refresh(&forged).await).await;

    // Same claims, correct kid, other key: the signature must decide.
    let real_header = jsonwebtoken::decode_header(&login.refresh).expect("a header");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("rt+jwt".into());
    header.kid = real_header.kid;
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(OTHER_SECRET.as_bytes()).expect("a key"),
    )
    .expect("sign");
    assert_refused(app.refresh(&forged).await).await;

    // Neither forgery counted as reuse: the session is intact.
    app.refreshed(&login.refresh).await;
}

#[tokio::test]
async fn a_validly_signed_token_of_an_unknown_session_is_403() {
    let app = spawn_app().await;
    let (id, _) = app.user_with_session("alice").await;
    let token = app
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
    assert_refused(app.refresh(&token).await).await;
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;
    let (_, bystander) = app.user_with_session("bob").await;
    let second = app.refreshed(&login.refresh).await;
    let third = app.refreshed(&second.refresh).await;

    // The first token, already spent, comes back: theft.
    assert_refused(app.refresh(&login.refresh).await).await;

    // The newest token of that session is refused too, and so is any other of the family.
    assert_refused(app.refresh(&third.refresh).await).await;
    assert_refused(app.refresh(&second.refresh).await).await;

    // Another user's session is untouched.
    app.refreshed(&bystander.refresh).await;
}

#[tokio::test]
async fn reuse_revokes_only_that_session_of_the_user() {
    let app = spawn_app().await;
    let (_, stolen) = app.user_with_session("alice").await;
    let other = app.logged_in("alice", PASSWORD).await;
    app.refreshed(&stolen.refresh).await;

    assert_refused(app.refresh(&stolen.refresh).await).await;

    app.refreshed(&other.refresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_concurrent_rotations_of_one_token_exactly_one_succeeds() {
    const CONCURRENT: usize = 32;
    let app = spawn_app().await;
    let (_, login) = app.user_with_session("alice").await;

    let outcomes = app.concurrent_refreshes(&login.refresh, CONCURRENT).await;

    let successes: Vec<_> = outcomes.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(successes.len(), 1, "{outcomes:?}");
    for (status, body) in &outcomes {
        if *status != 200 {
            assert_eq!(*status, 403, "{body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    let winner = successes[0].1["refreshToken"].as_str().expect("a refreshToken");
    assert_ne!(winner, login.refresh);
}

#[tokio::test]
async fn an_expired_refresh_token_is_403() {
    let app = spawn_app_with(|config| {
        config.refresh_token_ttl = Duration::from_secs(1);
        config.access_token_ttl = Duration::from_secs(1);
        config.tokens.jwt_leeway = Duration::ZERO;
    })
    .await;
    let (_, login) = app.user_with_session("alice").await;
    let claims = app.refresh_claims(&login.refresh);
    assert!(claims.exp <= now_unix() + 1, "{claims:?}");
    // Before its end the session works: a second session of the same TTL rotates.
    let (_, live) = app.user_with_session("bob").await;
    let rotated = app.refresh(&live.refresh).await;
    assert_eq!(rotated.status(), 200, "a refresh token within its TTL rotates");

    // Two seconds on, as the server sees it: the same token, issued and ending two seconds earlier.
    let later = app
        .refresh
        .sign(&RefreshClaims {
            iat: claims.iat - 2,
            exp: claims.exp - 2,
            ..claims
        })
        .expect("sign the token as it is two seconds on");
    let body = assert_refused(app.refresh(&later).await).await;
    assert_eq!(body["message"], "the refresh token has expired", "{body}");
}

#[tokio::test]
async fn access_tokens_expire_after_access_token_ttl() {
    let app = spawn_app_with(|config| {
        config.access_token_ttl = Duration::from_secs(1);
        config.tokens.jwt_leeway = Duration::ZERO;
    })
    .await;
    let (_, login) = app.user_with_session("alice").await;
    assert_eq!(login.body["expiresIn"], 1);
    let claims = app.access.verify(&login.access).expect("valid right after login");
    assert_eq!(claims.exp, claims.iat + 1);

    // The same token two seconds on: past its end.
    let later = app
        .access
        .sign(&AccessClaims {
            iat: claims.iat - 2,
            nbf: claims.nbf - 2,
            exp: claims.exp - 2,
            ..claims
        })
        .expect("sign the token as it is two seconds on");
    let err = app.access.verify(&later).expect_err("expired by then");
    assert_eq!(err.reason, VerifyReason::Expired);
    // The session itself lives on: the refresh token still gets a fresh access token.
    let next = app.refreshed(&login.refresh).await;
    assert_eq!(next.body["expiresIn"], 1);
    app.access.verify(&next.access).expect("a fresh access token");
}

#[tokio::test]
async fn an_access_token_never_outlives_its_session() {
    // Sessions as long as access tokens: any rotation after login would stretch one past it.
    let app = spawn_app_with(|config| {
        config.access_token_ttl = Duration::from_secs(60);
        config.refresh_token_ttl = Duration::from_secs(60);
    })
    .await;
    let (_, login) = app.user_with_session("alice").await;
    // A rotation two seconds after login, when the session has 58 of its 60 s left: the session
    // is moved two seconds into the past, which is how the database's clock will see it then.
    let session_ends = app.refresh_claims(&login.refresh).exp - 2;
    app.age_sessions(Duration::from_secs(2)).await;

    let next = app.refreshed(&login.refresh).await;
    let access = app.access.verify(&next.access).expect("a valid access token");
    assert!(
        access.exp <= session_ends,
        "access exp {} > session end {session_ends}",
        access.exp
    );
    assert_eq!(
        app.refresh_claims(&next.refresh).exp,
        session_ends,
        "the session's end does not move"
    );
    let expires_in = next.body["expiresIn"].as_u64().expect("expiresIn");
    assert!(
        expires_in < 60,
        "expiresIn says how long the token really lives: {expires_in}"
    );
}
