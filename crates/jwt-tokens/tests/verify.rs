//! Table-driven tests of the token verifier: every row is a token and the one
//! outcome the verifier must give it (CONTRACT.md, "Tokens").
//!
//! Forgeries are crafted by hand (`test_support::jose`): a header and a payload
//! of our choosing, base64url-encoded and signed (or not) with a key of our
//! choosing, so that each row changes exactly one thing about an otherwise
//! valid token.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jwt_tokens::{
    AccessClaims, AccessTokens, KeySet, RefreshClaims, RefreshTokens, Secret, TokenKind, TokenSettings, VerifyError,
    VerifyReason, key_id, now_unix,
};
use serde_json::{Value, json};
use test_support::jose::{
    ATTACKER_SECRET, b64url, b64url_decode, craft, craft_raw, empty_key_equivalent, header, jwk, jwk_embedded, parts,
    signature, signed_with, unsigned, with, with_header, with_payload, with_signature, without,
};

const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789-abcdefghij";
const REFRESH_SECRET: &str = "refresh-secret-for-tests-0123456789-abcdefghi";
const NEW_ACCESS_SECRET: &str = "new-access-secret-for-tests-0123456789-abcdef";
const ISSUER: &str = "auth-server";
const AUDIENCE: &str = "posts-server";
/// The contract's default `JWT_LEEWAY`.
const LEEWAY_SECS: u64 = 5;
const TTL: Duration = Duration::from_secs(900);

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        leeway: Duration::from_secs(LEEWAY_SECS),
    }
}

fn keys(secret: &str) -> KeySet {
    KeySet::single(&Secret::new(secret)).expect("test secrets are long enough")
}

fn access_tokens() -> AccessTokens {
    AccessTokens::new(keys(ACCESS_SECRET), &settings())
}

fn refresh_tokens() -> RefreshTokens {
    RefreshTokens::new(keys(REFRESH_SECRET), &settings())
}

fn kid_of(secret: &str) -> String {
    key_id(&Secret::new(secret)).expect("kid of a test secret")
}

fn access_kid() -> String {
    kid_of(ACCESS_SECRET)
}

fn refresh_kid() -> String {
    kid_of(REFRESH_SECRET)
}

fn access_header() -> Value {
    header("at+jwt", &access_kid())
}

fn refresh_header() -> Value {
    header("rt+jwt", &refresh_kid())
}

/// Claims of a valid access token, as JSON so that rows can bend them.
fn access_claims() -> Value {
    let now = now_unix();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "name": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + TTL.as_secs(),
        "jti": "0b5a3c1e-9a4f-4d1e-8f7a-2c3b4d5e6f70",
        "sid": "session-7",
    })
}

/// Claims of a valid refresh token (its audience is the auth server itself).
fn refresh_claims() -> Value {
    let now = now_unix();
    json!({
        "iss": ISSUER,
        "aud": ISSUER,
        "sub": "user-42",
        "iat": now,
        "exp": now + 30 * 24 * 3600,
        "jti": "refresh-jti-1",
        "sid": "session-7",
    })
}

/// The fields of `AccessClaims` and `RefreshClaims`, in declaration order.
const ACCESS_CLAIM_ORDER: &[&str] = &["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"];
const REFRESH_CLAIM_ORDER: &[&str] = &["iss", "aud", "sub", "iat", "exp", "jti", "sid"];

/// The values of `claims` as a JSON array in `order` (`null` where one is absent).
fn in_order(claims: &Value, order: &[&str]) -> Value {
    Value::Array(order.iter().map(|name| claims[*name].clone()).collect())
}

/// An access token signed with the real access key, with these claims.
fn access_with(claims: &Value) -> String {
    craft(&access_header(), claims, ACCESS_SECRET)
}

/// An access token signed with the real access key, with this header.
fn access_headed(header: &Value) -> String {
    craft(header, &access_claims(), ACCESS_SECRET)
}

/// An unsigned (`alg` as given, empty signature) access token: `header.payload.`
fn unsigned_access(alg: &str) -> String {
    unsigned(
        &json!({ "alg": alg, "typ": "at+jwt", "kid": access_kid() }),
        &access_claims(),
    )
}

/// An unsigned access token without its signature segment at all: `header.payload`
fn unsigned_stripped(alg: &str) -> String {
    unsigned_access(alg).trim_end_matches('.').to_owned()
}

/// An unsigned access token followed by the first 20 characters of a real signature.
fn unsigned_truncated(alg: &str) -> String {
    format!("{}{}", unsigned_access(alg), &signature(&issued_access())[..20])
}

/// An access token whose header embeds the attacker's key as a JWK and
/// which that key signed; `kid` is added to the header when given.
fn access_jwk_embedded(kid: Option<&str>) -> String {
    jwk_embedded("at+jwt", kid, &access_claims(), ATTACKER_SECRET)
}

fn issued_access() -> String {
    access_tokens()
        .issue("user-42", "alice", "session-7", TTL)
        .expect("issuing an access token")
}

fn issued_refresh() -> String {
    refresh_tokens()
        .issue("user-42", "session-7", "refresh-jti-1", now_unix() + 3600)
        .expect("issuing a refresh token")
}

