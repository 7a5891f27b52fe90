//! Issuing and verifying tokens: HS256 only, every claim required, `typ` checked.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fast::{self, FromClaims};
use crate::keys::{Key, KeySet};
use crate::{AccessClaims, RefreshClaims, now_unix};

/// Who issues tokens, for whom, and how much clock skew is forgiven.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// The JOSE `typ` header of this kind (RFC 9068 for access tokens).
    pub fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Refresh => "rt+jwt",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        })
    }
}

/// Why a token was refused. Clients get the message; logs get the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReason {
    Malformed,
    WrongAlgorithm,
    WrongType,
    ForbiddenHeader(&'static str),
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    InvalidClaims,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {kind} token {}", self.describe())]
pub struct VerifyError {
    pub kind: TokenKind,
    pub reason: VerifyReason,
}

impl VerifyError {
    fn describe(&self) -> String {
        match &self.reason {
            VerifyReason::Malformed => "is malformed".into(),
            VerifyReason::WrongAlgorithm => "is not signed with HS256".into(),
            VerifyReason::WrongType => {
                let article = match self.kind {
                    TokenKind::Access => "an",
                    TokenKind::Refresh => "a",
                };
                format!("is not {article} {} token (typ must be {})", self.kind, self.kind.typ())
            }
            VerifyReason::ForbiddenHeader(name) => {
                format!("carries a `{name}` header, which is not accepted")
            }
            VerifyReason::UnknownKey => "was not signed with a known key".into(),
            VerifyReason::BadSignature => "has an invalid signature".into(),
            VerifyReason::Expired => "has expired".into(),
            VerifyReason::NotYetValid => "is not valid yet".into(),
            VerifyReason::WrongIssuer => "was issued by someone else".into(),
            VerifyReason::WrongAudience => "is meant for another audience".into(),
            VerifyReason::InvalidClaims => "has claims of the wrong form".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not sign the {0} token")]
pub struct IssueError(TokenKind);

/// One kind of token: its `typ`, its keys and its validation rules, built once.
struct Codec {
    kind: TokenKind,
    keys: KeySet,
    issuer: String,
    audience: String,
    validation: Validation,
    known_headers: Vec<(String, usize)>,
}

impl Codec {
    fn new(kind: TokenKind, keys: KeySet, issuer: &str, audience: &str, leeway: Duration, required: &[&str]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // Bounded: a leeway beyond the current Unix time would underflow in the validation.
        validation.leeway = leeway.as_secs().min(MAX_LEEWAY_SECS);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(required);
        Self {
            kind,
            known_headers: fast::known_headers(kind, &keys),
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation,
        }
    }

    fn error(&self, reason: VerifyReason) -> VerifyError {
        VerifyError {
            kind: self.kind,
            reason,
        }
    }

    fn encode<C: Serialize>(&self, claims: &C) -> Result<String, IssueError> {
        let key = self.keys.signing();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(self.kind.typ().to_owned());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|_| IssueError(self.kind))
    }

    /// Identifiers are text without control characters (a NUL could not even be stored in
    /// PostgreSQL): a token that carries one, signed or not, is refused as invalid.
    fn printable<const N: usize>(&self, values: [&String; N]) -> Result<(), VerifyError> {
        if values.iter().any(|v| has_control(v)) {
            return Err(self.error(VerifyReason::InvalidClaims));
        }
        Ok(())
    }

    fn decode<C: DeserializeOwned + FromClaims>(&self, token: &str, path: Path) -> Result<C, VerifyError> {
        self.decode_checking(token, &self.validation, path)
    }

    /// What the fast path checks against: this codec under `validation`.
    fn rules<'a>(&'a self, validation: &Validation) -> fast::Rules<'a> {
        fast::Rules {
            kind: self.kind,
            keys: &self.keys,
            known_headers: &self.known_headers,
            issuer: &self.issuer,
            audience: &self.audience,
            leeway: validation.leeway,
            validate_exp: validation.validate_exp,
            requires_nbf: validation.required_spec_claims.contains("nbf"),
        }
    }

    /// The fast path when it can tell, else the full one (`fast.rs`).
    fn decode_checking<C: DeserializeOwned + FromClaims>(
        &self,
        token: &str,
        validation: &Validation,
        path: Path,
    ) -> Result<C, VerifyError> {
        let fast = match path {
            Path::Fast => fast::decode(token, &self.rules(validation)),
            Path::Library => None,
        };
        match fast {
            Some(outcome) => outcome.map_err(|reason| self.error(reason)),
            None => self.decode_with(token, validation),
        }
    }

    fn decode_with<C: DeserializeOwned>(&self, token: &str, validation: &Validation) -> Result<C, VerifyError> {
        // A header that does not parse (including `alg: none`, which is no
        // algorithm jsonwebtoken knows, and anything but a JSON object) makes
        // the whole token malformed.
        let header = jsonwebtoken::decode_header(token).map_err(|_| self.error(VerifyReason::Malformed))?;
        let key = header_key(self.kind, &self.keys, &header).map_err(|reason| self.error(reason))?;
        jsonwebtoken::decode::<C>(token, &key.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| self.error(reason_of(e.kind())))
    }
}

/// The key a parsed header names, or why the token is refused, checked in
/// this order: HS256, the kind's `typ`, no key-locating header, a known `kid`.
/// Both paths judge a header with it.
pub(crate) fn header_key<'k>(kind: TokenKind, keys: &'k KeySet, header: &Header) -> Result<&'k Key, VerifyReason> {
    if header.alg != Algorithm::HS256 {
        return Err(VerifyReason::WrongAlgorithm);
    }
    if header.typ.as_deref() != Some(kind.typ()) {
        return Err(VerifyReason::WrongType);
    }
    // Key-locating headers are never honoured: a key is found by `kid` alone.
    let forbidden = [
        ("jku", header.jku.is_some()),
        ("jwk", header.jwk.is_some()),
        ("x5u", header.x5u.is_some()),
        ("x5c", header.x5c.is_some()),
        ("crit", header.crit.is_some()),
    ];
    if let Some((name, _)) = forbidden.iter().find(|(_, present)| *present) {
        return Err(VerifyReason::ForbiddenHeader(name));
    }
    header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(VerifyReason::UnknownKey)
}

