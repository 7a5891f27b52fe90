//! Issuing and verifying tokens: one algorithm per kind (HS256, or EdDSA for access tokens),
//! every claim required, `typ` checked.

use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::VerifiedCache;
use crate::ended::{EndedSessions, FeedHealth};
use crate::fast::{self, FromClaims};
use crate::keys::{Key, KeySet, TokenAlgorithm};
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
    /// Its session has ended (logout, revocation): the issuer's feed said so.
    SessionEnded,
    /// It verified, but which sessions have ended is not known: the issuer's feed has been
    /// unreachable for longer than allowed (`SESSION_FEED_FAIL=closed`).
    SessionsUnknown,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct VerifyError {
    pub kind: TokenKind,
    pub reason: VerifyReason,
    /// The one algorithm the verifier accepts.
    pub algorithm: TokenAlgorithm,
}

impl VerifyError {
    fn sentence(&self) -> String {
        match &self.reason {
            VerifyReason::SessionEnded => {
                format!("the {} token's session has ended (logged out or revoked)", self.kind)
            }
            VerifyReason::SessionsUnknown => format!(
                "the {} token cannot be checked now: the auth server's list of ended sessions has been unreachable \
                 for too long; try again shortly",
                self.kind
            ),
            _ => format!("the {} token {}", self.kind, self.describe()),
        }
    }