/// A token signed with HS384/HS512 under the right secret, right `typ` and `kid`.
fn hs_variant(alg: Algorithm) -> String {
    signed_with(alg, "at+jwt", &access_kid(), &access_claims(), ACCESS_SECRET)
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/// Which verifier a row is presented to.
#[derive(Debug, Clone, Copy)]
enum Verifier {
    Access,
    Refresh,
}

struct Case {
    name: &'static str,
    verifier: Verifier,
    token: String,
    /// `Ok(())`: accepted; `Err(reason)`: refused for exactly that reason.
    expected: Result<(), VerifyReason>,
}

fn access(name: &'static str, token: String, expected: Result<(), VerifyReason>) -> Case {
    Case {
        name,
        verifier: Verifier::Access,
        token,
        expected,
    }
}

fn refresh(name: &'static str, token: String, expected: Result<(), VerifyReason>) -> Case {
    Case {
        name,
        verifier: Verifier::Refresh,
        token,
        expected,
    }
}

fn run(verifier: Verifier, token: &str) -> Result<(), VerifyError> {
    match verifier {
        Verifier::Access => access_tokens().verify(token).map(drop),
        Verifier::Refresh => refresh_tokens().verify(token).map(drop),
    }
}

/// One way of verifying a case's token.
type Run = fn(Verifier, &str) -> Result<(), VerifyError>;

/// [`run`] through `jsonwebtoken` alone, without the fast path.
fn run_by_library(verifier: Verifier, token: &str) -> Result<(), VerifyError> {
    match verifier {
        Verifier::Access => access_tokens().verify_by_library(token).map(drop),
        Verifier::Refresh => refresh_tokens().verify_by_library(token).map(drop),
    }
}

fn cases() -> Vec<Case> {
    use VerifyReason::*;
    let now = now_unix();
    let mut cases = vec![
        // --- valid tokens -----------------------------------------------------
        access("issued access token", issued_access(), Ok(())),
        access("hand-crafted access token (checks the crafting helpers)", access_with(&access_claims()), Ok(())),
        refresh("issued refresh token", issued_refresh(), Ok(())),
        refresh(
            "hand-crafted refresh token",
            craft(&refresh_header(), &refresh_claims(), REFRESH_SECRET),
            Ok(()),
        ),
        access(
            "unknown extra claim is ignored",
            access_with(&with(access_claims(), "admin", json!(true))),
            Ok(()),
        ),
        access(
            "escaped strings in iss/aud/sub are read as their values",
            craft_raw(
                access_header().to_string().as_bytes(),
                format!(
                    r#"{{"iss":"auth\u002dserver","aud":"posts\u002dserver","sub":"user\u002d42","name":"Zo\u00eb \"x\" \\ /","iat":{now},"nbf":{now},"exp":{exp},"jti":"j","sid":"s"}}"#,
                    exp = now + 900
                )
                .as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Ok(()),
        ),
        // --- alg: none and other algorithms -------------------------------------
        // jsonwebtoken's `Algorithm` has no `none`, so the header does not even
        // parse: the token is malformed.
        access("alg none, empty signature", unsigned_access("none"), Err(Malformed)),
        access("alg None, empty signature", unsigned_access("None"), Err(Malformed)),
        access("alg NONE, empty signature", unsigned_access("NONE"), Err(Malformed)),
        access("alg nOnE, empty signature", unsigned_access("nOnE"), Err(Malformed)),
        access("alg none, no signature segment", unsigned_stripped("none"), Err(Malformed)),
        access("alg None, no signature segment", unsigned_stripped("None"), Err(Malformed)),
        access("alg NONE, no signature segment", unsigned_stripped("NONE"), Err(Malformed)),
        access("alg nOnE, no signature segment", unsigned_stripped("nOnE"), Err(Malformed)),
        access("alg none, truncated real signature", unsigned_truncated("none"), Err(Malformed)),
        access("alg None, truncated real signature", unsigned_truncated("None"), Err(Malformed)),
        access("alg NONE, truncated real signature", unsigned_truncated("NONE"), Err(Malformed)),
        access("alg nOnE, truncated real signature", unsigned_truncated("nOnE"), Err(Malformed)),
        refresh(
            "refresh: alg none, empty signature",
            unsigned(&json!({ "alg": "none", "typ": "rt+jwt", "kid": refresh_kid() }), &refresh_claims()),
            Err(Malformed),
        ),
        access(
            "alg none with a real HS256 signature appended",
            format!("{}{}", unsigned_access("none"), signature(&issued_access())),
            Err(Malformed),
        ),
        access("alg hs256 (lower case), empty signature", unsigned_access("hs256"), Err(Malformed)),
        access("alg empty string", unsigned_access(""), Err(Malformed)),
        access(
            "alg missing from the header",
            access_headed(&json!({ "typ": "at+jwt", "kid": access_kid() })),
            Err(Malformed),
        ),
        access("HS384 with the right secret", hs_variant(Algorithm::HS384), Err(WrongAlgorithm)),
        access("HS512 with the right secret", hs_variant(Algorithm::HS512), Err(WrongAlgorithm)),
        access(
            "header alg RS256 over an HS256 signature (key confusion)",
            access_headed(&json!({ "alg": "RS256", "typ": "at+jwt", "kid": access_kid() })),
            Err(WrongAlgorithm),
        ),
        access(
            "header alg ES256 over an HS256 signature",
            access_headed(&json!({ "alg": "ES256", "typ": "at+jwt", "kid": access_kid() })),
            Err(WrongAlgorithm),
        ),
        access(
            "header alg PS256 over an HS256 signature",
            access_headed(&json!({ "alg": "PS256", "typ": "at+jwt", "kid": access_kid() })),
            Err(WrongAlgorithm),
        ),
        access(
            "header alg EdDSA over an HS256 signature",
            access_headed(&json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": access_kid() })),
            Err(WrongAlgorithm),
        ),
        // An algorithm jsonwebtoken has no name for does not parse.
        access(
            "header alg HS1024 (unknown) over an HS256 signature with the right secret",
            access_headed(&json!({ "alg": "HS1024", "typ": "at+jwt", "kid": access_kid() })),
            Err(Malformed),
        ),
        access(
            "header alg `foo` over an HS256 signature with the right secret",
            access_headed(&json!({ "alg": "foo", "typ": "at+jwt", "kid": access_kid() })),
            Err(Malformed),
        ),
        refresh(
            "refresh: HS512 with the refresh secret",
            signed_with(Algorithm::HS512, "rt+jwt", &refresh_kid(), &refresh_claims(), REFRESH_SECRET),
            Err(WrongAlgorithm),
        ),
        refresh(
            "refresh: header alg RS256 over an HS256 signature with the refresh secret",
            craft(
                &json!({ "alg": "RS256", "typ": "rt+jwt", "kid": refresh_kid() }),
                &refresh_claims(),
                REFRESH_SECRET,
            ),
            Err(WrongAlgorithm),
        ),
        // --- signature tampering ------------------------------------------------
        access(
            "stripped signature (header.payload.)",
            with_signature(&issued_access(), ""),
            Err(BadSignature),
        ),
        access(
            "no signature segment at all (header.payload)",
            {
                let [h, p, _] = parts(&issued_access());
                format!("{h}.{p}")
            },
            Err(Malformed),
        ),
        access(
            // 40 of 43 characters: still whole base64 quads, so it decodes.
            "signature truncated to 40 characters",
            {
                let [h, p, s] = parts(&issued_access());
                format!("{h}.{p}.{}", &s[..40])
            },
            Err(BadSignature),
        ),
        access(
            "signature truncated to 20 characters",
            {
                let [h, p, s] = parts(&issued_access());
                format!("{h}.{p}.{}", &s[..20])
            },
            Err(BadSignature),
        ),
        access(
            "signature with its first character changed",
            {
                let [h, p, s] = parts(&issued_access());
                let first = if s.starts_with('A') { 'B' } else { 'A' };
                format!("{h}.{p}.{first}{}", &s[1..])
            },
            Err(BadSignature),
        ),
        access(
            "signature with base64 padding appended",
            format!("{}=", issued_access()),
            Err(Malformed),
        ),
        access(
            "signature of another token",
            with_signature(
                &issued_access(),
                &signature(&access_with(&with(access_claims(), "sub", json!("someone-else")))),
            ),
            Err(BadSignature),
        ),
        access(
            "payload modified after signing (sub changed to admin)",
            {
                let token = issued_access();
                let claims = access_tokens().verify(&token).expect("issued token verifies");
                let mut forged = serde_json::to_value(claims).expect("claims to JSON");
                forged["sub"] = json!("admin");
                with_payload(&token, &forged)
            },
            Err(BadSignature),
        ),
        access(
            "payload segment swapped for another token's",
            {
                let [h, _, s] = parts(&issued_access());
                let [_, other_payload, _] = parts(&access_with(&with(access_claims(), "name", json!("mallory"))));
                format!("{h}.{other_payload}.{s}")
            },
            Err(BadSignature),
        ),
        access(
            "header modified after signing (typ re-encoded)",
            with_header(
                &issued_access(),
                &json!({ "kid": access_kid(), "typ": "at+jwt", "alg": "HS256" }),
            ),
            Err(BadSignature),
        ),
        // --- wrong key ----------------------------------------------------------
        access(
            "signed with the refresh secret, refresh kid, presented as access",
            craft(&header("at+jwt", &refresh_kid()), &access_claims(), REFRESH_SECRET),
            Err(UnknownKey),
        ),
        access(
            "signed with the refresh secret under the access kid",
            craft(&access_header(), &access_claims(), REFRESH_SECRET),
            Err(BadSignature),
        ),
        access(
            "weak key `secret` with the real kid copied in",
            craft(&access_header(), &access_claims(), "secret"),
            Err(BadSignature),
        ),
        access(
            "weak key `password` with the real kid copied in",
            craft(&access_header(), &access_claims(), "password"),
            Err(BadSignature),
        ),
        access(
            "one-byte key with the real kid copied in",
            craft(&access_header(), &access_claims(), "\0"),
            Err(BadSignature),
        ),
        access(
            "32 zero bytes as key with the real kid copied in",
            craft(&access_header(), &access_claims(), &"\0".repeat(32)),
            Err(BadSignature),
        ),
        access(
            "the kid itself used as key",
            craft(&access_header(), &access_claims(), &access_kid()),
            Err(BadSignature),
        ),
        access(
            "weak key `123456` with the real kid copied in",
            craft(&access_header(), &access_claims(), "123456"),
            Err(BadSignature),
        ),
        access(
            "weak key `changeme` with the real kid copied in",
            craft(&access_header(), &access_claims(), "changeme"),
            Err(BadSignature),
        ),
        access(
            "weak key `your-256-bit-secret` (jwt.io's) with the real kid copied in",
            craft(&access_header(), &access_claims(), "your-256-bit-secret"),
            Err(BadSignature),
        ),
        access(
            "weak key `key` with the real kid copied in",
            craft(&access_header(), &access_claims(), "key"),
            Err(BadSignature),
        ),
        access(
            "empty key with the real kid copied in",
            craft(&access_header(), &access_claims(), &empty_key_equivalent()),
            Err(BadSignature),
        ),
        access(
            "weak key `secret` without a kid",
            craft(&json!({ "alg": "HS256", "typ": "at+jwt" }), &access_claims(), "secret"),
            Err(UnknownKey),
        ),
        access(
            "signed with the access secret under the refresh kid",
            craft(&header("at+jwt", &refresh_kid()), &access_claims(), ACCESS_SECRET),
            Err(UnknownKey),
        ),
        refresh(
            "refresh: signed with the access secret under the access kid",
            craft(&header("rt+jwt", &access_kid()), &refresh_claims(), ACCESS_SECRET),
            Err(UnknownKey),
        ),
        refresh(
            "refresh: weak key `secret` with the real kid copied in",
            craft(&refresh_header(), &refresh_claims(), "secret"),
            Err(BadSignature),
        ),
        refresh(
            "refresh: empty key with the real kid copied in",
            craft(&refresh_header(), &refresh_claims(), &empty_key_equivalent()),
            Err(BadSignature),
        ),
        refresh(
            "refresh: payload modified after signing (sid changed)",
            with_payload(
                &issued_refresh(),
                &with(refresh_claims(), "sid", json!("someone-elses-session")),
            ),
            Err(BadSignature),
        ),
        // --- kind confusion and typ ---------------------------------------------
        refresh("access token presented as refresh", issued_access(), Err(WrongType)),
        access("refresh token presented as access", issued_refresh(), Err(WrongType)),
        access(
            "right key, access claims, but typ rt+jwt",
            access_headed(&header("rt+jwt", &access_kid())),
            Err(WrongType),
        ),
        refresh(
            "access key re-typed rt+jwt, presented as refresh",
            craft(&header("rt+jwt", &access_kid()), &refresh_claims(), ACCESS_SECRET),
            Err(UnknownKey),
        ),
        refresh(
            "refresh key, typ rt+jwt, but the access audience",
            craft(&refresh_header(), &with(refresh_claims(), "aud", json!(AUDIENCE)), REFRESH_SECRET),
            Err(WrongAudience),
        ),
        access(
            "typ missing",
            access_headed(&json!({ "alg": "HS256", "kid": access_kid() })),
            Err(WrongType),
        ),
        access("typ JWT", access_headed(&header("JWT", &access_kid())), Err(WrongType)),
        access("typ empty", access_headed(&header("", &access_kid())), Err(WrongType)),
        access(
            "typ a number (header does not parse)",
            access_headed(&json!({ "alg": "HS256", "typ": 1, "kid": access_kid() })),
            Err(Malformed),
        ),
        access(
            "duplicate typ in the header (at+jwt, then rt+jwt)",
            craft_raw(
                format!(r#"{{"alg":"HS256","typ":"at+jwt","typ":"rt+jwt","kid":"{}"}}"#, access_kid()).as_bytes(),
                access_claims().to_string().as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(Malformed),
        ),
        access(
            "duplicate alg in the header (HS256, then none)",
            craft_raw(
                format!(r#"{{"alg":"HS256","alg":"none","typ":"at+jwt","kid":"{}"}}"#, access_kid()).as_bytes(),
                access_claims().to_string().as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(Malformed),
        ),
        access(
            "duplicate kid in the header (unknown, then the real one)",
            craft_raw(
                format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"other","kid":"{}"}}"#, access_kid()).as_bytes(),
                access_claims().to_string().as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(Malformed),
        ),
        // --- time ---------------------------------------------------------------
        access(
            "exp 60 s ago, beyond the leeway",
            access_with(&with(access_claims(), "exp", json!(now - 60))),
            Err(Expired),
        ),
        access(
            "exp 30 s ago: beyond our 5 s leeway, within the library's 60 s default",
            access_with(&with(access_claims(), "exp", json!(now - 30))),
            Err(Expired),
        ),
        access(
            "exp 2 s ago, within the leeway",
            access_with(&with(access_claims(), "exp", json!(now - 2))),
            Ok(()),
        ),
        access("exp 0 (1970)", access_with(&with(access_claims(), "exp", json!(0))), Err(Expired)),
        access(
            "nbf 60 s ahead, beyond the leeway",
            access_with(&with(access_claims(), "nbf", json!(now + 60))),
            Err(NotYetValid),
        ),
        access(
            "nbf 30 s ahead: beyond our 5 s leeway, within the library's 60 s default",
            access_with(&with(access_claims(), "nbf", json!(now + 30))),
            Err(NotYetValid),
        ),
        access(
            "nbf 2 s ahead, within the leeway",
            access_with(&with(access_claims(), "nbf", json!(now + 2))),
            Ok(()),
        ),
        refresh(
            "refresh token expired 60 s ago",
            craft(&refresh_header(), &with(refresh_claims(), "exp", json!(now - 60)), REFRESH_SECRET),
            Err(Expired),
        ),
        refresh(
            "refresh token with nbf 60 s ahead",
            craft(&refresh_header(), &with(refresh_claims(), "nbf", json!(now + 60)), REFRESH_SECRET),
            Err(NotYetValid),
        ),
        // --- issuer and audience --------------------------------------------------
        access(
            "iss wrong",
            access_with(&with(access_claims(), "iss", json!("evil-issuer"))),
            Err(WrongIssuer),
        ),
        access("iss empty", access_with(&with(access_claims(), "iss", json!(""))), Err(WrongIssuer)),
        // Missing claims fail the claims struct (which jsonwebtoken deserializes
        // before its own required-claim check), hence InvalidClaims rather than
        // MissingClaim: refused either way.
        access("iss missing", access_with(&without(access_claims(), "iss")), Err(InvalidClaims)),
        access(
            "iss as an array holding the right value",
            access_with(&with(access_claims(), "iss", json!([ISSUER]))),
            Err(InvalidClaims),
        ),
        access(
            "aud wrong",
            access_with(&with(access_claims(), "aud", json!("evil-audience"))),
            Err(WrongAudience),
        ),
        access(
            "aud of a refresh token (the auth server) on an access token",
            access_with(&with(access_claims(), "aud", json!(ISSUER))),
            Err(WrongAudience),
        ),
        access("aud missing", access_with(&without(access_claims(), "aud")), Err(InvalidClaims)),
        access("aud null", access_with(&with(access_claims(), "aud", json!(null))), Err(InvalidClaims)),
        access(
            "aud as an object",
            access_with(&with(access_claims(), "aud", json!({ AUDIENCE: true }))),
            Err(InvalidClaims),
        ),
        // RFC 7519 allows an array; jsonwebtoken would accept one that contains
        // our audience, but `AccessClaims::aud` is a String, so it is refused
        // (stricter, not a hole: our issuer always writes a string).
        access(
            "aud as an array holding only the right value",
            access_with(&with(access_claims(), "aud", json!([AUDIENCE]))),
            Err(InvalidClaims),
        ),
        access(
            "aud as an array holding the right value and another",
            access_with(&with(access_claims(), "aud", json!(["evil-audience", AUDIENCE]))),
            Err(InvalidClaims),
        ),
        access(
            "aud as an array without the right value",
            access_with(&with(access_claims(), "aud", json!(["evil-audience"]))),
            Err(InvalidClaims),
        ),
        // --- missing and malformed claims ----------------------------------------
        access("exp missing", access_with(&without(access_claims(), "exp")), Err(InvalidClaims)),
        access("nbf missing", access_with(&without(access_claims(), "nbf")), Err(InvalidClaims)),
        access("iat missing", access_with(&without(access_claims(), "iat")), Err(InvalidClaims)),
        access("sub missing", access_with(&without(access_claims(), "sub")), Err(InvalidClaims)),
        access("jti missing", access_with(&without(access_claims(), "jti")), Err(InvalidClaims)),
        access("sid missing", access_with(&without(access_claims(), "sid")), Err(InvalidClaims)),
        access("name missing", access_with(&without(access_claims(), "name")), Err(InvalidClaims)),
        refresh(
            "refresh: sid missing",
            craft(&refresh_header(), &without(refresh_claims(), "sid"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: jti missing",
            craft(&refresh_header(), &without(refresh_claims(), "jti"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: exp missing",
            craft(&refresh_header(), &without(refresh_claims(), "exp"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        access(
            "exp as a string",
            access_with(&with(access_claims(), "exp", json!((now + 900).to_string()))),
            Err(InvalidClaims),
        ),
        access(
            "exp as a float",
            access_with(&with(access_claims(), "exp", json!(now as f64 + 900.5))),
            Err(InvalidClaims),
        ),
        access("exp negative", access_with(&with(access_claims(), "exp", json!(-1))), Err(InvalidClaims)),
        access("exp null", access_with(&with(access_claims(), "exp", json!(null))), Err(InvalidClaims)),
        access("sub a number", access_with(&with(access_claims(), "sub", json!(42))), Err(InvalidClaims)),
        access("sub null", access_with(&with(access_claims(), "sub", json!(null))), Err(InvalidClaims)),
        access("iss a number", access_with(&with(access_claims(), "iss", json!(1))), Err(InvalidClaims)),
        access("aud a number", access_with(&with(access_claims(), "aud", json!(1))), Err(InvalidClaims)),
        access(
            "nbf as a string",
            access_with(&with(access_claims(), "nbf", json!(now.to_string()))),
            Err(InvalidClaims),
        ),
        access(
            "iat as a string",
            access_with(&with(access_claims(), "iat", json!(now.to_string()))),
            Err(InvalidClaims),
        ),
        access("exp a boolean", access_with(&with(access_claims(), "exp", json!(true))), Err(InvalidClaims)),
        access("jti a number", access_with(&with(access_claims(), "jti", json!(7))), Err(InvalidClaims)),
        access(
            "sid an object",
            access_with(&with(access_claims(), "sid", json!({ "id": "session-7" }))),
            Err(InvalidClaims),
        ),
        access(
            "name an array",
            access_with(&with(access_claims(), "name", json!(["alice", "admin"]))),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: iss wrong",
            craft(&refresh_header(), &with(refresh_claims(), "iss", json!("evil-issuer")), REFRESH_SECRET),
            Err(WrongIssuer),
        ),
        refresh(
            "refresh: iss missing",
            craft(&refresh_header(), &without(refresh_claims(), "iss"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: aud missing",
            craft(&refresh_header(), &without(refresh_claims(), "aud"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: sub missing",
            craft(&refresh_header(), &without(refresh_claims(), "sub"), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: sub a number",
            craft(&refresh_header(), &with(refresh_claims(), "sub", json!(42)), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: exp as a string",
            craft(
                &refresh_header(),
                &with(refresh_claims(), "exp", json!((now + 3600).to_string())),
                REFRESH_SECRET,
            ),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: aud as an object",
            craft(&refresh_header(), &with(refresh_claims(), "aud", json!({ ISSUER: true })), REFRESH_SECRET),
            Err(InvalidClaims),
        ),
        access(
            "duplicate sub claim",
            craft_raw(
                access_header().to_string().as_bytes(),
                format!(
                    r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"user-42","sub":"admin","name":"a","iat":{now},"nbf":{now},"exp":{exp},"jti":"j","sid":"s"}}"#,
                    exp = now + 900
                )
                .as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        // --- kid ------------------------------------------------------------------
        access("kid unknown", access_headed(&header("at+jwt", "no-such-key")), Err(UnknownKey)),
        access(
            "kid missing",
            access_headed(&json!({ "alg": "HS256", "typ": "at+jwt" })),
            Err(UnknownKey),
        ),
        access("kid empty", access_headed(&header("at+jwt", "")), Err(UnknownKey)),
        access("kid ../../dev/null", access_headed(&header("at+jwt", "../../dev/null")), Err(UnknownKey)),
        access("kid ' OR 1=1 --", access_headed(&header("at+jwt", "' OR 1=1 --")), Err(UnknownKey)),
        access("kid /dev/null", access_headed(&header("at+jwt", "/dev/null")), Err(UnknownKey)),
        // The classic: the attacker signs with what the kid "file" holds (nothing).
        access(
            "kid /dev/null, signed with the empty key",
            craft(&header("at+jwt", "/dev/null"), &access_claims(), &empty_key_equivalent()),
            Err(UnknownKey),
        ),
        access(
            "kid ../../dev/null, signed with the empty key",
            craft(&header("at+jwt", "../../dev/null"), &access_claims(), &empty_key_equivalent()),
            Err(UnknownKey),
        ),
        access(
            "kid ' UNION SELECT 'key' --, signed with `key`",
            craft(&header("at+jwt", "' UNION SELECT 'key' --"), &access_claims(), "key"),
            Err(UnknownKey),
        ),
        refresh(
            "refresh: kid unknown",
            craft(&header("rt+jwt", "no-such-key"), &refresh_claims(), REFRESH_SECRET),
            Err(UnknownKey),
        ),
        refresh(
            "refresh: kid missing",
            craft(&json!({ "alg": "HS256", "typ": "rt+jwt" }), &refresh_claims(), REFRESH_SECRET),
            Err(UnknownKey),
        ),
        refresh(
            "refresh: kid ../../dev/null, signed with the empty key",
            craft(&header("rt+jwt", "../../dev/null"), &refresh_claims(), &empty_key_equivalent()),
            Err(UnknownKey),
        ),
        access(
            "kid a number (header does not parse)",
            access_headed(&json!({ "alg": "HS256", "typ": "at+jwt", "kid": 1 })),
            Err(Malformed),
        ),
        // --- key-locating and critical headers, validly signed ----------------------
        access(
            "jku header",
            access_headed(&with(access_header(), "jku", json!("https://evil.example/jwks.json"))),
            Err(ForbiddenHeader("jku")),
        ),
        access(
            "x5u header",
            access_headed(&with(access_header(), "x5u", json!("https://evil.example/cert.pem"))),
            Err(ForbiddenHeader("x5u")),
        ),
        access(
            "jwk header carrying the attacker's own key",
            craft(
                &with(access_header(), "jwk", jwk("attacker-key")),
                &access_claims(),
                ACCESS_SECRET,
            ),
            Err(ForbiddenHeader("jwk")),
        ),
        access(
            "x5c header",
            access_headed(&with(access_header(), "x5c", json!(["MIIBszCCAVmgAwIBAgIUYQ=="]))),
            Err(ForbiddenHeader("x5c")),
        ),
        access(
            "crit [b64] with b64 true (jsonwebtoken itself accepts this)",
            access_headed(&with(with(access_header(), "crit", json!(["b64"])), "b64", json!(true))),
            Err(ForbiddenHeader("crit")),
        ),
        access(
            "crit naming an unknown extension",
            access_headed(&with(access_header(), "crit", json!(["exp"]))),
            Err(ForbiddenHeader("crit")),
        ),
        access(
            "jku and x5u together: the first is named",
            access_headed(&with(
                with(access_header(), "x5u", json!("https://evil.example/c")),
                "jku",
                json!("https://evil.example/k"),
            )),
            Err(ForbiddenHeader("jku")),
        ),
        access(
            "b64 false (unencoded payload) without crit",
            access_headed(&with(access_header(), "b64", json!(false))),
            Err(Malformed),
        ),
        access(
            "jku of the wrong JSON type (header does not parse)",
            access_headed(&with(access_header(), "jku", json!(7))),
            Err(Malformed),
        ),
        access(
            "jwk header embedding the attacker's key, which signed the token, no kid",
            access_jwk_embedded(None),
            Err(ForbiddenHeader("jwk")),
        ),
        access(
            "jwk header embedding the attacker's key, which signed the token, real kid",
            access_jwk_embedded(Some(&access_kid())),
            Err(ForbiddenHeader("jwk")),
        ),
        access(
            "jku to the attacker's key set, signed with the attacker's key",
            craft(
                &json!({
                    "alg": "HS256",
                    "typ": "at+jwt",
                    "kid": "attacker-1",
                    "jku": "https://evil.example/jwks.json",
                }),
                &access_claims(),
                ATTACKER_SECRET,
            ),
            Err(ForbiddenHeader("jku")),
        ),
        access(
            "x5u to the attacker's certificate, signed with the attacker's key",
            craft(
                &with(access_header(), "x5u", json!("https://evil.example/cert.pem")),
                &access_claims(),
                ATTACKER_SECRET,
            ),
            Err(ForbiddenHeader("x5u")),
        ),
        access(
            "x5c with the attacker's certificate, signed with the attacker's key",
            craft(
                &with(access_header(), "x5c", json!(["MIIBszCCAVmgAwIBAgIUYQ=="])),
                &access_claims(),
                ATTACKER_SECRET,
            ),
            Err(ForbiddenHeader("x5c")),
        ),
        refresh(
            "refresh: jwk header embedding the attacker's key, which signed the token",
            craft(
                &with(refresh_header(), "jwk", jwk(ATTACKER_SECRET)),
                &refresh_claims(),
                ATTACKER_SECRET,
            ),
            Err(ForbiddenHeader("jwk")),
        ),
        refresh(
            "refresh: jku header under the refresh key",
            craft(
                &with(refresh_header(), "jku", json!("https://evil.example/jwks.json")),
                &refresh_claims(),
                REFRESH_SECRET,
            ),
            Err(ForbiddenHeader("jku")),
        ),
        refresh(
            "refresh: x5u header under the refresh key",
            craft(
                &with(refresh_header(), "x5u", json!("https://evil.example/cert.pem")),
                &refresh_claims(),
                REFRESH_SECRET,
            ),
            Err(ForbiddenHeader("x5u")),
        ),
        refresh(
            "refresh: x5c header under the refresh key",
            craft(
                &with(refresh_header(), "x5c", json!(["MIIBszCCAVmgAwIBAgIUYQ=="])),
                &refresh_claims(),
                REFRESH_SECRET,
            ),
            Err(ForbiddenHeader("x5c")),
        ),
        refresh(
            "refresh: crit header under the refresh key",
            craft(&with(refresh_header(), "crit", json!(["exp"])), &refresh_claims(), REFRESH_SECRET),
            Err(ForbiddenHeader("crit")),
        ),
        // --- garbage ----------------------------------------------------------------
        access("empty string", String::new(), Err(Malformed)),
        access("whitespace", "   ".to_owned(), Err(Malformed)),
        access("a.b", "a.b".to_owned(), Err(Malformed)),
        access("a.b.c", "a.b.c".to_owned(), Err(Malformed)),
        access("a.b.c.d", "a.b.c.d".to_owned(), Err(Malformed)),
        // Empty segments: the empty header decodes to no bytes, not a JSON header.
        access("..", "..".to_owned(), Err(Malformed)),
        access("not base64", "!!!.@@@.###".to_owned(), Err(Malformed)),
        access(
            "a valid token with a fourth segment",
            format!("{}.{}", issued_access(), b64url("x")),
            Err(Malformed),
        ),
        access(
            "a valid token with the Bearer prefix left on",
            format!("Bearer {}", issued_access()),
            Err(Malformed),
        ),
        access(
            "a valid token with a trailing newline",
            format!("{}\n", issued_access()),
            Err(Malformed),
        ),
        access("100 KB of `a`", "a".repeat(100 * 1024), Err(Malformed)),
        access(
            "100 KB payload under a real header, unsigned by us",
            {
                let [h, _, s] = parts(&issued_access());
                format!("{h}.{}.{s}", "A".repeat(100 * 1024))
            },
            Err(BadSignature),
        ),
        access(
            "100 KB of dots",
            ".".repeat(100 * 1024),
            Err(Malformed),
        ),
        access(
            "header is base64 of non-JSON",
            format!("{}.{}.{}", b64url("hello"), b64url(access_claims().to_string()), b64url("sig")),
            Err(Malformed),
        ),
        access(
            "payload of non-UTF-8 bytes, validly signed",
            craft_raw(
                access_header().to_string().as_bytes(),
                b"\xff\xfe\xfd\x00\x80",
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        access(
            "payload JSON with a non-UTF-8 string, validly signed",
            craft_raw(
                access_header().to_string().as_bytes(),
                &[
                    br#"{"iss":"auth-server","aud":"posts-server","sub":""#.as_slice(),
                    b"\xff\xfe".as_slice(),
                    br#""}"#.as_slice(),
                ]
                .concat(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        access(
            "payload a JSON array, validly signed",
            craft_raw(
                access_header().to_string().as_bytes(),
                b"[]",
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        access(
            "payload not JSON, validly signed",
            craft_raw(
                access_header().to_string().as_bytes(),
                b"user=admin",
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        // --- JSON arrays where RFC 7515 §4 and RFC 7519 §7.2 require objects ------------
        // Correctly signed; serde's derived deserializers would read an array as
        // a struct's fields in order, so each holds exactly what an object would.
        access(
            "header a JSON array [alg, typ, kid], validly signed",
            access_headed(&json!(["HS256", "at+jwt", access_kid()])),
            Err(Malformed),
        ),
        access(
            "claims a JSON array of the values in the order of AccessClaims, validly signed",
            access_with(&in_order(&access_claims(), ACCESS_CLAIM_ORDER)),
            Err(InvalidClaims),
        ),
        access(
            "claims a JSON array after leading whitespace, validly signed",
            craft_raw(
                access_header().to_string().as_bytes(),
                format!(" \n\t{}", in_order(&access_claims(), ACCESS_CLAIM_ORDER)).as_bytes(),
                ACCESS_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
            Err(InvalidClaims),
        ),
        access(
            "header and claims both JSON arrays, validly signed",
            craft(
                &json!(["HS256", "at+jwt", access_kid()]),
                &in_order(&access_claims(), ACCESS_CLAIM_ORDER),
                ACCESS_SECRET,
            ),
            Err(Malformed),
        ),
        refresh(
            "refresh: header a JSON array [alg, typ, kid], validly signed",
            craft(&json!(["HS256", "rt+jwt", refresh_kid()]), &refresh_claims(), REFRESH_SECRET),
            Err(Malformed),
        ),
        refresh(
            "refresh: claims a JSON array (name null, nbf set), validly signed",
            craft(
                &refresh_header(),
                &in_order(&with(refresh_claims(), "nbf", json!(now)), ACCESS_CLAIM_ORDER),
                REFRESH_SECRET,
            ),
            Err(InvalidClaims),
        ),
        refresh(
            "refresh: claims a JSON array in the order of RefreshClaims, validly signed",
            craft(
                &refresh_header(),
                &in_order(&refresh_claims(), REFRESH_CLAIM_ORDER),
                REFRESH_SECRET,
            ),
            Err(InvalidClaims),
        ),
    ];
    // Every row above is for the access verifier unless it says otherwise; add
    // the mirror rows for the refresh verifier's own `typ`/key checks.
    cases.push(refresh(
        "refresh: typ at+jwt under the refresh key",
        craft(&header("at+jwt", &refresh_kid()), &refresh_claims(), REFRESH_SECRET),
        Err(VerifyReason::WrongType),
    ));
    cases.push(refresh(
        "refresh: signed with the access secret under the refresh kid",
        craft(&refresh_header(), &refresh_claims(), ACCESS_SECRET),
        Err(VerifyReason::BadSignature),
    ));
    cases
}

fn describe(outcome: &Result<(), VerifyError>) -> String {
    match outcome {
        Ok(()) => "accepted".to_owned(),
        Err(err) => format!("refused: {:?}", err.reason),
    }
}

#[test]
fn every_case_gets_its_expected_outcome() {
    let mut failures = Vec::new();
    let cases = cases();
    // Each case on both paths: the fast one, and `jsonwebtoken` alone, whose refusals the
    // verifier translates into the same reasons.
    let paths: [(&str, Run); 2] = [("fast path", run), ("library path", run_by_library)];
    for ((path, verify), case) in paths.iter().flat_map(|path| cases.iter().map(move |case| (path, case))) {
        let outcome = verify(case.verifier, &case.token);
        let expected_kind = match case.verifier {
            Verifier::Access => TokenKind::Access,
            Verifier::Refresh => TokenKind::Refresh,
        };
        let matches = match (&outcome, &case.expected) {
            (Ok(()), Ok(())) => true,
            (Err(err), Err(reason)) => err.reason == *reason && err.kind == expected_kind,
            _ => false,
        };
        if !matches {
            failures.push(format!(
                "{:?} verifier, {path}, case `{}`: expected {}, got {}",
                case.verifier,
                case.name,
                match &case.expected {
                    Ok(()) => "accepted".to_owned(),
                    Err(reason) => format!("refused: {reason:?}"),
                },
                describe(&outcome),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn no_forgery_is_accepted() {
    // The same table, seen from the security side: every row that expects a
    // refusal is refused, whatever the reason.
    let accepted: Vec<&str> = cases()
        .iter()
        .filter(|case| case.expected.is_err() && run(case.verifier, &case.token).is_ok())
        .map(|case| case.name)
        .collect();
    assert!(accepted.is_empty(), "forged or invalid tokens accepted: {accepted:?}");
}

// ---------------------------------------------------------------------------
// Round trips and headers
// ---------------------------------------------------------------------------

#[test]
fn access_claims_round_trip() {
    let tokens = access_tokens();
    let now = now_unix();
    let claims = AccessClaims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: "user-42".to_owned(),
        name: "Zoë \"the admin\" O'Brien".to_owned(),
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: "jti-round-trip".to_owned(),
        sid: "session-round-trip".to_owned(),
    };
    let token = tokens.sign(&claims).expect("signing access claims");
    assert_eq!(tokens.verify(&token).expect("own token verifies"), claims);

    let before = now_unix();
    let issued = tokens
        .issue("user-7", "bob", "sid-7", TTL)
        .expect("issuing an access token");
    let after = now_unix();
    let got = tokens.verify(&issued).expect("issued token verifies");
    assert_eq!(got.iss, ISSUER);
    assert_eq!(got.aud, AUDIENCE);
    assert_eq!(got.sub, "user-7");
    assert_eq!(got.name, "bob");
    assert_eq!(got.sid, "sid-7");
    assert!(!got.jti.is_empty(), "jti is set");
    assert!((before..=after).contains(&got.iat), "iat is now");
    assert_eq!(got.nbf, got.iat);
    assert_eq!(got.exp, got.iat + TTL.as_secs());

    let again = tokens.issue("user-7", "bob", "sid-7", TTL).expect("issuing again");
    let again = tokens.verify(&again).expect("verifies");
    assert_ne!(again.jti, got.jti, "every access token has its own jti");
}

#[test]
fn refresh_claims_round_trip() {
    let tokens = refresh_tokens();
    let now = now_unix();
    let claims = RefreshClaims {
        iss: ISSUER.to_owned(),
        aud: ISSUER.to_owned(),
        sub: "user-42".to_owned(),
        iat: now,
        exp: now + 3600,
        jti: "jti-1".to_owned(),
        sid: "sid-1".to_owned(),
    };
    let token = tokens.sign(&claims).expect("signing refresh claims");
    assert_eq!(tokens.verify(&token).expect("own token verifies"), claims);

    let issued = tokens
        .issue("user-9", "sid-9", "jti-9", now + 60)
        .expect("issuing a refresh token");
    let got = tokens.verify(&issued).expect("issued token verifies");
    assert_eq!(
        (
            got.iss.as_str(),
            got.aud.as_str(),
            got.sub.as_str(),
            got.sid.as_str(),
            got.jti.as_str(),
            got.exp
        ),
        (ISSUER, ISSUER, "user-9", "sid-9", "jti-9", now + 60)
    );
}

#[test]
fn tokens_carry_typ_kid_and_hs256() {
    let access_header = jsonwebtoken::decode_header(issued_access()).expect("access header decodes");
    assert_eq!(access_header.alg, Algorithm::HS256);
    assert_eq!(access_header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(access_header.kid.as_deref(), Some(access_kid().as_str()));
    assert_eq!(access_kid(), keys(ACCESS_SECRET).current_kid());

    let refresh_header = jsonwebtoken::decode_header(issued_refresh()).expect("refresh header decodes");
    assert_eq!(refresh_header.alg, Algorithm::HS256);
    assert_eq!(refresh_header.typ.as_deref(), Some("rt+jwt"));
    assert_eq!(refresh_header.kid.as_deref(), Some(refresh_kid().as_str()));

    assert_ne!(access_kid(), refresh_kid(), "the two secrets have different kids");

    // Nothing else in the header: no key-locating or critical parameters.
    for token in [issued_access(), issued_refresh()] {
        let [h, _, _] = parts(&token);
        let raw: Value = serde_json::from_slice(&b64url_decode(&h)).expect("header is JSON");
        let mut names: Vec<&str> = raw
            .as_object()
            .expect("header is an object")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "kid", "typ"]);
    }
}

// ---------------------------------------------------------------------------
// Key rotation
// ---------------------------------------------------------------------------

#[test]
fn rotation_verifies_old_and_new_and_signs_with_new() {
    let old = AccessTokens::new(keys(ACCESS_SECRET), &settings());
    let new_only = AccessTokens::new(keys(NEW_ACCESS_SECRET), &settings());
    let rotated_keys = KeySet::new(&Secret::new(NEW_ACCESS_SECRET), &[Secret::new(ACCESS_SECRET)])
        .expect("both secrets are long enough");
    assert_eq!(rotated_keys.current_kid(), kid_of(NEW_ACCESS_SECRET));
    let rotated = AccessTokens::new(rotated_keys, &settings());

    let old_token = old.issue("u", "alice", "s", TTL).expect("old key signs");
    let new_token = new_only.issue("u", "alice", "s", TTL).expect("new key signs");
    let rotated_token = rotated.issue("u", "alice", "s", TTL).expect("rotated set signs");

    // The rotated set signs with the new key.
    let header = jsonwebtoken::decode_header(&rotated_token).expect("header decodes");
    assert_eq!(header.kid.as_deref(), Some(kid_of(NEW_ACCESS_SECRET).as_str()));

    // ... and verifies tokens of either key.
    rotated.verify(&old_token).expect("rotated set verifies old-key tokens");
    rotated.verify(&new_token).expect("rotated set verifies new-key tokens");
    rotated
        .verify(&rotated_token)
        .expect("rotated set verifies its own tokens");
    new_only
        .verify(&rotated_token)
        .expect("a new-key-only verifier takes rotated tokens");

    // Once the old key is removed, its tokens are refused as unknown.
    let err = new_only.verify(&old_token).expect_err("old key removed");
    assert_eq!(err.reason, VerifyReason::UnknownKey);

    // A verifier still on the old key alone does not know the new kid.
    let err = old.verify(&rotated_token).expect_err("new kid unknown to old verifier");
    assert_eq!(err.reason, VerifyReason::UnknownKey);

    // Kids are not interchangeable within the set: the old key's signature
    // under the new key's kid is a bad signature, not a fallback to another key.
    let cross = craft(&header_for(NEW_ACCESS_SECRET), &access_claims(), ACCESS_SECRET);
    assert_eq!(
        rotated.verify(&cross).expect_err("kid names the key").reason,
        VerifyReason::BadSignature
    );
    let cross = craft(&header_for(ACCESS_SECRET), &access_claims(), NEW_ACCESS_SECRET);
    assert_eq!(
        rotated.verify(&cross).expect_err("kid names the key").reason,
        VerifyReason::BadSignature
    );
}

fn header_for(secret: &str) -> Value {
    header("at+jwt", &kid_of(secret))
}

#[test]
fn refresh_rotation_works_the_same_way() {
    const NEW_REFRESH_SECRET: &str = "new-refresh-secret-for-tests-0123456789-abcd";
    let old = refresh_tokens();
    let rotated = RefreshTokens::new(
        KeySet::new(&Secret::new(NEW_REFRESH_SECRET), &[Secret::new(REFRESH_SECRET)]).expect("valid keys"),
        &settings(),
    );
    let new_only = RefreshTokens::new(keys(NEW_REFRESH_SECRET), &settings());
    let old_token = old.issue("u", "s", "j", now_unix() + 60).expect("old key signs");
    rotated.verify(&old_token).expect("rotated set verifies old-key tokens");
    assert_eq!(
        new_only.verify(&old_token).expect_err("old key removed").reason,
        VerifyReason::UnknownKey
    );
}

// ---------------------------------------------------------------------------
// What errors say
// ---------------------------------------------------------------------------

#[test]
fn error_messages_never_contain_the_token_or_a_secret() {
    let secrets = [ACCESS_SECRET, REFRESH_SECRET, NEW_ACCESS_SECRET];
    for case in cases() {
        let Err(err) = run(case.verifier, &case.token) else {
            continue;
        };
        for text in [err.to_string(), format!("{err:?}")] {
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "case `{}`: message shows a secret: {text}",
                    case.name
                );
            }
            if case.token.len() >= 8 {
                assert!(
                    !text.contains(&case.token),
                    "case `{}`: message shows the token: {text}",
                    case.name
                );
            }
            // No segment of the token either (header, payload or signature).
            for segment in case.token.split('.').filter(|s| s.len() >= 8) {
                assert!(
                    !text.contains(segment),
                    "case `{}`: message shows part of the token: {text}",
                    case.name
                );
            }
            assert!(
                text.starts_with("the access token ")
                    || text.starts_with("the refresh token ")
                    || text.starts_with("VerifyError"),
                "case `{}`: unexpected message shape: {text}",
                case.name
            );
        }
    }
}

#[test]
fn error_messages_name_the_kind_and_the_problem() {
    let tokens = access_tokens();
    let expired = access_with(&with(access_claims(), "exp", json!(now_unix() - 3600)));
    assert_eq!(
        tokens.verify(&expired).expect_err("expired").to_string(),
        "the access token has expired"
    );
    assert_eq!(
        refresh_tokens()
            .verify(&issued_access())
            .expect_err("wrong kind")
            .to_string(),
        "the refresh token is not a refresh token (typ must be rt+jwt)"
    );
    let refresh = refresh_tokens()
        .issue("user-1", "sid-1", "jti-1", now_unix() + 60)
        .expect("issuing a refresh token");
    assert_eq!(
        tokens.verify(&refresh).expect_err("wrong kind").to_string(),
        "the access token is not an access token (typ must be at+jwt)"
    );
}

#[test]
fn debug_output_of_verifiers_shows_no_secret() {
    // What they are and which keys they hold, by `kid`.
    let access = format!("{:?}", access_tokens());
    assert!(
        access.contains("AccessTokens") && access.contains(&access_kid()),
        "{access}"
    );
    let refresh = format!("{:?}", refresh_tokens());
    assert!(
        refresh.contains("RefreshTokens") && refresh.contains(&refresh_kid()),
        "{refresh}"
    );
    for text in [
        format!("{:?}", access_tokens()),
        format!("{:?}", refresh_tokens()),
        format!("{:?}", keys(ACCESS_SECRET)),
        format!("{:?}", Secret::new(ACCESS_SECRET)),
    ] {
        assert!(
            !text.contains(ACCESS_SECRET) && !text.contains(REFRESH_SECRET),
            "{text}"
        );
    }
}

#[test]
fn identifiers_with_control_characters_are_refused_even_when_signed() {
    let access = access_tokens();
    let refresh = refresh_tokens();
    let now = now_unix();
    for bad in ["user\u{0}42", "user\n42", "user\u{7f}42", "\u{1b}[31m"] {
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: "user-42".to_owned(),
            name: "alice".to_owned(),
            iat: now,
            nbf: now,
            exp: now + 900,
            jti: "jti".to_owned(),
            sid: "sid".to_owned(),
        };
        for altered in [
            AccessClaims {
                sub: bad.to_owned(),
                ..claims.clone()
            },
            AccessClaims {
                name: bad.to_owned(),
                ..claims.clone()
            },
            AccessClaims {
                sid: bad.to_owned(),
                ..claims.clone()
            },
            AccessClaims {
                jti: bad.to_owned(),
                ..claims.clone()
            },
        ] {
            let token = access.sign(&altered).expect("signing");
            let err = access.verify(&token).expect_err("a control character is refused");
            assert_eq!(err.reason, VerifyReason::InvalidClaims, "{altered:?}");
        }
        let token = refresh
            .issue(bad, "sid", "jti", now + 60)
            .expect("signing a refresh token");
        let err = refresh.verify(&token).expect_err("a control character is refused");
        assert_eq!(err.reason, VerifyReason::InvalidClaims);
    }
}

#[test]
fn an_absurd_leeway_is_bounded_instead_of_breaking_verification() {
    let huge = TokenSettings {
        leeway: Duration::from_secs(u64::MAX / 2),
        ..settings()
    };
    let tokens = AccessTokens::new(keys(ACCESS_SECRET), &huge);
    let token = tokens
        .issue("user-1", "alice", "sid-1", TTL)
        .expect("issuing an access token");
    tokens.verify(&token).expect("a fresh token verifies");
    // Bounded at a day: a token that expired an hour ago still passes (the leeway is applied),
    // one that expired three days ago does not (the absurd value is not).
    let now = now_unix();
    for (expired_ago, accepted) in [(3_600, true), (3 * 86_400, false)] {
        let issued = now - expired_ago - 900;
        let token = tokens
            .issue_at("user-1", "alice", "sid-1", issued, issued + 900)
            .expect("issuing an old access token");
        assert_eq!(tokens.verify(&token).is_ok(), accepted, "expired {expired_ago} s ago");
    }
}

#[test]
fn expired_claims_name_the_session_of_a_token_whose_one_fault_is_its_age() {
    let tokens = refresh_tokens();
    let expired = |claims: &Value| craft(&refresh_header(), claims, REFRESH_SECRET);
    let an_hour_ago = with(refresh_claims(), "exp", json!(now_unix() - 3600));

    for (path, claims) in [
        ("fast path", tokens.expired_claims(&expired(&an_hour_ago))),
        ("library path", tokens.expired_claims_by_library(&expired(&an_hour_ago))),
    ] {
        let claims = claims.unwrap_or_else(|| panic!("{path}: the expired token's claims"));
        assert_eq!(
            (claims.sid.as_str(), claims.sub.as_str()),
            ("session-7", "user-42"),
            "{path}"
        );
    }
    // Any other fault, besides its age or instead of it: nothing to name.
    let forged = craft(&refresh_header(), &an_hour_ago, ACCESS_SECRET);
    let foreign = expired(&with(an_hour_ago.clone(), "iss", json!("evil-issuer")));
    for token in [forged, foreign] {
        assert_eq!(tokens.expired_claims(&token), None);
        assert_eq!(tokens.expired_claims_by_library(&token), None);
    }
}
