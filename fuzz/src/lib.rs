//! What the fuzz targets share: keys used nowhere else, the verifiers under
//! test, valid tokens to start mutations from, and the checks every outcome
//! must pass. A target panics (and libFuzzer reports a crash) when a check
//! fails, so every `assert!` here states a property of the verifier.

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_tokens::{
    AccessClaims, AccessTokens, AuthHeaderError, KeySet, RefreshClaims, RefreshTokens, Secret, TokenSettings, key_id,
    now_unix,
};
use serde_json::{Map, Value};

pub mod differential;

pub const ACCESS_SECRET: &str = "fuzz-access-secret-0123456789-abcdefghijklmn";
pub const REFRESH_SECRET: &str = "fuzz-refresh-secret-0123456789-abcdefghijklm";
pub const ISSUER: &str = "auth-server";
pub const AUDIENCE: &str = "posts-server";
pub const LEEWAY_SECS: u64 = 5;
/// 2100-01-01T00:00:00Z: the committed seed tokens stay valid.
pub const SEED_EXPIRY: u64 = 4_102_444_800;

/// RFC 6750 §2.1 `b64token` (RFC 7235 token68) characters, before any trailing `=`.
const TOKEN68: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

pub struct Fixture {
    pub access: AccessTokens,
    pub refresh: RefreshTokens,
    /// A refresh verifier holding the access secret: only `typ` keeps the kinds apart.
    pub refresh_same_key: RefreshTokens,
    /// Valid for a day from start-up, to be mutated.
    pub access_token: String,
    pub refresh_token: String,
    access_kid: String,
    refresh_kid: String,
}

pub fn settings() -> TokenSettings {
    TokenSettings {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        leeway: Duration::from_secs(LEEWAY_SECS),
    }
}

fn keys(secret: &str) -> KeySet {
    KeySet::single(&Secret::new(secret)).expect("fuzz secrets are long enough")
}

fn kid(secret: &str) -> String {
    key_id(&Secret::new(secret)).expect("kid of a fuzz secret")
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let access = AccessTokens::new(keys(ACCESS_SECRET), &settings());
        let refresh = RefreshTokens::new(keys(REFRESH_SECRET), &settings());
        let day = Duration::from_secs(24 * 3600);
        let access_token = access
            .issue("user-42", "alice", "session-7", day)
            .expect("issuing an access token");
        let refresh_token = refresh
            .issue("user-42", "session-7", "refresh-1", now_unix() + day.as_secs())
            .expect("issuing a refresh token");
        Fixture {
            refresh_same_key: RefreshTokens::new(keys(ACCESS_SECRET), &settings()),
            access,
            refresh,
            access_token,
            refresh_token,
            access_kid: kid(ACCESS_SECRET),
            refresh_kid: kid(REFRESH_SECRET),
        }
    })
}

impl Fixture {
    /// The `kid` of the refresh or the access key.
    pub fn kid(&self, refresh: bool) -> &str {
        if refresh { &self.refresh_kid } else { &self.access_kid }
    }
}

/// The tokens committed under `seeds/`: valid until [`SEED_EXPIRY`].
pub fn seed_tokens() -> (String, String) {
    let f = fixture();
    let now = now_unix();
    let access = f
        .access
        .sign(&AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: "user-42".to_owned(),
            name: "alice".to_owned(),
            iat: now,
            nbf: now,
            exp: SEED_EXPIRY,
            jti: "seed-access-1".to_owned(),
            sid: "session-7".to_owned(),
        })
        .expect("signing the access seed");
    let refresh = f
        .refresh
        .sign(&RefreshClaims {
            iss: ISSUER.to_owned(),
            aud: ISSUER.to_owned(),
            sub: "user-42".to_owned(),
            iat: now,
            exp: SEED_EXPIRY,
            jti: "seed-refresh-1".to_owned(),
            sid: "session-7".to_owned(),
        })
        .expect("signing the refresh seed");
    (access, refresh)
}

/// `base64url(header).base64url(payload)`, signed with HS256 under `secret`.
pub fn sign_raw(header: &[u8], payload: &[u8], secret: &str) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    format!("{message}.{}", mac(&message, secret))
}

fn mac(message: &str, secret: &str) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key");
    jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("HMAC signing")
}

/// The JSON header our issuer writes for a kind.
pub fn header_json(refresh: bool) -> Vec<u8> {
    let f = fixture();
    let (typ, kid) = if refresh {
        ("rt+jwt", &f.refresh_kid)
    } else {
        ("at+jwt", &f.access_kid)
    };
    serde_json::json!({ "alg": "HS256", "typ": typ, "kid": kid })
        .to_string()
        .into_bytes()
}

