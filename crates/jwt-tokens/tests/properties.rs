//! Properties of the verifier and of the `Authorization` parser, checked on
//! generated inputs: whatever arrives, verification never panics and accepts
//! only what our own keys signed with the right claims; `bearer_token` takes
//! exactly the `Bearer <token68>` form it documents. `verify.rs` pins single
//! cases by hand; this file covers the space between them.

use std::sync::LazyLock;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_tokens::{
    AccessTokens, AuthHeaderError, KeySet, RefreshTokens, Secret, TokenSettings, VerifyReason, bearer_token, key_id,
    now_unix,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789-abcdefghij";
const REFRESH_SECRET: &str = "refresh-secret-for-tests-0123456789-abcdefghi";
const ISSUER: &str = "auth-server";
const AUDIENCE: &str = "posts-server";
const LEEWAY_SECS: u64 = 5;
/// Generated times stay this far from `now ± leeway`, so a slow run cannot flip an outcome.
const MARGIN_SECS: u64 = 600;
const TTL: Duration = Duration::from_secs(900);
/// Enough to explore each property; the whole file runs in a few seconds.
const CASES: u32 = 256;

/// The base64url alphabet, in which every segment of a token is written.
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// RFC 6750 §2.1 `b64token` (RFC 7235 token68) characters, before any trailing `=`.
const TOKEN68: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

/// Decodes like the verifier but ignores the unused low bits of the last
/// character, to tell "different bytes" from "same bytes, other spelling".
const LENIENT_B64URL: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, NO_PAD.with_decode_allow_trailing_bits(true));

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

static ACCESS: LazyLock<AccessTokens> = LazyLock::new(|| AccessTokens::new(keys(ACCESS_SECRET), &settings()));
static REFRESH: LazyLock<RefreshTokens> = LazyLock::new(|| RefreshTokens::new(keys(REFRESH_SECRET), &settings()));

/// An EdDSA issuer, and a verifier of its tokens from its published keys alone, with its
/// verified-token cache.
static EDDSA: LazyLock<(AccessTokens, AccessTokens)> = LazyLock::new(|| {
    let key = jwt_tokens::Ed25519PrivateKey::generate().expect("a key");
    let issuer = AccessTokens::new(KeySet::ed25519(&key, &[]).expect("keys"), &settings());
    let verifier = AccessTokens::following(&settings());
    verifier
        .replace_keys(KeySet::from_jwks(issuer.jwks().as_bytes()).expect("the JWK Set"))
        .expect("keys");
    (issuer, verifier)
});

/// The EdDSA verifier's reason, which its fast path and jsonwebtoken alone must agree on.
fn eddsa_reason(token: &str) -> Option<VerifyReason> {
    let verifier = &EDDSA.1;
    let fast = verifier.verify(token).err().map(|e| e.reason);
    let library = verifier.verify_by_library(token).err().map(|e| e.reason);
    assert_eq!(fast, library, "the paths disagree on {token:?}");
    fast
}

fn issued_access(user: &str, name: &str, sid: &str) -> String {
    ACCESS.issue(user, name, sid, TTL).expect("issuing an access token")
}

fn issued_refresh(user: &str, sid: &str, jti: &str) -> String {
    REFRESH
        .issue(user, sid, jti, now_unix() + TTL.as_secs())
        .expect("issuing a refresh token")
}

/// `header.payload.signature`, signed with HS256 under `secret` whatever the bytes are.
fn craft(header: &[u8], payload: &[u8], secret: &str) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key");
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("HMAC signing");
    format!("{message}.{signature}")
}

fn header_json(typ: &str, secret: &str) -> Vec<u8> {
    let kid = key_id(&Secret::new(secret)).expect("kid of a test secret");
    json!({ "alg": "HS256", "typ": typ, "kid": kid })
        .to_string()
        .into_bytes()
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// Identifiers (`sub`, `name`, `sid`, `jti`) are text without control characters.
fn is_printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Any text an identifier may hold: arbitrary Unicode without control characters.
fn printable_text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|text| text.chars().filter(|c| !c.is_control()).collect())
}

