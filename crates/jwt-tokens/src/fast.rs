//! The verifier's fast path, for the token shapes this crate issues. It keeps
//! only what the benchmark needs: a header segment this crate wrote is known by
//! its bytes (no decoding, no parsing), the signature is checked with the key's
//! precomputed HMAC state, and the claims, when they are a JSON object, are
//! parsed once and validated here with the same rules and in the same order as
//! `jsonwebtoken::decode`. Any other header is parsed by `jsonwebtoken` and
//! checked by the full path's own rules (`codec::header_key`); anything else
//! (claims that are not an object or not of our shape, bad base64, a header
//! parameter jsonwebtoken checks itself) returns `None` and is left to the full
//! `jsonwebtoken` path, so every refusal keeps the reason it had before.
//!
//! Verifying an access token through `jsonwebtoken` alone parses its header
//! twice and its claims twice and keys a new HMAC each time; this path does
//! none of that for an issued token (see `bench/README.md` for the figures).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Verifier as _;
use hmac::Mac as _;
use serde::Deserialize;

use crate::codec::{self, TokenKind, VerifyReason};
use crate::keys::{KeySet, TokenAlgorithm, Verifier};
use crate::{AccessClaims, RefreshClaims};

/// Every claim either kind of token carries, each optional: which ones a kind
/// needs is [`FromClaims`]'s business.
#[derive(Deserialize)]
pub(crate) struct Claims<'a> {
    #[serde(borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    aud: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sub: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    iat: Option<u64>,
    /// Absent (`None`) is not the same as `null` (`Some(None)`): jsonwebtoken
    /// refuses a `null` `nbf` even where `nbf` is not required.
    #[serde(default, deserialize_with = "present")]
    nbf: Option<Option<u64>>,
    exp: Option<u64>,
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sid: Option<Cow<'a, str>>,
}

/// A claim that is there, `null` or not.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(value: D) -> Result<Option<T>, D::Error> {
    T::deserialize(value).map(Some)
}

