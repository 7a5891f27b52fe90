//! The `Authenticated` extractor in a real axum router: `401` for a missing or
//! malformed `Authorization` header, `403` for a token that fails verification,
//! `200` with the claims otherwise (CONTRACT.md, "Posts server" and "Errors").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use jwt_tokens::{AccessClaims, AccessTokens, Authenticated, KeySet, RefreshTokens, Secret, TokenSettings, now_unix};
use serde_json::Value;
use tower::ServiceExt as _;

const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789-abcdefghij";
const REFRESH_SECRET: &str = "refresh-secret-for-tests-0123456789-abcdefghi";
const OTHER_SECRET: &str = "some-other-secret-for-tests-0123456789-abcdef";
const TTL: Duration = Duration::from_secs(900);

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "auth-server".to_owned(),
        audience: "posts-server".to_owned(),
        leeway: Duration::from_secs(5),
    }
}

fn access_tokens(secret: &str) -> AccessTokens {
    AccessTokens::new(
        KeySet::single(&Secret::new(secret)).expect("test secret is long enough"),
        &settings(),
    )
}

#[derive(Clone)]
struct AppState {
    tokens: Arc<AccessTokens>,
    /// How many times the handler ran: never, for a refused request.
    calls: Arc<AtomicUsize>,
}

impl FromRef<AppState> for Arc<AccessTokens> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.tokens)
    }
}

async fn me(State(state): State<AppState>, Authenticated(claims): Authenticated) -> Json<AccessClaims> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    Json(claims)
}

fn app(state: AppState) -> Router {
    Router::new().route("/me", get(me)).with_state(state)
}

fn state() -> AppState {
    AppState {
        tokens: Arc::new(access_tokens(ACCESS_SECRET)),
        calls: Arc::new(AtomicUsize::new(0)),
    }
}

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    content_type: Option<String>,
    body: Value,
    raw_body: String,
}

async fn call(state: AppState, authorization: &[HeaderValue]) -> Reply {
    let mut request = Request::builder().uri("/me");
    for value in authorization {
        request = request.header(header::AUTHORIZATION, value.clone());
    }
    let request = request.body(Body::empty()).expect("a valid request");
    let response = app(state).oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &HeaderValue| v.to_str().expect("ASCII header").to_owned())
    };
    let challenge = text(header::WWW_AUTHENTICATE);
    let content_type = text(header::CONTENT_TYPE);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("reading the body");
    let raw_body = String::from_utf8(bytes.to_vec()).expect("a UTF-8 body");
    let body = serde_json::from_str(&raw_body).expect("a JSON body");
    Reply {
        status,
        challenge,
        content_type,
        body,
        raw_body,
    }
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("a valid header value")
}

fn bearer(token: &str) -> HeaderValue {
    value(&format!("Bearer {token}"))
}

fn issued() -> String {
    access_tokens(ACCESS_SECRET)
        .issue("user-42", "alice", "session-7", TTL)
        .expect("issuing an access token")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `401 invalid_request`: no usable `Authorization` header.
    Unauthorized,
    /// `403 invalid_token`: a bearer token that fails verification.
    Forbidden,
    /// `200`, the handler ran and saw the claims.
    Accepted,
}

struct Case {
    name: &'static str,
    headers: Vec<HeaderValue>,
    expected: Expect,
}