/// Text with at least one control character (C0, DEL or C1).
fn text_with_control() -> impl Strategy<Value = String> {
    "[a-z]{0,4}[\\x00-\\x1F\\x7F-\\x{9F}][a-z\\x00]{0,4}"
}

/// Mostly good identifiers, sometimes one with a control character.
fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![6 => printable_text(), 1 => text_with_control()]
}

// ---------------------------------------------------------------------------
// Arbitrary input
// ---------------------------------------------------------------------------

/// Three-ish segments of base64url text (sometimes the real header), the shape
/// a parser is most likely to get wrong.
fn token_shaped() -> impl Strategy<Value = String> {
    let real_header = URL_SAFE_NO_PAD.encode(header_json("at+jwt", ACCESS_SECRET));
    let segment = prop_oneof!["[A-Za-z0-9_-]{0,90}", "[A-Za-z0-9_=+/.-]{0,12}"];
    let first = prop_oneof![1 => Just(real_header), 3 => segment.clone()];
    (first, prop::collection::vec(segment, 0..4))
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<Vec<_>>().join("."))
}

fn assert_refused_by_both(token: &str) -> Result<(), TestCaseError> {
    prop_assert!(ACCESS.verify(token).is_err(), "access verifier accepted {token:?}");
    prop_assert!(REFRESH.verify(token).is_err(), "refresh verifier accepted {token:?}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_refused_without_panicking(token in any::<String>()) {
        assert_refused_by_both(&token)?;
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        assert_refused_by_both(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn token_shaped_junk_is_refused(token in token_shaped()) {
        assert_refused_by_both(&token)?;
    }

    /// The real header, any payload bytes, any signature text: refused.
    #[test]
    fn unsigned_payloads_are_refused(
        payload in prop::collection::vec(any::<u8>(), 0..200),
        signature in "[A-Za-z0-9_-]{0,90}",
    ) {
        let token = format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header_json("at+jwt", ACCESS_SECRET)),
            URL_SAFE_NO_PAD.encode(payload),
        );
        assert_refused_by_both(&token)?;
    }
}

// ---------------------------------------------------------------------------
// Validly signed claims of every shape: accepted exactly when they are right
// ---------------------------------------------------------------------------

/// One claim of a generated payload.
#[derive(Debug, Clone)]
enum Claim {
    /// Present, of the right type and an acceptable value.
    Good(Value),
    /// Present, but of the wrong type or a refused value.
    Bad(Value),
    Missing,
}

fn good_or_bad(good: impl Strategy<Value = Value>, bad: impl Strategy<Value = Value>) -> impl Strategy<Value = Claim> {
    prop_oneof![
        6 => good.prop_map(Claim::Good),
        1 => bad.prop_map(Claim::Bad),
        1 => Just(Claim::Missing),
    ]
}

fn exact_string(expected: &'static str) -> impl Strategy<Value = Claim> {
    good_or_bad(
        Just(json!(expected)),
        prop_oneof![
            Just(json!("")),
            Just(json!(format!("{expected} "))),
            Just(json!(expected.to_uppercase())),
            Just(json!([expected])),
            Just(json!({ "value": expected })),
            Just(Value::Null),
            Just(json!(1)),
        ],
    )
}

fn any_string() -> impl Strategy<Value = Claim> {
    good_or_bad(
        printable_text().prop_map(Value::from),
        prop_oneof![
            text_with_control().prop_map(Value::from),
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            Just(json!(["x"]))
        ],
    )
}

fn wrong_time_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(now_unix() as f64)),
        Just(json!(now_unix().to_string())),
        Just(json!([now_unix()])),
    ]
}

fn any_time() -> impl Strategy<Value = Claim> {
    good_or_bad(any::<u64>().prop_map(Value::from), wrong_time_type())
}