/// Whether `text` holds a control character (Unicode's `Cc`: U+0000–U+001F,
/// U+007F, U+0080–U+009F), as `char::is_control` says, read byte by byte: the
/// C1 controls are the only ones beyond ASCII, encoded as `C2 80`–`C2 9F`.
fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b < 0x20 || b == 0x7F || (b == 0xC2 && bytes.get(i + 1).is_some_and(|next| (0x80..=0x9F).contains(next)))
    })
}

/// Which way a token is decoded: the fast path where it can tell, or
/// `jsonwebtoken` alone, the reference the fast path is fuzzed against.
#[derive(Clone, Copy)]
enum Path {
    Fast,
    Library,
}

/// The most clock skew a verifier allows, whatever it is configured with: one day.
const MAX_LEEWAY_SECS: u64 = 86_400;

/// Why `jsonwebtoken` refused a token whose header [`header_key`] accepted. It cannot refuse
/// the algorithm (the header was checked to be HS256 first), nor report a missing claim (the
/// claims structs require every claim, and a missing one fails their deserialization first, as
/// `InvalidClaims`): those kinds, and any other, are `Malformed`.
fn reason_of(kind: &ErrorKind) -> VerifyReason {
    match kind {
        ErrorKind::InvalidSignature => VerifyReason::BadSignature,
        ErrorKind::ExpiredSignature => VerifyReason::Expired,
        ErrorKind::ImmatureSignature => VerifyReason::NotYetValid,
        ErrorKind::InvalidIssuer => VerifyReason::WrongIssuer,
        ErrorKind::InvalidAudience => VerifyReason::WrongAudience,
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => VerifyReason::InvalidClaims,
        _ => VerifyReason::Malformed,
    }
}