/// A kind's claims, built from [`Claims`] when every one it needs is there.
pub(crate) trait FromClaims: Sized {
    fn from_claims(claims: Claims<'_>) -> Option<Self>;
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

impl FromClaims for AccessClaims {
    fn from_claims(c: Claims<'_>) -> Option<Self> {
        Some(Self {
            iss: owned(c.iss)?,
            aud: owned(c.aud)?,
            sub: owned(c.sub)?,
            name: owned(c.name)?,
            iat: c.iat?,
            nbf: c.nbf.flatten()?,
            exp: c.exp?,
            jti: owned(c.jti)?,
            sid: owned(c.sid)?,
        })
    }
}

impl FromClaims for RefreshClaims {
    fn from_claims(c: Claims<'_>) -> Option<Self> {
        Some(Self {
            iss: owned(c.iss)?,
            aud: owned(c.aud)?,
            sub: owned(c.sub)?,
            iat: c.iat?,
            exp: c.exp?,
            jti: owned(c.jti)?,
            sid: owned(c.sid)?,
        })
    }
}

/// The header segments this crate writes for a kind, base64url-encoded as
/// they appear in a token, each with the index of its key in the key set: a
/// token that starts with one needs no header decoding or parsing.
pub(crate) fn known_headers(kind: TokenKind, keys: &KeySet) -> Vec<(String, usize)> {
    keys.all()
        .iter()
        .enumerate()
        .filter_map(|(index, key)| {
            let mut header = jsonwebtoken::Header::new(keys.algorithm().jose());
            header.typ = Some(kind.typ().to_owned());
            header.kid = Some(key.kid.clone());
            let json = serde_json::to_vec(&header).ok()?;
            Some((URL_SAFE_NO_PAD.encode(json), index))
        })
        .collect()
}

/// What the fast path checks a token against.
pub(crate) struct Rules<'a> {
    pub kind: TokenKind,
    /// The one algorithm accepted.
    pub algorithm: TokenAlgorithm,
    pub keys: &'a KeySet,
    /// [`known_headers`] of this kind and key set.
    pub known_headers: &'a [(String, usize)],
    pub issuer: &'a str,
    pub audience: &'a str,
    pub leeway: u64,
    pub validate_exp: bool,
    /// `nbf` is required (every other claim jsonwebtoken can require, both kinds need).
    pub requires_nbf: bool,
}

/// What RFC 8259 §2 allows around a JSON value.
const JSON_WHITESPACE: &[u8] = b" \t\n\r";

/// The largest token part decoded on the stack; longer ones take the full path.
const PART_MAX: usize = 1024;

/// `Some` outcome when this path can tell it exactly; `None` to take the full path.
pub(crate) fn decode<C: FromClaims>(token: &str, rules: &Rules<'_>) -> Option<Result<C, VerifyReason>> {
    let mut parts = token.splitn(4, '.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let mut buffer = [0u8; PART_MAX];
    let key = match rules.known_headers.iter().find(|(known, _)| known == header) {
        Some(&(_, index)) => rules.keys.all().get(index)?,
        None => {
            // Read by jsonwebtoken, checked by the full path's rules. A parameter
            // it keeps in `extras` (`b64`, or one it does not know) is its to judge.
            let header = jsonwebtoken::decode_header(token).ok()?;
            if !header.extras.inner().is_empty() {
                return None;
            }
            match codec::header_key(rules.kind, rules.algorithm, rules.keys, &header) {
                Ok(key) => key,
                Err(reason) => return Some(Err(reason)),
            }
        }
    };
    let mut signature_bytes = [0u8; 64];
    let written = URL_SAFE_NO_PAD.decode_slice(signature, &mut signature_bytes).ok()?;
    let signed = &token.as_bytes()[..header_and_payload_len(token, signature)];
    let valid = match &key.verifier {
        Verifier::Hmac(mac) => {
            let mut mac = mac.clone();
            mac.update(signed);
            mac.verify_slice(&signature_bytes[..written]).is_ok()
        }
        // As jsonwebtoken checks it: a signature of any other length is invalid.
        Verifier::Ed25519(public) => ed25519_dalek::Signature::from_slice(&signature_bytes[..written])
            .is_ok_and(|sig| public.verify(signed, &sig).is_ok()),
    };
    if !valid {
        return Some(Err(VerifyReason::BadSignature));
    }
    let json = decoded(payload, &mut buffer)?;
    // RFC 7519 §7.2: the claims are a JSON object. Serde's derived deserializer
    // would also read an array as the fields in order; jsonwebtoken refuses one.
    if json.iter().find(|b| !JSON_WHITESPACE.contains(b)) != Some(&b'{') {
        return None;
    }
    let claims: Claims<'_> = serde_json::from_slice(json).ok()?;
    let now = jsonwebtoken::get_current_timestamp();
    let exp = claims.exp;
    let nbf = match claims.nbf {
        Some(None) => return None,
        present => present.flatten(),
    };
    let iss_ok = claims.iss.as_deref() == Some(rules.issuer);
    let aud_ok = claims.aud.as_deref() == Some(rules.audience);
    // As jsonwebtoken does: the claims must make a whole token of this kind
    // (a missing or mistyped one has a reason of its own, which the full path
    // gives), then expiry, not-before, issuer and audience, in that order.
    let claims = C::from_claims(claims)?;
    if rules.requires_nbf && nbf.is_none() {
        return None;
    }
    if rules.validate_exp && exp.is_some_and(|exp| exp < now.saturating_sub(rules.leeway)) {
        return Some(Err(VerifyReason::Expired));
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(rules.leeway)) {
        return Some(Err(VerifyReason::NotYetValid));
    }
    if !iss_ok {
        return Some(Err(VerifyReason::WrongIssuer));
    }
    if !aud_ok {
        return Some(Err(VerifyReason::WrongAudience));
    }
    Some(Ok(claims))
}

/// The signed part's length: everything before the last `.`.
fn header_and_payload_len(token: &str, signature: &str) -> usize {
    token.len() - signature.len() - 1
}

/// `part` base64url-decoded (no padding) into `buffer`; `None` if it does not fit.
fn decoded<'b>(part: &str, buffer: &'b mut [u8; PART_MAX]) -> Option<&'b [u8]> {
    let written = URL_SAFE_NO_PAD.decode_slice(part, buffer).ok()?;
    Some(&buffer[..written])
}