fn past(now: u64) -> impl Strategy<Value = Value> {
    (0..=now - MARGIN_SECS).prop_map(Value::from)
}

fn future(now: u64) -> impl Strategy<Value = Value> {
    (now + MARGIN_SECS..=u64::MAX).prop_map(Value::from)
}

/// The name and generated value of every claim of one kind of token.
type Claims = Vec<(&'static str, Claim)>;

fn access_claims() -> impl Strategy<Value = Claims> {
    let now = now_unix();
    (
        (exact_string(ISSUER), exact_string(AUDIENCE), any_string(), any_string()),
        (
            any_time(),
            good_or_bad(past(now), prop_oneof![future(now), wrong_time_type()]),
            good_or_bad(future(now), prop_oneof![past(now), wrong_time_type()]),
        ),
        (any_string(), any_string()),
    )
        .prop_map(|((iss, aud, sub, name), (iat, nbf, exp), (jti, sid))| {
            vec![
                ("iss", iss),
                ("aud", aud),
                ("sub", sub),
                ("name", name),
                ("iat", iat),
                ("nbf", nbf),
                ("exp", exp),
                ("jti", jti),
                ("sid", sid),
            ]
        })
}

/// A refresh token's `nbf`: optional, and not a field of `RefreshClaims`, so
/// only the library's own check reads it. That check takes any non-negative
/// number, so a float in the past passes; anything else must be a past time.
fn refresh_nbf(now: u64) -> impl Strategy<Value = Claim> {
    prop_oneof![
        4 => past(now).prop_map(Claim::Good),
        1 => (0..=now - MARGIN_SECS).prop_map(|t| Claim::Good(json!(t as f64 + 0.25))),
        1 => prop_oneof![
            future(now),
            Just(Value::Null),
            Just(json!(-1)),
            Just(json!(now.to_string())),
            Just(json!([now])),
        ]
        .prop_map(Claim::Bad),
        1 => Just(Claim::Missing),
    ]
}

/// A refresh token's audience is its issuer.
fn refresh_claims() -> impl Strategy<Value = Claims> {
    let now = now_unix();
    (
        (exact_string(ISSUER), exact_string(ISSUER), any_string()),
        (
            any_time(),
            refresh_nbf(now),
            good_or_bad(future(now), prop_oneof![past(now), wrong_time_type()]),
        ),
        (any_string(), any_string()),
    )
        .prop_map(|((iss, aud, sub), (iat, nbf, exp), (jti, sid))| {
            vec![
                ("iss", iss),
                ("aud", aud),
                ("sub", sub),
                ("iat", iat),
                ("nbf", nbf),
                ("exp", exp),
                ("jti", jti),
                ("sid", sid),
            ]
        })
}

/// The JSON payload, with a few unrelated claims that must be ignored.
fn payload(claims: &Claims, extra: &[(String, u64)]) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in extra {
        object.insert(format!("x-{name}"), json!(value));
    }
    for (name, claim) in claims {
        if let Claim::Good(value) | Claim::Bad(value) = claim {
            object.insert((*name).to_owned(), value.clone());
        }
    }
    object
}

/// Accepted iff every claim is good, a missing one counting as good where optional.
fn should_accept(claims: &Claims, optional: &[&str]) -> bool {
    claims.iter().all(|(name, claim)| match claim {
        Claim::Good(_) => true,
        Claim::Bad(_) => false,
        Claim::Missing => optional.contains(name),
    })
}