/// Issues and verifies access tokens (`typ` `at+jwt`, audience: the resource servers).
pub struct AccessTokens {
    codec: Codec,
    issuer: String,
    audience: String,
}

impl fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokens")
            .field("keys", &self.codec.keys)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    pub fn new(keys: KeySet, settings: &TokenSettings) -> Self {
        let required = ["exp", "nbf", "iss", "aud", "sub"];
        Self {
            codec: Codec::new(
                TokenKind::Access,
                keys,
                &settings.issuer,
                &settings.audience,
                settings.leeway,
                &required,
            ),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }
    }

    /// Signs an access token for `user` in session `sid`, valid for `ttl` from now.
    pub fn issue(&self, user_id: &str, username: &str, sid: &str, ttl: Duration) -> Result<String, IssueError> {
        let now = now_unix();
        self.issue_at(user_id, username, sid, now, now.saturating_add(ttl.as_secs()))
    }

    /// Signs an access token issued (and valid from) `issued_at`, ending at `expires_at`
    /// (Unix seconds), for an issuer whose clock or session end decides them.
    pub fn issue_at(
        &self,
        user_id: &str,
        username: &str,
        sid: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<String, IssueError> {
        self.sign(&AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_owned(),
            name: username.to_owned(),
            iat: issued_at,
            nbf: issued_at,
            exp: expires_at,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: sid.to_owned(),
        })
    }

    /// Signs the claims exactly as given (tests use it to craft edge cases).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, IssueError> {
        self.codec.encode(claims)
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.verify_on(token, Path::Fast)
    }

    /// [`verify`](Self::verify) through `jsonwebtoken` alone, without the fast
    /// path: for the differential fuzz target, not for services.
    #[doc(hidden)]
    pub fn verify_by_library(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.verify_on(token, Path::Library)
    }

    fn verify_on(&self, token: &str, path: Path) -> Result<AccessClaims, VerifyError> {
        let claims: AccessClaims = self.codec.decode(token, path)?;
        self.codec
            .printable([&claims.sub, &claims.name, &claims.sid, &claims.jti])?;
        Ok(claims)
    }
}

/// Issues and verifies refresh tokens (`typ` `rt+jwt`, audience: the auth server itself).
pub struct RefreshTokens {
    codec: Codec,
    issuer: String,
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("keys", &self.codec.keys)
            .finish_non_exhaustive()
    }
}

impl RefreshTokens {
    pub fn new(keys: KeySet, settings: &TokenSettings) -> Self {
        let required = ["exp", "iss", "aud", "sub"];
        // The audience of a refresh token is its issuer: only the auth server takes it.
        Self {
            codec: Codec::new(
                TokenKind::Refresh,
                keys,
                &settings.issuer,
                &settings.issuer,
                settings.leeway,
                &required,
            ),
            issuer: settings.issuer.clone(),
        }
    }

    /// Signs refresh token `jti` of session `sid`, which ends at `expires_at` (Unix seconds).
    pub fn issue(&self, user_id: &str, sid: &str, jti: &str, expires_at: u64) -> Result<String, IssueError> {
        self.issue_at(user_id, sid, jti, now_unix(), expires_at)
    }

