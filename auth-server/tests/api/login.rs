//! `POST /login`: a session and its first token pair, one answer for every wrong credential.

use jwt_tokens::{Secret, key_id, now_unix};
use serde_json::json;

use crate::helpers::{
    AUDIENCE, ISSUER, PASSWORD, REFRESH_SECRET, access_header, assert_bearer_error, assert_error, json, spawn_app,
};

#[tokio::test]
async fn login_returns_the_tokens_response() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;

    let response = app.login("alice", PASSWORD).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body = json(response).await;
    assert_eq!(
        crate::helpers::sorted_keys(&body),
        ["accessToken", "expiresIn", "refreshToken", "tokenType"],
        "{body}"
    );
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    assert!(body["accessToken"].is_string() && body["refreshToken"].is_string());
    assert_ne!(body["accessToken"], body["refreshToken"]);
}

#[tokio::test]
async fn the_access_token_names_the_user_and_verifies() {
    let app = spawn_app().await;
    let id = app.registered("Alice", PASSWORD).await;

    let tokens = app.logged_in("Alice", PASSWORD).await;

    let claims = app.access.verify(&tokens.access).expect("a valid access token");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.name, "Alice");
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    assert!(!claims.jti.is_empty() && !claims.sid.is_empty());
    let now = now_unix();
    assert!(claims.iat <= now + 1 && claims.nbf <= now + 1, "{claims:?}");
    assert_eq!(claims.exp, claims.iat + 900, "{claims:?}");

    // The algorithm of the target's mode, under the kid of the configured key.
    let header = jsonwebtoken::decode_header(&tokens.access).expect("a JWT header");
    let (alg, access_kid) = access_header(&app.config);
    assert_eq!(header.alg, alg);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some(access_kid.as_str()));
}

#[tokio::test]
async fn the_refresh_token_is_a_refresh_token_of_the_same_session() {
    let app = spawn_app().await;
    let id = app.registered("alice", PASSWORD).await;

    let tokens = app.logged_in("alice", PASSWORD).await;

    let header = jsonwebtoken::decode_header(&tokens.refresh).expect("a JWT header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("rt+jwt"));
    let refresh_kid = key_id(&Secret::new(REFRESH_SECRET)).expect("kid");
    assert_eq!(header.kid.as_deref(), Some(refresh_kid.as_str()));

    let claims = app.refresh_claims(&tokens.refresh);
    let access = app.access.verify(&tokens.access).expect("a valid access token");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.sid, access.sid);
    assert_eq!(claims.iss, ISSUER);
    // A refresh token is meant for the auth server only.
    assert_eq!(claims.aud, ISSUER);
    assert!(claims.exp >= now_unix() + 30 * 86_400 - 5, "{claims:?}");

    // Neither kind passes for the other.
    assert!(app.access.verify(&tokens.refresh).is_err());
    assert!(app.refresh.verify(&tokens.access).is_err());
}

#[tokio::test]
async fn each_login_is_a_new_session() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;

    let first = app.logged_in("alice", PASSWORD).await;
    let second = app.logged_in("alice", PASSWORD).await;

    assert_ne!(
        app.refresh_claims(&first.refresh).sid,
        app.refresh_claims(&second.refresh).sid
    );
}

#[tokio::test]
async fn login_ignores_the_case_of_the_username_and_keeps_the_registered_one() {
    let app = spawn_app().await;
    let id = app.registered("Kyle", PASSWORD).await;

    for name in ["kyle", "KYLE", "kYlE"] {
        let tokens = app.logged_in(name, PASSWORD).await;
        let claims = app.access.verify(&tokens.access).expect("a valid access token");
        assert_eq!(claims.sub, id);
        assert_eq!(claims.name, "Kyle");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;

    let wrong_password = app.login("alice", "not the password").await;
    let wrong_headers = wrong_password.headers().clone();
    let wrong_body = assert_bearer_error(wrong_password, 401, "invalid_credentials").await;

    let unknown_user = app.login("bob", PASSWORD).await;
    let unknown_headers = unknown_user.headers().clone();
    let unknown_body = assert_bearer_error(unknown_user, 401, "invalid_credentials").await;

    // A name that could never be registered gets the same answer, too.
    let impossible_user = app.login("no such user!", PASSWORD).await;
    let impossible_body = assert_bearer_error(impossible_user, 401, "invalid_credentials").await;

    assert_eq!(wrong_body, unknown_body);
    assert_eq!(wrong_body, impossible_body);
    assert_eq!(
        wrong_headers.get("www-authenticate"),
        unknown_headers.get("www-authenticate")
    );
}

#[tokio::test]
async fn a_password_differing_only_in_case_is_wrong() {
    let app = spawn_app().await;
    app.registered("alice", "Case Sensitive Password").await;
    let response = app.login("alice", "case sensitive password").await;
    assert_bearer_error(response, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn malformed_login_bodies_are_400() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;
    let bodies = [
        json!({ "username": "alice" }),
        json!({ "password": PASSWORD }),
        json!({}),
        json!({ "username": "alice", "password": 12_345_678 }),
        json!({ "username": ["alice"], "password": PASSWORD }),
        json!(null),
    ];
    for body in &bodies {
        let response = app.post_json("/login", body).await;
        assert_error(response, 400, "invalid_body").await;
    }

    let response = app.post_raw("/login", "{not json").await;
    assert_error(response, 400, "invalid_body").await;

    let response = app
        .client
        .post(app.url("/login"))
        .body(json!({ "username": "alice", "password": PASSWORD }).to_string())
        .send()
        .await
        .expect("POST /login");
    assert_error(response, 400, "invalid_body").await;
}

/// The median of `samples`, in milliseconds.
fn median_ms(samples: &mut [std::time::Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::test]
async fn an_unknown_user_costs_as_much_as_a_wrong_password() {
    const TRIES: usize = 9;
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;
    // One login first, so that nothing measured pays for warming up.
    app.logged_in("alice", PASSWORD).await;

    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for n in 0..TRIES {
        // Interleaved, so that load on the machine falls on both alike.
        let started = std::time::Instant::now();
        assert_eq!(app.login("alice", "not the password").await.status(), 401);
        wrong.push(started.elapsed());
        let started = std::time::Instant::now();
        assert_eq!(app.login(&format!("nobody{n}"), PASSWORD).await.status(), 401);
        unknown.push(started.elapsed());
    }

    let (wrong, unknown) = (median_ms(&mut wrong), median_ms(&mut unknown));
    let ratio = wrong.max(unknown) / wrong.min(unknown);
    assert!(
        ratio <= 2.0,
        "median wrong password {wrong:.1} ms, median unknown user {unknown:.1} ms: ratio {ratio:.2}"
    );
}