fn extras() -> impl Strategy<Value = Vec<(String, u64)>> {
    prop::collection::vec(("[a-z]{1,8}", any::<u64>()), 0..3)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signed_access_claims_are_accepted_exactly_when_right(claims in access_claims(), extra in extras()) {
        let object = payload(&claims, &extra);
        let token = craft(&header_json("at+jwt", ACCESS_SECRET), Value::Object(object.clone()).to_string().as_bytes(), ACCESS_SECRET);
        let outcome = ACCESS.verify(&token);
        prop_assert_eq!(outcome.is_ok(), should_accept(&claims, &[]), "{:?}", outcome);
        if let Ok(verified) = outcome {
            let mut expected = object;
            expected.retain(|name, _| !name.starts_with("x-"));
            prop_assert_eq!(serde_json::to_value(verified).expect("claims to JSON"), Value::Object(expected));
        }
        prop_assert!(REFRESH.verify(&token).is_err());
    }

    #[test]
    fn signed_refresh_claims_are_accepted_exactly_when_right(claims in refresh_claims(), extra in extras()) {
        let object = payload(&claims, &extra);
        let token = craft(&header_json("rt+jwt", REFRESH_SECRET), Value::Object(object.clone()).to_string().as_bytes(), REFRESH_SECRET);
        let outcome = REFRESH.verify(&token);
        prop_assert_eq!(outcome.is_ok(), should_accept(&claims, &["nbf"]), "{:?}", outcome);
        if let Ok(verified) = outcome {
            let mut expected = object;
            expected.retain(|name, _| !name.starts_with("x-") && name != "nbf");
            prop_assert_eq!(serde_json::to_value(verified).expect("claims to JSON"), Value::Object(expected));
        }
        prop_assert!(ACCESS.verify(&token).is_err());
    }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Identifiers without control characters come back as issued; a token
    /// carrying one is refused, even though our own key signed it.
    #[test]
    fn issued_access_tokens_round_trip(user in identifier(), name in identifier(), sid in identifier()) {
        let before = now_unix();
        let token = issued_access(&user, &name, &sid);
        let outcome = ACCESS.verify(&token);
        if ![&user, &name, &sid].iter().all(|text| is_printable(text)) {
            prop_assert_eq!(outcome.map(drop).map_err(|e| e.reason), Err(VerifyReason::InvalidClaims));
            return Ok(());
        }
        let claims = outcome.expect("an issued access token verifies");
        prop_assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str(), claims.sub.as_str(), claims.name.as_str(), claims.sid.as_str()),
            (ISSUER, AUDIENCE, user.as_str(), name.as_str(), sid.as_str())
        );
        prop_assert!(claims.iat >= before && claims.nbf == claims.iat && claims.exp == claims.iat + TTL.as_secs());
    }

    #[test]
    fn issued_refresh_tokens_round_trip(
        user in identifier(),
        sid in identifier(),
        jti in identifier(),
        expires_at in now_unix() + MARGIN_SECS..=u64::MAX,
    ) {
        let token = REFRESH.issue(&user, &sid, &jti, expires_at).expect("issuing a refresh token");
        let outcome = REFRESH.verify(&token);
        if ![&user, &sid, &jti].iter().all(|text| is_printable(text)) {
            prop_assert_eq!(outcome.map(drop).map_err(|e| e.reason), Err(VerifyReason::InvalidClaims));
            return Ok(());
        }
        let claims = outcome.expect("an issued refresh token verifies");
        prop_assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str(), claims.sub.as_str(), claims.sid.as_str(), claims.jti.as_str(), claims.exp),
            (ISSUER, ISSUER, user.as_str(), sid.as_str(), jti.as_str(), expires_at)
        );
    }
}

// ---------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Edit {
    Replace(char),
    /// Flips one of the seven low bits, so the byte stays ASCII.
    FlipBit(u8),
    Delete,
    Insert(char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let alphabet: Vec<char> = B64URL.chars().chain(".=+/~ ".chars()).collect();
    let character = prop_oneof![4 => prop::sample::select(alphabet), 1 => any::<char>()];
    prop_oneof![
        4 => character.clone().prop_map(Edit::Replace),
        2 => (0u8..7).prop_map(Edit::FlipBit),
        1 => Just(Edit::Delete),
        1 => character.prop_map(Edit::Insert),
    ]
}