    /// Signs refresh token `jti` as issued at `issued_at`: the same claims and
    /// key give the same token, so a token can be handed out again.
    pub fn issue_at(
        &self,
        user_id: &str,
        sid: &str,
        jti: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<String, IssueError> {
        self.sign(&RefreshClaims {
            iss: self.issuer.clone(),
            aud: self.issuer.clone(),
            sub: user_id.to_owned(),
            iat: issued_at,
            exp: expires_at,
            jti: jti.to_owned(),
            sid: sid.to_owned(),
        })
    }

    pub fn sign(&self, claims: &RefreshClaims) -> Result<String, IssueError> {
        self.codec.encode(claims)
    }

    pub fn verify(&self, token: &str) -> Result<RefreshClaims, VerifyError> {
        self.verify_on(token, Path::Fast)
    }

    /// [`verify`](Self::verify) through `jsonwebtoken` alone, without the fast
    /// path: for the differential fuzz target, not for services.
    #[doc(hidden)]
    pub fn verify_by_library(&self, token: &str) -> Result<RefreshClaims, VerifyError> {
        self.verify_on(token, Path::Library)
    }

    fn verify_on(&self, token: &str, path: Path) -> Result<RefreshClaims, VerifyError> {
        let claims: RefreshClaims = self.codec.decode(token, path)?;
        self.codec.printable([&claims.sub, &claims.sid, &claims.jti])?;
        Ok(claims)
    }

    /// The claims of a token whose one fault is that it has expired (every
    /// other check passes, the signature included): to log which session it was.
    pub fn expired_claims(&self, token: &str) -> Option<RefreshClaims> {
        self.expired_claims_on(token, Path::Fast)
    }

    /// [`expired_claims`](Self::expired_claims) through `jsonwebtoken` alone:
    /// for the differential fuzz target, not for services.
    #[doc(hidden)]
    pub fn expired_claims_by_library(&self, token: &str) -> Option<RefreshClaims> {
        self.expired_claims_on(token, Path::Library)
    }

    fn expired_claims_on(&self, token: &str, path: Path) -> Option<RefreshClaims> {
        let mut validation = self.codec.validation.clone();
        validation.validate_exp = false;
        let claims: RefreshClaims = self.codec.decode_checking(token, &validation, path).ok()?;
        self.codec.printable([&claims.sub, &claims.sid, &claims.jti]).ok()?;
        Some(claims)
    }
}

#[cfg(test)]
mod control_characters {
    #[test]
    fn agrees_with_char_is_control_on_every_code_point() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(super::has_control(&text), c.is_control(), "U+{:04X}", c as u32);
        }
    }
}

#[cfg(test)]
mod fast_path {
    //! Wherever the fast path decides, it decides as the full path does.

    use jsonwebtoken::EncodingKey;
    use serde_json::{Value, json};

    use super::*;
    use crate::Secret;

    const SECRET: &str = "fast-path-secret-0123456789-abcdefghijklmno";
    const OTHER: &str = "other-secret-0123456789-abcdefghijklmnopqrs";

    fn codec(kind: TokenKind) -> Codec {
        let keys = KeySet::single(&Secret::new(SECRET)).expect("long enough");
        let audience = if kind == TokenKind::Access { "posts" } else { "auth" };
        let required: &[&str] = if kind == TokenKind::Access {
            &["exp", "nbf", "iss", "aud", "sub"]
        } else {
            &["exp", "iss", "aud", "sub"]
        };
        Codec::new(kind, keys, "auth", audience, Duration::from_secs(5), required)
    }