/// The JSON payload of a fixture token of a kind.
pub fn payload_json(refresh: bool) -> Vec<u8> {
    let f = fixture();
    let token = if refresh { &f.refresh_token } else { &f.access_token };
    let payload = token.split('.').nth(1).expect("a three-part token");
    URL_SAFE_NO_PAD.decode(payload).expect("our own payload is base64url")
}

/// Hands `token` to every verifier and checks whatever they answer.
pub fn check_token(token: &str) {
    let f = fixture();
    let before = now_unix();
    let access = f.access.verify(token);
    let refresh = f.refresh.verify(token);
    let refresh_same_key = f.refresh_same_key.verify(token);
    let after = now_unix();

    if let Ok(claims) = &access {
        let payload = assert_signed(token, ACCESS_SECRET, "at+jwt", &f.access_kid);
        assert_times(claims.exp, Some(claims.nbf), before, after);
        assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISSUER, AUDIENCE));
        assert_claims_are_the_payload(serde_json::to_value(claims), &payload);
        assert_printable(&[&claims.sub, &claims.name, &claims.sid, &claims.jti]);
        assert!(
            refresh_same_key.is_err(),
            "an access token verified as a refresh token: {token:?}"
        );
    }
    for (verifier, secret, claims) in [
        ("refresh", REFRESH_SECRET, &refresh),
        ("refresh (access key)", ACCESS_SECRET, &refresh_same_key),
    ] {
        if let Ok(claims) = claims {
            let expected_kid = if secret == REFRESH_SECRET {
                &f.refresh_kid
            } else {
                &f.access_kid
            };
            let payload = assert_signed(token, secret, "rt+jwt", expected_kid);
            let nbf = payload.get("nbf").and_then(Value::as_f64).map(|n| n as u64);
            assert_times(claims.exp, nbf, before, after);
            assert_eq!(
                (claims.iss.as_str(), claims.aud.as_str()),
                (ISSUER, ISSUER),
                "{verifier}"
            );
            assert_claims_are_the_payload(serde_json::to_value(claims), &payload);
            assert_printable(&[&claims.sub, &claims.sid, &claims.jti]);
        }
    }
}

/// An accepted token is three segments whose signature is the canonical
/// HS256 MAC of the first two under `secret`, with a header naming HS256, the
/// kind's `typ` and the key's `kid`, and no key-locating parameter. Returns
/// the payload.
fn assert_signed(token: &str, secret: &str, typ: &str, kid: &str) -> Map<String, Value> {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "accepted a token of {} segments: {token:?}",
        parts.len()
    );
    let message = format!("{}.{}", parts[0], parts[1]);
    assert_eq!(
        parts[2],
        mac(&message, secret),
        "accepted a signature that is not the MAC: {token:?}"
    );

    let header = json_object(parts[0], CHECKED_HEADER)
        .unwrap_or_else(|| panic!("accepted a header that is no JSON object: {token:?}"));
    assert_eq!(header.get("alg").and_then(Value::as_str), Some("HS256"), "{token:?}");
    assert_eq!(header.get("typ").and_then(Value::as_str), Some(typ), "{token:?}");
    assert_eq!(header.get("kid").and_then(Value::as_str), Some(kid), "{token:?}");
    for name in ["jku", "jwk", "x5u", "x5c", "crit"] {
        assert!(
            header.get(name).is_none_or(Value::is_null),
            "accepted a `{name}` header: {token:?}"
        );
    }
    let claims = if typ == "at+jwt" { ACCESS_CLAIMS } else { REFRESH_CLAIMS };
    json_object(parts[1], claims).unwrap_or_else(|| panic!("accepted a payload that is no JSON object: {token:?}"))
}

/// The header parameters the checks read. Every other member of a segment is skipped unparsed,
/// as the verifiers skip unknown members, so a member such as `"x":1e400` (a number
/// `serde_json::Value` cannot hold, which the verifiers step over) does not make an accepted
/// token look like no JSON object.
const CHECKED_HEADER: &[&str] = &["alg", "typ", "kid", "jku", "jwk", "x5u", "x5c", "crit"];

/// The claims the checks read of an access token: those of `AccessClaims`. A payload member of
/// another name (`typ` included: it is a header parameter, not a claim) is skipped, as the
/// verifier skips it.
const ACCESS_CLAIMS: &[&str] = &["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"];

/// The claims the checks read of a refresh token: those of `RefreshClaims`, and `nbf`, which
/// the validation reads where it is present. `name` is not one: the refresh verifier skips it.
const REFRESH_CLAIMS: &[&str] = &["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid"];