/// Applies `edit` inside segment `segment` (0 header, 1 payload, 2 signature) of an ASCII token.
fn tamper(token: &str, segment: usize, at: Index, edit: &Edit) -> String {
    let mut start = 0;
    let mut len = 0;
    for (n, part) in token.split('.').enumerate() {
        if n == segment {
            len = part.len();
            break;
        }
        start += part.len() + 1;
    }
    let slots = if matches!(edit, Edit::Insert(_)) { len + 1 } else { len };
    let at = start + at.index(slots);
    let (head, tail) = token.split_at(at);
    match edit {
        Edit::Replace(c) => format!("{head}{c}{}", &tail[1..]),
        Edit::FlipBit(bit) => format!("{head}{}{}", char::from(tail.as_bytes()[0] ^ (1 << bit)), &tail[1..]),
        Edit::Delete => format!("{head}{}", &tail[1..]),
        Edit::Insert(c) => format!("{head}{c}{tail}"),
    }
}

/// True when `tampered` signs the same header and payload text as `original`
/// with a signature segment that decodes to the same MAC bytes: a second
/// spelling of the same signature, which only strict base64 refuses.
fn same_signature_other_spelling(original: &str, tampered: &str) -> bool {
    let (Some((message, signature)), Some((tampered_message, tampered_signature))) =
        (original.rsplit_once('.'), tampered.rsplit_once('.'))
    else {
        return false;
    };
    message == tampered_message
        && signature != tampered_signature
        && matches!(
            (LENIENT_B64URL.decode(signature), LENIENT_B64URL.decode(tampered_signature)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The header and payload are signed as text, so any change to them fails
/// the MAC (or the strict header parse first). The signature is compared as
/// decoded bytes: a change there fails unless it decodes to the same bytes,
/// which the strict decoder refuses as malformed.
fn check_tampered(
    original: &str,
    tampered: &str,
    verify: impl Fn(&str) -> Option<VerifyReason>,
) -> Result<(), TestCaseError> {
    prop_assume!(tampered != original);
    let Some(reason) = verify(tampered) else {
        return Err(TestCaseError::fail(format!("accepted a tampered token: {tampered:?}")));
    };
    if same_signature_other_spelling(original, tampered) {
        prop_assert_eq!(
            reason,
            VerifyReason::Malformed,
            "non-canonical signature {:?}",
            tampered
        );
    }
    Ok(())
}

fn access_reason(token: &str) -> Option<VerifyReason> {
    ACCESS.verify(token).err().map(|e| e.reason)
}

fn refresh_reason(token: &str) -> Option<VerifyReason> {
    REFRESH.verify(token).err().map(|e| e.reason)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_single_edit_of_an_access_token_is_refused(
        user in printable_text(),
        name in printable_text(),
        segment in 0usize..3,
        at in any::<Index>(),
        edit in edit(),
    ) {
        let token = issued_access(&user, &name, "sid");
        check_tampered(&token, &tamper(&token, segment, at, &edit), access_reason)?;
    }

    /// With the untouched token verified (and so kept in the verifier's cache) first: an edited
    /// copy is another text, verified anew.
    #[test]
    fn any_single_edit_of_an_eddsa_access_token_is_refused(
        user in printable_text(),
        name in printable_text(),
        segment in 0usize..3,
        at in any::<Index>(),
        edit in edit(),
    ) {
        let token = EDDSA.0.issue(&user, &name, "sid", TTL).expect("issuing an EdDSA token");
        prop_assert_eq!(eddsa_reason(&token), None);
        check_tampered(&token, &tamper(&token, segment, at, &edit), eddsa_reason)?;
    }

    #[test]
    fn any_single_edit_of_a_refresh_token_is_refused(
        user in printable_text(),
        jti in printable_text(),
        segment in 0usize..3,
        at in any::<Index>(),
        edit in edit(),
    ) {
        let token = issued_refresh(&user, "sid", &jti);
        check_tampered(&token, &tamper(&token, segment, at, &edit), refresh_reason)?;
    }
}

/// A verifier seen from the outside: `None` if it accepts, else its reason.
type Verifier = fn(&str) -> Option<VerifyReason>;

/// Every position, every base64url character and a few separators: no
/// substitution is accepted. Substitutions that leave the decoded signature
/// bytes unchanged (the last signature character carries 2 unused bits, so
/// it has 3 other spellings) are counted to show they were tried, and must be
/// refused as malformed rather than matched against the MAC.
#[test]
fn every_single_character_substitution_is_refused() {
    let tokens: [(&str, String, Verifier); 2] = [
        ("access", issued_access("user-42", "alice", "session-7"), access_reason),
        (
            "refresh",
            issued_refresh("user-42", "session-7", "jti-1"),
            refresh_reason,
        ),
    ];
    for (kind, token, verify) in tokens {
        assert!(verify(&token).is_none(), "the untouched {kind} token verifies");
        let mut tried = 0;
        let mut other_spellings = 0;
        for at in 0..token.len() {
            for c in B64URL.chars().chain(".=+/~ ".chars()) {
                let tampered = format!("{}{c}{}", &token[..at], &token[at + 1..]);
                if tampered == token {
                    continue;
                }
                tried += 1;
                let reason = verify(&tampered).unwrap_or_else(|| panic!("{kind}: accepted {tampered:?}"));
                if same_signature_other_spelling(&token, &tampered) {
                    other_spellings += 1;
                    assert_eq!(reason, VerifyReason::Malformed, "{kind}: {tampered:?}");
                }
            }
        }
        assert_eq!(
            other_spellings, 3,
            "{kind}: alternative spellings of the signature's last character"
        );
        assert!(tried > 10_000, "{kind}: only {tried} substitutions");
    }
}

// ---------------------------------------------------------------------------
// Kinds never mix
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Even with one secret for both kinds, and an access audience equal to
    /// the issuer (so `aud` cannot tell them apart), `typ` keeps them apart.
    #[test]
    fn kinds_never_verify_as_each_other(
        tail in "[a-z0-9]{0,16}",
        audience_is_issuer in any::<bool>(),
        user in printable_text(),
        name in printable_text(),
        sid in printable_text(),
    ) {
        let secret = format!("{ACCESS_SECRET}{tail}");
        let mut settings = settings();
        if audience_is_issuer {
            settings.audience = ISSUER.to_owned();
        }
        let access = AccessTokens::new(keys(&secret), &settings);
        let refresh = RefreshTokens::new(keys(&secret), &settings);
        let access_token = access.issue(&user, &name, &sid, TTL).expect("issuing an access token");
        let refresh_token = refresh
            .issue(&user, &sid, &name, now_unix() + TTL.as_secs())
            .expect("issuing a refresh token");

        prop_assert!(access.verify(&access_token).is_ok());
        prop_assert!(refresh.verify(&refresh_token).is_ok());
        prop_assert_eq!(
            refresh.verify(&access_token).map(drop).map_err(|e| e.reason),
            Err(VerifyReason::WrongType)
        );
        prop_assert_eq!(
            access.verify(&refresh_token).map(drop).map_err(|e| e.reason),
            Err(VerifyReason::WrongType)
        );
    }
}

// ---------------------------------------------------------------------------
// `Authorization: Bearer`
// ---------------------------------------------------------------------------

/// What `bearer_token` documents, written out over raw bytes: exactly one
/// header, then RFC 6750 §2.1 `"Bearer" 1*SP b64token`: the scheme in any
/// case, one or more spaces (no tabs), then a token68 (at least one token
/// character, then any number of `=`).
fn documented_form(values: &[Vec<u8>]) -> Result<&[u8], AuthHeaderError> {
    let value = match values {
        [] => return Err(AuthHeaderError::Missing),
        [one] => one.as_slice(),
        _ => return Err(AuthHeaderError::Repeated),
    };
    let Some((scheme, rest)) = value.split_at_checked(6) else {
        return Err(AuthHeaderError::Malformed);
    };
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    if !scheme.eq_ignore_ascii_case(b"bearer") || spaces == 0 {
        return Err(AuthHeaderError::Malformed);
    }
    let token = &rest[spaces..];
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &token[..token.len() - padding];
    if body.is_empty() || !body.iter().all(|b| TOKEN68.contains(b)) {
        return Err(AuthHeaderError::Malformed);
    }
    Ok(token)
}

/// The header map a client could send: values HTTP cannot carry are dropped.
fn header_map(values: &[Vec<u8>]) -> (HeaderMap, Vec<Vec<u8>>) {
    let mut map = HeaderMap::new();
    let mut sent = Vec::new();
    for value in values {
        if let Ok(header_value) = HeaderValue::from_bytes(value) {
            map.append(header::AUTHORIZATION, header_value);
            sent.push(value.clone());
        }
    }
    (map, sent)
}

/// Values near the accepted form: scheme variants, separators, token-ish text, tails.
fn bearer_like() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![
        3 => "[bB][eE][aA][rR][eE][rR]",
        1 => prop::sample::select(vec!["Basic", "Bearerx", "Beare", "Token", "", "Bearer:", "bearer\u{0}"])
            .prop_map(str::to_owned),
    ];
    let separator = prop::sample::select(vec![" ", " ", " ", "", "  ", "\t", ",", ":", "="]);
    let token = prop_oneof![
        4 => "[A-Za-z0-9._~+/-]{0,24}={0,3}",
        1 => "[ -~]{0,24}",
        1 => "[=A-Za-z0-9]{0,3}=[A-Za-z0-9]{0,3}",
        1 => any::<String>(),
    ];
    let tail = prop::sample::select(vec!["", "", "", " ", "=", "=a", "\t", " x", "\u{e9}"]);
    (scheme, separator, token, tail)
        .prop_map(|(scheme, separator, token, tail)| format!("{scheme}{separator}{token}{tail}").into_bytes())
}

fn check_bearer(values: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let (map, sent) = header_map(values);
    prop_assert_eq!(
        bearer_token(&map).map(str::as_bytes),
        documented_form(&sent),
        "{:?}",
        map
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bearer_token_matches_the_documented_form_on_arbitrary_bytes(
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..4),
    ) {
        check_bearer(&values)?;
    }

    #[test]
    fn bearer_token_matches_the_documented_form_near_it(
        values in prop::collection::vec(prop_oneof![4 => bearer_like(), 1 => prop::collection::vec(any::<u8>(), 0..16)], 0..3),
    ) {
        check_bearer(&values)?;
    }

    #[test]
    fn every_documented_form_is_taken_as_is(
        scheme in "[bB][eE][aA][rR][eE][rR]",
        spaces in " {1,4}",
        token in "[A-Za-z0-9._~+/-]{1,60}={0,3}",
    ) {
        let (map, _) = header_map(&[format!("{scheme}{spaces}{token}").into_bytes()]);
        prop_assert_eq!(bearer_token(&map), Ok(token.as_str()));
    }

    /// What the extractor does with a header: parse, then verify. An issued
    /// token survives the trip; nothing else that reaches `verify` passes.
    #[test]
    fn header_then_verify_accepts_only_issued_tokens(
        value in prop_oneof![1 => Just(None), 3 => bearer_like().prop_map(Some)],
        user in "[a-z]{1,8}",
    ) {
        let token = issued_access(&user, "name", "sid");
        let value = value.unwrap_or_else(|| format!("Bearer {token}").into_bytes());
        let (map, _) = header_map(std::slice::from_ref(&value));
        if let Ok(got) = bearer_token(&map) {
            let verified = ACCESS.verify(got);
            prop_assert_eq!(verified.is_ok(), got == token, "{:?}", got);
        }
    }
}