    fn headers(kid: &str) -> Vec<String> {
        let mut all: Vec<String> = [
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "HS256", "typ": "rt+jwt", "kid": kid}),
            json!({"alg": "HS256", "typ": "rt+jwt", "kid": kid, "cty": null}),
            json!({"alg": "HS256", "typ": "at+jwt"}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "unknown"}),
            json!({"alg": "HS256", "typ": null, "kid": kid}),
            json!({"alg": "HS256", "kid": kid}),
            json!({"alg": "HS384", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            json!({"typ": "at+jwt", "kid": kid}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "cty": "JWT"}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "jku": "https://x"}),
            json!([1, 2]),
        ]
        .iter()
        .map(Value::to_string)
        .collect();
        // The headers this crate writes, byte for byte (the fast path's known headers).
        for typ in ["at+jwt", "rt+jwt"] {
            let mut written = Header::new(Algorithm::HS256);
            written.typ = Some(typ.to_owned());
            written.kid = Some(kid.to_owned());
            all.push(serde_json::to_string(&written).expect("a header"));
        }
        // An escaped `typ`, and a duplicated `kid`.
        all.push(format!(r#"{{"alg":"HS256","typ":"at\/jwt","kid":"{kid}"}}"#));
        all.push(format!(
            r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}","kid":"{kid}"}}"#
        ));
        all
    }

    fn claims(now: u64) -> Vec<Value> {
        let base = json!({"iss": "auth", "aud": "posts", "sub": "u", "name": "n", "iat": now,
            "nbf": now, "exp": now + 60, "jti": "j", "sid": "s"});
        let mut all = vec![base.clone()];
        let bends: Vec<(&str, Value)> = vec![
            ("exp", json!(now - 60)),
            ("exp", json!(now - 3)),
            ("exp", json!(1.5)),
            ("exp", json!("soon")),
            ("exp", Value::Null),
            ("nbf", json!(now + 60)),
            ("nbf", json!(now + 3)),
            ("nbf", Value::Null),
            ("nbf", json!(1.5)),
            ("iss", json!("someone")),
            ("iss", json!(["auth"])),
            ("aud", json!("auth")),
            ("aud", json!("posts")),
            ("aud", json!(["posts"])),
            ("aud", json!(7)),
            ("sub", json!(7)),
            ("name", json!(false)),
            ("iat", json!(-1)),
            ("jti", json!("a\u{0}b")),
            ("extra", json!({"deep": [1, 2, 3]})),
        ];
        for (name, value) in bends {
            let mut bent = base.clone();
            bent[name] = value;
            all.push(bent);
        }
        for name in ["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"] {
            let mut bent = base.clone();
            bent.as_object_mut().expect("an object").remove(name);
            all.push(bent.clone());
            // A missing claim together with an expiry: which reason wins is the full path's.
            bent["exp"] = json!(now - 60);
            all.push(bent);
        }
        all.push(json!("a string"));
        all
    }

    fn segment(json: &str) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, json)
    }

    fn sign(header: &str, claims: &Value, secret: &str) -> String {
        let message = format!("{}.{}", segment(header), segment(&claims.to_string()));
        let key = EncodingKey::from_secret(secret.as_bytes()).expect("a key");
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("signed");
        format!("{message}.{signature}")
    }

    #[test]
    fn agrees_with_the_full_path() {
        let now = jsonwebtoken::get_current_timestamp();
        let kid = key_id(&Secret::new(SECRET));
        let mut decided = 0;
        let mut compared = 0;
        for kind in [TokenKind::Access, TokenKind::Refresh] {
            let codec = codec(kind);
            for header in headers(&kid) {
                for claims in claims(now) {
                    let mut claims = claims;
                    if kind == TokenKind::Refresh && claims.get("aud") == Some(&json!("posts")) {
                        claims["aud"] = json!("auth");
                    }
                    for secret in [SECRET, OTHER] {
                        let token = sign(&header, &claims, secret);
                        let mut variants = vec![token.clone(), format!("{token}="), format!("{token}.x")];
                        variants.push(token.replacen('.', "..", 1));
                        for token in variants {
                            for validation in [codec.validation.clone(), without_exp(&codec.validation)] {
                                compared += 1;
                                decided += usize::from(check::<AccessClaims>(&codec, &token, &validation));
                                decided += usize::from(check::<RefreshClaims>(&codec, &token, &validation));
                            }
                        }
                    }
                }
            }
        }
        // The fast path must actually decide the common cases, not defer everything.
        assert!(decided > compared / 4, "the fast path decided {decided} of {compared}");
    }

    fn key_id(secret: &Secret) -> String {
        crate::key_id(secret).expect("a kid")
    }

    fn without_exp(validation: &Validation) -> Validation {
        let mut validation = validation.clone();
        validation.validate_exp = false;
        validation
    }

    /// Whether the fast path decided; panics if it decided otherwise than the full path.
    fn check<C: DeserializeOwned + FromClaims + PartialEq + fmt::Debug>(
        codec: &Codec,
        token: &str,
        validation: &Validation,
    ) -> bool {
        let rules = codec.rules(validation);
        let full = codec.decode_with::<C>(token, validation).map_err(|e| e.reason);
        match fast::decode::<C>(token, &rules) {
            Some(fast) => {
                assert_eq!(fast, full, "{token}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn issued_tokens_take_the_fast_path() {
        let codec = codec(TokenKind::Access);
        let tokens = AccessTokens {
            codec,
            issuer: "auth".into(),
            audience: "posts".into(),
        };
        let token = tokens.issue("u", "n", "s", Duration::from_secs(60)).expect("issued");
        let rules = tokens.codec.rules(&tokens.codec.validation);
        let header = token.split('.').next().expect("a header");
        assert!(tokens.codec.known_headers.iter().any(|(known, _)| known == header));
        let claims: AccessClaims = fast::decode(&token, &rules).expect("decided").expect("valid");
        assert_eq!((claims.sub.as_str(), claims.name.as_str()), ("u", "n"));
    }

    /// Expiry and not-before at their very edges, where `<` and `<=` part: each second checked
    /// on both paths within one tick of the clock (a tick in between runs the check again).
    #[test]
    fn both_paths_agree_at_the_edges_of_exp_and_nbf() {
        let codec = codec(TokenKind::Access);
        let kid = key_id(&Secret::new(SECRET));
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}).to_string();
        let leeway = codec.validation.leeway;
        let rules = codec.rules(&codec.validation);
        loop {
            let now = jsonwebtoken::get_current_timestamp();
            let base = json!({"iss": "auth", "aud": "posts", "sub": "u", "name": "n", "iat": now,
                "nbf": now, "exp": now + 60, "jti": "j", "sid": "s"});
            let mut outcomes = Vec::new();
            for (claim, value) in [
                ("exp", now - leeway - 1),
                ("exp", now - leeway),
                ("nbf", now + leeway),
                ("nbf", now + leeway + 1),
            ] {
                let mut claims = base.clone();
                claims[claim] = json!(value);
                let token = sign(&header, &claims, SECRET);
                let full = codec
                    .decode_with::<AccessClaims>(&token, &codec.validation)
                    .map_err(|e| e.reason);
                let fast = fast::decode::<AccessClaims>(&token, &rules);
                outcomes.push((claim, value, full.map(drop), fast.map(|fast| fast.map(drop))));
            }
            if jsonwebtoken::get_current_timestamp() != now {
                continue;
            }
            let expected = [
                Err(VerifyReason::Expired),
                Ok(()),
                Ok(()),
                Err(VerifyReason::NotYetValid),
            ];
            for ((claim, value, full, fast), expected) in outcomes.into_iter().zip(expected) {
                assert_eq!(full, expected, "the library path, {claim} {value}, now {now}");
                assert_eq!(fast, Some(expected), "the fast path, {claim} {value}, now {now}");
            }
            break;
        }
    }

    #[test]
    fn issued_refresh_tokens_take_the_fast_path() {
        let tokens = RefreshTokens {
            codec: codec(TokenKind::Refresh),
            issuer: "auth".into(),
        };
        let token = tokens
            .issue("u", "s", "j", jsonwebtoken::get_current_timestamp() + 60)
            .expect("issued");
        let rules = tokens.codec.rules(&tokens.codec.validation);
        let claims: RefreshClaims = fast::decode(&token, &rules).expect("decided").expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.jti.as_str()),
            ("u", "s", "j")
        );
    }
}