    fn describe(&self) -> String {
        match &self.reason {
            VerifyReason::SessionEnded | VerifyReason::SessionsUnknown => String::new(),
            VerifyReason::Malformed => "is malformed".into(),
            VerifyReason::WrongAlgorithm => format!("is not signed with {}", self.algorithm),
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

/// A key set with what the fast path knows of it for one kind of token.
pub(crate) struct Keyed {
    pub(crate) set: KeySet,
    /// [`fast::known_headers`] of this kind and key set.
    pub(crate) known_headers: Vec<(String, usize)>,
    /// Which set this is, of those a followed verifier has had: verified tokens are
    /// remembered with it, and forgotten when the set changes.
    pub(crate) generation: u64,
}

impl Keyed {
    fn new(kind: TokenKind, set: KeySet, generation: u64) -> Self {
        Self {
            known_headers: fast::known_headers(kind, &set),
            set,
            generation,
        }
    }
}

/// A codec's keys: fixed at start, or replaced while it runs by a follower of the issuer's
/// published keys (EdDSA verifiers).
enum Keys {
    Fixed(Keyed),
    Followed(RwLock<Keyed>),
}

/// One kind of token: its `typ`, its keys and its validation rules, built once.
struct Codec {
    kind: TokenKind,
    algorithm: TokenAlgorithm,
    keys: Keys,
    issuer: String,
    audience: String,
    validation: Validation,
}

impl Codec {
    fn new(kind: TokenKind, keys: KeySet, issuer: &str, audience: &str, leeway: Duration, required: &[&str]) -> Self {
        let algorithm = keys.algorithm();
        Self::with_keys(
            kind,
            algorithm,
            Keys::Fixed(Keyed::new(kind, keys, 0)),
            issuer,
            audience,
            leeway,
            required,
        )
    }

    fn with_keys(
        kind: TokenKind,
        algorithm: TokenAlgorithm,
        keys: Keys,
        issuer: &str,
        audience: &str,
        leeway: Duration,
        required: &[&str],
    ) -> Self {
        let mut validation = Validation::new(algorithm.jose());
        validation.algorithms = vec![algorithm.jose()];
        // Bounded: a leeway beyond the current Unix time would underflow in the validation.
        validation.leeway = leeway.as_secs().min(MAX_LEEWAY_SECS);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(required);
        Self {
            kind,
            algorithm,
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation,
        }
    }

    /// The keys of a codec made with fixed keys.
    #[cfg(test)]
    fn fixed(&self) -> &Keyed {
        match &self.keys {
            Keys::Fixed(keyed) => keyed,
            Keys::Followed(_) => panic!("followed keys"),
        }
    }

    /// `f` of the keys as they are now.
    fn with<R>(&self, f: impl FnOnce(&Keyed) -> R) -> R {
        match &self.keys {
            Keys::Fixed(keyed) => f(keyed),
            Keys::Followed(current) => f(&current.read().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    fn error(&self, reason: VerifyReason) -> VerifyError {
        VerifyError {
            kind: self.kind,
            reason,
            algorithm: self.algorithm,
        }
    }

    fn encode<C: Serialize>(&self, claims: &C) -> Result<String, IssueError> {
        self.with(|keyed| {
            let key = keyed.set.signing().ok_or(IssueError(self.kind))?;
            let encoding = key.encoding.as_ref().ok_or(IssueError(self.kind))?;
            let mut header = Header::new(self.algorithm.jose());
            header.typ = Some(self.kind.typ().to_owned());
            header.kid = Some(key.kid.clone());
            jsonwebtoken::encode(&header, claims, encoding).map_err(|_| IssueError(self.kind))
        })
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

    /// What the fast path checks against: this codec with `keyed` under `validation`.
    fn rules<'a>(&'a self, keyed: &'a Keyed, validation: &Validation) -> fast::Rules<'a> {
        fast::Rules {
            kind: self.kind,
            algorithm: self.algorithm,
            keys: &keyed.set,
            known_headers: &keyed.known_headers,
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
        self.with(|keyed| self.decode_keyed(keyed, token, validation, path))
    }

    /// [`decode_checking`](Self::decode_checking) with the keys `keyed`.
    fn decode_keyed<C: DeserializeOwned + FromClaims>(
        &self,
        keyed: &Keyed,
        token: &str,
        validation: &Validation,
        path: Path,
    ) -> Result<C, VerifyError> {
        let fast = match path {
            Path::Fast => fast::decode(token, &self.rules(keyed, validation)),
            Path::Library => None,
        };
        match fast {
            Some(outcome) => outcome.map_err(|reason| self.error(reason)),
            None => self.decode_with(&keyed.set, token, validation),
        }
    }

    fn decode_with<C: DeserializeOwned>(
        &self,
        keys: &KeySet,
        token: &str,
        validation: &Validation,
    ) -> Result<C, VerifyError> {
        // A header that does not parse (including `alg: none`, which is no
        // algorithm jsonwebtoken knows, and anything but a JSON object) makes
        // the whole token malformed.
        let header = jsonwebtoken::decode_header(token).map_err(|_| self.error(VerifyReason::Malformed))?;
        let key = header_key(self.kind, self.algorithm, keys, &header).map_err(|reason| self.error(reason))?;
        jsonwebtoken::decode::<C>(token, &key.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| self.error(reason_of(e.kind())))
    }
}

/// The key a parsed header names, or why the token is refused, checked in
/// this order: the codec's one algorithm, the kind's `typ`, no key-locating header, a known
/// `kid`. Both paths judge a header with it.
pub(crate) fn header_key<'k>(
    kind: TokenKind,
    algorithm: TokenAlgorithm,
    keys: &'k KeySet,
    header: &Header,
) -> Result<&'k Key, VerifyReason> {
    if header.alg != algorithm.jose() {
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
/// the algorithm (the header was checked to name the codec's first), nor report a missing claim (the
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
    /// EdDSA tokens already verified (an Ed25519 verification costs ten HMACs); `None` for
    /// HS256 or when turned off.
    cache: Option<VerifiedCache>,
    /// Told when a token names a `kid` a followed verifier does not know.
    unknown_kid: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Sessions that have ended: their tokens are refused.
    ended: EndedSessions,
    /// How current [`Self::ended`] is, where a follower keeps it (fail-closed verifiers refuse
    /// every token once it is too old).
    feed: OnceLock<Arc<FeedHealth>>,
}

impl fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.codec.with(|keyed| {
            f.debug_struct("AccessTokens")
                .field("keys", &keyed.set)
                .finish_non_exhaustive()
        })
    }
}

/// The claims an access token must carry, besides those its struct requires.
const ACCESS_REQUIRED: [&str; 5] = ["exp", "nbf", "iss", "aud", "sub"];

/// How many verified EdDSA tokens are remembered unless said otherwise.
pub const DEFAULT_VERIFIED_CACHE: usize = 10_000;

impl AccessTokens {
    /// Issues and verifies with `keys`, fixed for the life of this value. With EdDSA keys, up
    /// to [`DEFAULT_VERIFIED_CACHE`] verified tokens are remembered
    /// ([`with_verified_cache`](Self::with_verified_cache)).
    pub fn new(keys: KeySet, settings: &TokenSettings) -> Self {
        let algorithm = keys.algorithm();
        let codec = Codec::new(
            TokenKind::Access,
            keys,
            &settings.issuer,
            &settings.audience,
            settings.leeway,
            &ACCESS_REQUIRED,
        );
        Self::from_codec(codec, algorithm, settings)
    }

    /// A verifier of EdDSA tokens whose keys come from the issuer's published set, given
    /// (and replaced) with [`replace_keys`](Self::replace_keys); until then it knows no key
    /// and refuses every token. It cannot issue.
    pub fn following(settings: &TokenSettings) -> Self {
        let algorithm = TokenAlgorithm::EdDsa;
        let empty = Keyed::new(
            TokenKind::Access,
            KeySet::ed25519_public(Vec::new()).unwrap_or_else(|_| unreachable!("an empty set")),
            0,
        );
        let codec = Codec::with_keys(
            TokenKind::Access,
            algorithm,
            Keys::Followed(RwLock::new(empty)),
            &settings.issuer,
            &settings.audience,
            settings.leeway,
            &ACCESS_REQUIRED,
        );
        Self::from_codec(codec, algorithm, settings)
    }

    fn from_codec(codec: Codec, algorithm: TokenAlgorithm, settings: &TokenSettings) -> Self {
        Self {
            codec,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            cache: match algorithm {
                TokenAlgorithm::EdDsa => VerifiedCache::new(DEFAULT_VERIFIED_CACHE),
                TokenAlgorithm::Hs256 => None,
            },
            unknown_kid: OnceLock::new(),
            ended: EndedSessions::default(),
            feed: OnceLock::new(),
        }
    }

    /// The sessions that have ended, whose tokens this verifier refuses (`403`, the session
    /// has ended) however valid they are otherwise. A follower of the issuer's feed fills it
    /// ([`crate::follow::SessionFollower`]); anyone may.
    pub fn ended(&self) -> &EndedSessions {
        &self.ended
    }

    /// Says how current [`Self::ended`] is: a fail-closed `health` makes every token refused
    /// while the feed lags too far. One health; a second call is ignored.
    pub fn follow_health(&self, health: Arc<FeedHealth>) {
        let _ = self.feed.set(health);
    }

    /// The checks after the signature and the claims: the session has not ended, and (for a
    /// fail-closed verifier) the list of ended sessions is current enough to say so.
    fn still_live(&self, claims: AccessClaims) -> Result<AccessClaims, VerifyError> {
        let reason = if self.ended.contains(&claims.sid) {
            VerifyReason::SessionEnded
        } else if self.feed.get().is_some_and(|health| health.refuses()) {
            VerifyReason::SessionsUnknown
        } else {
            return Ok(claims);
        };
        Err(self.codec.error(reason))
    }

    /// Remembers up to `entries` verified EdDSA tokens (0: none), each until it expires or the
    /// key set changes; a token is found only by its whole text. HS256 verifiers remember
    /// none: an HMAC costs less than the lookup would save.
    pub fn with_verified_cache(mut self, entries: usize) -> Self {
        if self.codec.algorithm == TokenAlgorithm::EdDsa {
            self.cache = VerifiedCache::new(entries);
        }
        self
    }

    /// The algorithm tokens are signed with.
    pub fn algorithm(&self) -> TokenAlgorithm {
        self.codec.algorithm
    }

    /// Replaces a followed verifier's keys with `keys` (public Ed25519 keys, from the issuer's
    /// JWK Set); tokens verified with the former set are verified again. Refused for a
    /// verifier with fixed keys, or keys of another algorithm.
    pub fn replace_keys(&self, keys: KeySet) -> Result<(), String> {
        let Keys::Followed(current) = &self.codec.keys else {
            return Err("this verifier's keys are fixed".into());
        };
        if keys.algorithm() != self.codec.algorithm {
            return Err(format!(
                "{} keys for a verifier of {} tokens",
                keys.algorithm(),
                self.codec.algorithm
            ));
        }
        let mut next = Keyed::new(TokenKind::Access, keys, 0);
        let mut current = current.write().unwrap_or_else(PoisonError::into_inner);
        // Numbered anew, so that what was verified with another set is verified again.
        next.generation = current.generation + 1;
        *current = next;
        Ok(())
    }

    /// The `kid`s of the keys that verify now.
    pub fn kids(&self) -> Vec<String> {
        self.codec
            .with(|keyed| keyed.set.kids().into_iter().map(str::to_owned).collect())
    }

    /// Whether any key verifies: a followed verifier that has not fetched its keys yet has none.
    pub fn has_keys(&self) -> bool {
        self.codec.with(|keyed| !keyed.set.is_empty())
    }

    /// The RFC 7517 JWK Set of the public keys (`{"keys":[]}` for HS256).
    pub fn jwks(&self) -> String {
        self.codec.with(|keyed| keyed.set.jwks())
    }

    /// Calls `wake` (once per token) when a token names a `kid` this followed verifier does
    /// not know: its follower then fetches the keys again, at most so often. One callback;
    /// a second call is ignored.
    pub fn on_unknown_kid(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.unknown_kid.set(Box::new(wake));
    }

    /// How many verified tokens are remembered now.
    pub fn verified_cache_len(&self) -> usize {
        self.cache.as_ref().map_or(0, VerifiedCache::len)
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

    /// Verifies `token`: its signature (or a verified-token cache hit), every claim, and that
    /// its session has not ended.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.verify_signed(token).and_then(|claims| self.still_live(claims))
    }

    fn verify_signed(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.codec.with(|keyed| {
            let Some(cache) = &self.cache else {
                return self.verify_keyed(keyed, token, Path::Fast);
            };
            // Expired by the same rule as the full check: `exp` before now less the leeway.
            let now = jsonwebtoken::get_current_timestamp();
            let live_from = now.saturating_sub(self.codec.validation.leeway);
            if let Some(claims) = cache.get(token, keyed.generation, live_from) {
                return Ok(claims);
            }
            let claims = self.verify_keyed(keyed, token, Path::Fast)?;
            cache.insert(token, &claims, keyed.generation, live_from);
            Ok(claims)
        })
    }

    /// [`verify`](Self::verify) through `jsonwebtoken` alone, without the fast
    /// path or the cache: for the differential fuzz target, not for services.
    #[doc(hidden)]
    pub fn verify_by_library(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.codec
            .with(|keyed| self.verify_keyed(keyed, token, Path::Library))
            .and_then(|claims| self.still_live(claims))
    }

    fn verify_keyed(&self, keyed: &Keyed, token: &str, path: Path) -> Result<AccessClaims, VerifyError> {
        let validation = &self.codec.validation;
        let claims: AccessClaims = self
            .codec
            .decode_keyed(keyed, token, validation, path)
            .inspect_err(|e| {
                if e.reason == VerifyReason::UnknownKey
                    && let Some(wake) = self.unknown_kid.get()
                {
                    wake();
                }
            })?;
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
        self.codec.with(|keyed| {
            f.debug_struct("RefreshTokens")
                .field("keys", &keyed.set)
                .finish_non_exhaustive()
        })
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
            let mut written = Header::new(jsonwebtoken::Algorithm::HS256);
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
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("signed");
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
        let rules = codec.rules(codec.fixed(), validation);
        let full = codec
            .decode_with::<C>(&codec.fixed().set, token, validation)
            .map_err(|e| e.reason);
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
            cache: None,
            unknown_kid: OnceLock::new(),
            ended: EndedSessions::default(),
            feed: OnceLock::new(),
        };
        let token = tokens.issue("u", "n", "s", Duration::from_secs(60)).expect("issued");
        let rules = tokens.codec.rules(tokens.codec.fixed(), &tokens.codec.validation);
        let header = token.split('.').next().expect("a header");
        assert!(
            tokens
                .codec
                .fixed()
                .known_headers
                .iter()
                .any(|(known, _)| known == header)
        );
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
        let rules = codec.rules(codec.fixed(), &codec.validation);
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
                    .decode_with::<AccessClaims>(&codec.fixed().set, &token, &codec.validation)
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
        let rules = tokens.codec.rules(tokens.codec.fixed(), &tokens.codec.validation);
        let claims: RefreshClaims = fast::decode(&token, &rules).expect("decided").expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.jti.as_str()),
            ("u", "s", "j")
        );
    }
}