fn json_object(segment: &str, members: &'static [&'static str]) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let object = serde::Deserializer::deserialize_map(&mut deserializer, CheckedMembers(members)).ok()?;
    deserializer.end().ok()?;
    Some(object)
}

/// Reads a JSON object, keeping the members it names (the last of duplicates, as
/// `serde_json::Value` does) and skipping the rest.
struct CheckedMembers(&'static [&'static str]);

impl<'de> serde::de::Visitor<'de> for CheckedMembers {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if self.0.contains(&name.as_str()) {
                object.insert(name, map.next_value::<Value>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(object)
    }
}

/// Accepted means not expired and already valid, give or take the leeway.
fn assert_times(exp: u64, nbf: Option<u64>, before: u64, after: u64) {
    assert!(
        exp.saturating_add(LEEWAY_SECS) >= before,
        "accepted exp {exp} at {before}"
    );
    if let Some(nbf) = nbf {
        assert!(
            nbf <= after.saturating_add(LEEWAY_SECS),
            "accepted nbf {nbf} at {after}"
        );
    }
}

/// Identifiers handed back never hold control characters.
fn assert_printable(identifiers: &[&String]) {
    for text in identifiers {
        assert!(
            !text.chars().any(char::is_control),
            "accepted an identifier with a control character: {text:?}"
        );
    }
}

/// Every claim handed back is exactly what the signed payload says.
fn assert_claims_are_the_payload(claims: Result<Value, serde_json::Error>, payload: &Map<String, Value>) {
    let Ok(Value::Object(claims)) = claims else {
        panic!("claims serialize to an object");
    };
    for (name, value) in &claims {
        assert_eq!(
            payload.get(name),
            Some(value),
            "claim `{name}` differs from the signed payload"
        );
    }
}

// ---------------------------------------------------------------------------
// Structured mutations of valid tokens
// ---------------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
pub enum Plan {
    /// A few edits to a valid token.
    Edit { refresh: bool, edits: Vec<Edit> },
    /// One segment of a valid token replaced by arbitrary text.
    Splice { refresh: bool, segment: u8, text: String },
    /// The kind's real header and arbitrary payload bytes, signed with the right key.
    SignedPayload { refresh: bool, payload: Vec<u8> },
    /// Arbitrary header bytes and a valid payload, signed with the right key.
    SignedHeader { refresh: bool, header: Vec<u8> },
    /// A valid payload under a header with the right `typ` and `kid` and one
    /// more parameter of arbitrary name and JSON text, signed with the right key.
    ExtraHeader { refresh: bool, name: String, json: String },
}

#[derive(Arbitrary, Debug)]
pub struct Edit {
    segment: u8,
    at: u16,
    op: Op,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// By a Latin-1 character, so the token stays text.
    Replace(u8),
    FlipBit(u8),
    Delete,
    Insert(u8),
    /// Cut the segment here.
    Truncate,
}

impl Plan {
    /// The token the plan builds, and the valid token it started from (if it did).
    pub fn build(&self) -> (String, Option<&'static str>) {
        let f = fixture();
        let original = |refresh: bool| if refresh { &f.refresh_token } else { &f.access_token };
        let secret = |refresh: bool| if refresh { REFRESH_SECRET } else { ACCESS_SECRET };
        match self {
            Self::Edit { refresh, edits } => {
                let original = original(*refresh);
                let mut token: Vec<char> = original.chars().collect();
                for edit in edits.iter().take(8) {
                    edit.apply(&mut token);
                }
                (token.into_iter().collect(), Some(original))
            }
            Self::Splice { refresh, segment, text } => {
                let original = original(*refresh);
                let mut parts: Vec<&str> = original.split('.').collect();
                parts[usize::from(*segment) % 3] = text;
                (parts.join("."), Some(original))
            }
            Self::SignedPayload { refresh, payload } => {
                (sign_raw(&header_json(*refresh), payload, secret(*refresh)), None)
            }
            Self::SignedHeader { refresh, header } => {
                (sign_raw(header, &payload_json(*refresh), secret(*refresh)), None)
            }
            Self::ExtraHeader { refresh, name, json } => {
                let base = String::from_utf8(header_json(*refresh)).expect("our header is text");
                let name = Value::String(name.clone()).to_string();
                let header = format!("{},{name}:{json}}}", base.trim_end_matches('}'));
                (
                    sign_raw(header.as_bytes(), &payload_json(*refresh), secret(*refresh)),
                    None,
                )
            }
        }
    }
}

impl Edit {
    fn apply(&self, token: &mut Vec<char>) {
        // Segment bounds in the token as it is now (earlier edits may have moved dots).
        let dots: Vec<usize> = token
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '.')
            .map(|(i, _)| i)
            .collect();
        let segment = usize::from(self.segment) % (dots.len() + 1);
        let start = if segment == 0 { 0 } else { dots[segment - 1] + 1 };
        let end = dots.get(segment).copied().unwrap_or(token.len());
        let len = end - start;
        let at = start + usize::from(self.at) % (len + 1);
        match self.op {
            Op::Insert(b) => token.insert(at, char::from(b)),
            Op::Truncate => {
                token.drain(at..end);
            }
            _ if at == end => {}
            Op::Replace(b) => token[at] = char::from(b),
            Op::FlipBit(bit) => {
                let byte = u32::from(token[at]) ^ (1 << (bit % 8));
                token[at] = char::from_u32(byte).unwrap_or('\u{fffd}');
            }
            Op::Delete => {
                token.remove(at);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// `Authorization` header values
// ---------------------------------------------------------------------------

/// What `bearer_token` documents, over the values actually sent: one header,
/// then RFC 6750 §2.1 `"Bearer" 1*SP b64token`: the scheme in any case, one
/// or more spaces (no tabs), then a token68 (at least one token character,
/// then any number of `=`).
pub fn documented_form(values: &[Vec<u8>]) -> Result<&[u8], AuthHeaderError> {
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

/// Sends `values` as `Authorization` headers (dropping any HTTP cannot carry),
/// checks the parser against [`documented_form`], then checks what it extracted
/// as a token. Returns the token, if one was taken.
pub fn check_header_values(values: &[&[u8]]) -> Option<String> {
    let mut map = http::HeaderMap::new();
    let mut sent = Vec::new();
    for value in values {
        if let Ok(header_value) = http::HeaderValue::from_bytes(value) {
            map.append(http::header::AUTHORIZATION, header_value);
            sent.push(value.to_vec());
        }
    }
    let parsed = jwt_tokens::bearer_token(&map);
    assert_eq!(
        parsed.map(str::as_bytes),
        documented_form(&sent),
        "bearer_token disagrees with the documented form on {sent:?}"
    );
    let token = parsed.ok()?;
    check_token(token);
    let f = fixture();
    if token == f.access_token {
        assert!(
            f.access.verify(token).is_ok(),
            "a valid token did not survive the header"
        );
    }
    Some(token.to_owned())
}

/// Header values assembled from pieces, so valid tokens can appear in them.
#[derive(Arbitrary, Debug)]
pub struct HeaderPlan {
    values: Vec<Vec<Piece>>,
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Bytes(Vec<u8>),
    Bearer,
    Space,
    Equals,
    AccessToken,
    RefreshToken,
}

impl HeaderPlan {
    pub fn values(&self) -> Vec<Vec<u8>> {
        let f = fixture();
        self.values
            .iter()
            .take(4)
            .map(|pieces| {
                let mut value = Vec::new();
                for piece in pieces {
                    match piece {
                        Piece::Bytes(bytes) => value.extend_from_slice(bytes),
                        Piece::Bearer => value.extend_from_slice(b"Bearer"),
                        Piece::Space => value.push(b' '),
                        Piece::Equals => value.push(b'='),
                        Piece::AccessToken => value.extend_from_slice(f.access_token.as_bytes()),
                        Piece::RefreshToken => value.extend_from_slice(f.refresh_token.as_bytes()),
                    }
                }
                value
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the committed seeds, or writes them with `FUZZ_WRITE_SEEDS=1`.
    #[test]
    fn seeds_are_valid() {
        let (access, refresh) = seed_tokens();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let seeds = [
            ("verify_token/access", access.clone()),
            ("verify_token/refresh", refresh.clone()),
            ("authorization_header/bearer-access", format!("Bearer {access}")),
            ("authorization_header/bearer-refresh", format!("bearer {refresh}")),
            (
                "authorization_header/two-headers",
                format!("Bearer {access}\nBearer {refresh}"),
            ),
            ("differential/access", access.clone()),
            ("differential/refresh", refresh.clone()),
            ("differential/access-array-header", array_header(&access, ACCESS_SECRET)),
            ("differential/access-array-claims", array_claims(&access, ACCESS_SECRET)),
            (
                "differential/refresh-array-header",
                array_header(&refresh, REFRESH_SECRET),
            ),
            (
                "differential/refresh-array-claims",
                array_claims(&refresh, REFRESH_SECRET),
            ),
        ];
        for (name, content) in &seeds {
            let path = dir.join(name);
            if std::env::var_os("FUZZ_WRITE_SEEDS").is_some() {
                std::fs::create_dir_all(path.parent().expect("a seed directory")).expect("creating seeds/");
                std::fs::write(&path, content).expect("writing a seed");
            }
        }
        let f = fixture();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("reading a seed");
        let access = read("verify_token/access");
        let refresh = read("verify_token/refresh");
        let claims = f.access.verify(&access).expect("the access seed verifies");
        assert_eq!(claims.exp, SEED_EXPIRY);
        f.refresh.verify(&refresh).expect("the refresh seed verifies");
        let bearer = read("authorization_header/bearer-access");
        assert_eq!(
            check_header_values(&[bearer.as_bytes()]).as_deref(),
            Some(access.as_str())
        );
    }

    fn segment_json(token: &str, index: usize) -> Value {
        let segment = token.split('.').nth(index).expect("a three-part token");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
    }

    /// `token` re-signed with its header as `[alg, typ, kid]`.
    fn array_header(token: &str, secret: &str) -> String {
        let header = segment_json(token, 0);
        let array = serde_json::json!([header["alg"], header["typ"], header["kid"]]);
        sign_raw(
            array.to_string().as_bytes(),
            segment_json(token, 1).to_string().as_bytes(),
            secret,
        )
    }

    /// `token` re-signed with its claims as an array in the order of `AccessClaims`.
    fn array_claims(token: &str, secret: &str) -> String {
        let mut claims = segment_json(token, 1);
        if claims.get("nbf").is_none() {
            claims["nbf"] = claims["iat"].clone();
        }
        let order = ["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"];
        let array = Value::Array(order.iter().map(|name| claims[*name].clone()).collect());
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("a header"))
            .expect("base64url");
        sign_raw(&header, array.to_string().as_bytes(), secret)
    }

    /// A member holding a number `serde_json::Value` cannot hold (`1e400`) is skipped by the
    /// verifiers; the checks must skip it too, not call the token "no JSON object".
    #[test]
    fn an_unrepresentable_unknown_member_is_no_false_alarm() {
        let f = fixture();
        // `name` is a claim of access tokens only: the refresh verifier skips it.
        let cases = [
            (false, r#""":1e400"#),
            (false, r#""ty\u0070":{"alg":1e400}"#),
            (true, r#""":1e400"#),
            (true, r#""ty\u0070":{"alg":1e400}"#),
            (true, r#""name":{"alg":{"!":1e400}}"#),
        ];
        for (refresh, extra) in cases {
            let secret = if refresh { REFRESH_SECRET } else { ACCESS_SECRET };
            let payload = String::from_utf8(payload_json(refresh)).expect("UTF-8");
            let payload = format!("{{{extra},{}", &payload[1..]);
            let token = sign_raw(&header_json(refresh), payload.as_bytes(), secret);
            let accepted = if refresh {
                f.refresh.verify(&token).is_ok()
            } else {
                f.access.verify(&token).is_ok()
            };
            assert!(accepted, "{payload}");
            check_token(&token);
        }
        // Arrays and trailing text are still no JSON object; a claim named like a header
        // parameter is not read.
        assert!(json_object(&URL_SAFE_NO_PAD.encode("[1]"), ACCESS_CLAIMS).is_none());
        assert!(json_object(&URL_SAFE_NO_PAD.encode("{} x"), ACCESS_CLAIMS).is_none());
        assert_eq!(
            json_object(
                &URL_SAFE_NO_PAD.encode(r#"{"sub":"a","sub":"b","x":1e400,"ty\u0070":{"alg":1e400}}"#),
                ACCESS_CLAIMS
            ),
            Some(
                serde_json::json!({ "sub": "b" })
                    .as_object()
                    .cloned()
                    .expect("an object")
            )
        );
    }

    #[test]
    fn plans_start_from_valid_tokens() {
        let f = fixture();
        check_token(&f.access_token);
        check_token(&f.refresh_token);
        assert!(f.access.verify(&f.access_token).is_ok());
        assert!(f.refresh.verify(&f.refresh_token).is_ok());
        let untouched = Plan::Edit {
            refresh: false,
            edits: Vec::new(),
        }
        .build();
        assert_eq!(untouched.0, f.access_token);
        let resigned = Plan::SignedPayload {
            refresh: true,
            payload: payload_json(true),
        }
        .build();
        assert!(f.refresh.verify(&resigned.0).is_ok());
        let extra = Plan::ExtraHeader {
            refresh: false,
            name: "cty".into(),
            json: "\"x\"".into(),
        }
        .build();
        assert!(f.access.verify(&extra.0).is_ok(), "{}", extra.0);
    }
}