fn case(name: &'static str, headers: Vec<HeaderValue>, expected: Expect) -> Case {
    Case {
        name,
        headers,
        expected,
    }
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let token = issued();
    let now = now_unix();
    let expired = access_tokens(ACCESS_SECRET)
        .sign(&AccessClaims {
            iss: "auth-server".to_owned(),
            aud: "posts-server".to_owned(),
            sub: "user-42".to_owned(),
            name: "alice".to_owned(),
            iat: now - 3600,
            nbf: now - 3600,
            exp: now - 60,
            jti: "expired-jti".to_owned(),
            sid: "session-7".to_owned(),
        })
        .expect("signing an expired token");
    let refresh = RefreshTokens::new(
        KeySet::single(&Secret::new(REFRESH_SECRET)).expect("valid secret"),
        &settings(),
    )
    .issue("user-42", "session-7", "jti", now + 3600)
    .expect("issuing a refresh token");
    let foreign = access_tokens(OTHER_SECRET)
        .issue("user-42", "alice", "session-7", TTL)
        .expect("issuing under another key");
    let (header_b64, payload_b64) = {
        let mut it = token.split('.');
        (
            it.next().expect("header").to_owned(),
            it.next().expect("payload").to_owned(),
        )
    };
    vec![
        // --- 401: no usable Authorization header ---------------------------------
        case("missing header", vec![], Unauthorized),
        case("token without a scheme", vec![value(&token)], Unauthorized),
        case(
            "Basic credentials",
            vec![value("Basic dXNlcjpwYXNzd29yZA==")],
            Unauthorized,
        ),
        case(
            "Basic scheme with a JWT",
            vec![value(&format!("Basic {token}"))],
            Unauthorized,
        ),
        case("Token scheme", vec![value(&format!("Token {token}"))], Unauthorized),
        case(
            "Bearer: with a colon",
            vec![value(&format!("Bearer: {token}"))],
            Unauthorized,
        ),
        case("Bearer alone", vec![value("Bearer")], Unauthorized),
        case("Bearer and a space", vec![value("Bearer ")], Unauthorized),
        case("empty header", vec![value("")], Unauthorized),
        case("Bearer and only spaces", vec![value("Bearer   ")], Unauthorized),
        case(
            "tab instead of a space",
            vec![value(&format!("Bearer\t{token}"))],
            Unauthorized,
        ),
        case(
            "a space, then a tab",
            vec![value(&format!("Bearer \t{token}"))],
            Unauthorized,
        ),
        case(
            "two tokens",
            vec![value(&format!("Bearer {token} {token}"))],
            Unauthorized,
        ),
        case(
            "two tokens, comma",
            vec![value(&format!("Bearer {token},{token}"))],
            Unauthorized,
        ),
        case("trailing space", vec![value(&format!("Bearer {token} "))], Unauthorized),
        case(
            "two Authorization headers, both valid",
            vec![bearer(&token), bearer(&token)],
            Unauthorized,
        ),
        case(
            "two Authorization headers, one empty",
            vec![bearer(&token), value("")],
            Unauthorized,
        ),
        case(
            "non-ASCII bytes",
            vec![HeaderValue::from_bytes(b"Bearer \xff\xfe.abc.def").expect("opaque bytes")],
            Unauthorized,
        ),
        case(
            "UTF-8 in the token",
            vec![HeaderValue::from_bytes("Bearer tökén.ä.ö".as_bytes()).expect("opaque bytes")],
            Unauthorized,
        ),
        case(
            "quoted token",
            vec![value(&format!("Bearer \"{token}\""))],
            Unauthorized,
        ),
        case(
            "100 KB header, not a bearer token",
            vec![value(&format!("Basic {}", "a".repeat(100 * 1024)))],
            Unauthorized,
        ),
        case(
            "100 KB header, bearer with spaces inside",
            vec![value(&format!("Bearer {}", "a b".repeat(100 * 1024 / 3)))],
            Unauthorized,
        ),
        // --- 403: a bearer token that fails verification -------------------------------
        case("garbage token", vec![bearer("abc.def.ghi")], Forbidden),
        case("not even three segments", vec![bearer("abc")], Forbidden),
        case("expired token", vec![bearer(&expired)], Forbidden),
        case("refresh token", vec![bearer(&refresh)], Forbidden),
        case("token signed with another key", vec![bearer(&foreign)], Forbidden),
        case(
            "stripped signature",
            vec![bearer(&format!("{header_b64}.{payload_b64}."))],
            Forbidden,
        ),
        case("signature with padding", vec![bearer(&format!("{token}="))], Forbidden),
        case(
            // Syntactically a token68, so it is a token that fails (403), not a
            // malformed header (401).
            "100 KB bearer token",
            vec![bearer(&"a".repeat(100 * 1024))],
            Forbidden,
        ),
        // --- 200 -------------------------------------------------------------------
        case("valid token", vec![bearer(&token)], Accepted),
        case(
            "scheme in lower case",
            vec![value(&format!("bearer {token}"))],
            Accepted,
        ),
        case(
            "scheme in upper case",
            vec![value(&format!("BEARER {token}"))],
            Accepted,
        ),
        // RFC 6750 §2.1: `"Bearer" 1*SP b64token`.
        case("two spaces", vec![value(&format!("Bearer  {token}"))], Accepted),
        case("five spaces", vec![value(&format!("Bearer     {token}"))], Accepted),
    ]
}

/// Pieces of the presented credentials that must never be echoed back.
fn secrets_of(headers: &[HeaderValue]) -> Vec<String> {
    let mut pieces = vec![
        ACCESS_SECRET.to_owned(),
        REFRESH_SECRET.to_owned(),
        OTHER_SECRET.to_owned(),
    ];
    for header in headers {
        let Ok(text) = header.to_str() else { continue };
        let credentials = text.split_once(' ').map_or(text, |(_, rest)| rest);
        for piece in std::iter::once(credentials).chain(credentials.split(['.', ' ', ','])) {
            if piece.len() >= 12 {
                pieces.push(piece.to_owned());
            }
        }
    }
    pieces
}

#[tokio::test]
async fn every_case_gets_its_expected_response() {
    let mut failures = Vec::new();
    for case in cases() {
        let state = state();
        let reply = call(state.clone(), &case.headers).await;
        let calls = state.calls.load(Ordering::SeqCst);
        let mut fail = |what: String| failures.push(format!("case `{}`: {what}", case.name));

        let (status, code) = match case.expected {
            Expect::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_request"),
            Expect::Forbidden => (StatusCode::FORBIDDEN, "invalid_token"),
            Expect::Accepted => (StatusCode::OK, ""),
        };
        if reply.status != status {
            fail(format!(
                "status {} instead of {status} (body {})",
                reply.status, reply.raw_body
            ));
            continue;
        }
        if !reply
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/json"))
        {
            fail(format!("content type {:?}", reply.content_type));
        }
        if case.expected == Expect::Accepted {
            if calls != 1 {
                fail(format!("handler ran {calls} times"));
            }
            if reply.challenge.is_some() {
                fail(format!("a challenge on success: {:?}", reply.challenge));
            }
            continue;
        }
        if calls != 0 {
            fail(format!("the handler ran ({calls} times) for a refused request"));
        }
        if reply.body["error"] != code {
            fail(format!("error code {} instead of {code}", reply.body["error"]));
        }
        if reply.body["message"].as_str().is_none_or(str::is_empty) {
            fail(format!("no message: {}", reply.raw_body));
        }
        let expected_challenge = format!(r#"Bearer error="{code}""#);
        if !reply
            .challenge
            .as_deref()
            .is_some_and(|c| c.starts_with(&expected_challenge))
        {
            fail(format!(
                "WWW-Authenticate {:?}, expected {expected_challenge}…",
                reply.challenge
            ));
        }
        for piece in secrets_of(&case.headers) {
            if reply.raw_body.contains(&piece) || reply.challenge.as_deref().is_some_and(|c| c.contains(&piece)) {
                fail(format!(
                    "the response echoes the credentials ({} bytes of them)",
                    piece.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_handler_sees_the_verified_claims() {
    let token = issued();
    let expected = access_tokens(ACCESS_SECRET)
        .verify(&token)
        .expect("issued token verifies");
    let state = state();
    let reply = call(state.clone(), &[bearer(&token)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw_body);
    let seen: AccessClaims = serde_json::from_value(reply.body).expect("the handler returned claims");
    assert_eq!(seen, expected);
    assert_eq!(seen.sub, "user-42");
    assert_eq!(seen.name, "alice");
    assert_eq!(seen.sid, "session-7");
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn missing_header_gets_the_exact_contract_shape() {
    let reply = call(state(), &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"], "invalid_request");
    let object = reply.body.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "message"]);
    let challenge = reply.challenge.expect("WWW-Authenticate on a 401");
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_request""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn expired_token_says_so_in_body_and_challenge() {
    let now = now_unix();
    let expired = access_tokens(ACCESS_SECRET)
        .sign(&AccessClaims {
            iss: "auth-server".to_owned(),
            aud: "posts-server".to_owned(),
            sub: "user-42".to_owned(),
            name: "alice".to_owned(),
            iat: now - 3600,
            nbf: now - 3600,
            exp: now - 60,
            jti: "j".to_owned(),
            sid: "s".to_owned(),
        })
        .expect("signing");
    let reply = call(state(), &[bearer(&expired)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"], "invalid_token");
    assert_eq!(reply.body["message"], "the access token has expired");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(r#"Bearer error="invalid_token", error_description="the access token has expired""#)
    );
    assert!(!reply.raw_body.contains(&expired));
}
