//! The axum extractor that turns `Authorization: Bearer …` into verified `AccessClaims`.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::{AccessClaims, AccessTokens, VerifyError, VerifyReason};

/// `Retry-After` (seconds) of a token that could not be checked against the ended sessions.
const RETRY_UNCHECKED: &str = "5";

/// The caller, proven by a valid access token. Missing or malformed
/// `Authorization` gets `401`; a token that fails verification gets `403`;
/// both with `WWW-Authenticate: Bearer error="…"` and the JSON error body.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Arc<AccessTokens>: FromRef<S>,
{
    type Rejection = Rejection;

    // At `debug`, like the only lines logged in it: at the default `info` a span per request
    // that no line shows would cost every request a span's creation, entries and closing.
    #[tracing::instrument(name = "authenticate", level = "debug", skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).map_err(|err| {
            tracing::debug!(reason = %err, "no usable Authorization header");
            Rejection::Header(err)
        })?;
        let tokens = Arc::<AccessTokens>::from_ref(state);
        let claims = tokens.verify(token).map_err(|err| {
            tracing::debug!(reason = ?err.reason, "access token refused");
            Rejection::Token(err)
        })?;
        Ok(Self(claims))
    }
}

/// Why [`Authenticated`] refused a request, answered as RFC 6750 says: `401` with
/// `invalid_request` when there is no usable `Authorization: Bearer` header, `403` with
/// `invalid_token` when the token fails verification. The body is
/// `{"error": code, "message": text}` and `WWW-Authenticate` names the same code; the message
/// says what was wrong, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Header(AuthHeaderError),
    #[error("{0}")]
    Token(VerifyError),
}

impl Rejection {
    /// Whether the token itself is not at fault: it could not be checked against the ended
    /// sessions (a fail-closed verifier whose feed is too far behind).
    fn unchecked(&self) -> bool {
        matches!(self, Self::Token(err) if err.reason == VerifyReason::SessionsUnknown)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Header(_) => StatusCode::UNAUTHORIZED,
            _ if self.unchecked() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Token(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The RFC 6750 error code, also the body's `error` (`unavailable` for a `503`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Header(_) => "invalid_request",
            _ if self.unchecked() => "unavailable",
            Self::Token(_) => "invalid_token",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let code = self.code();
        let mut response = (
            self.status(),
            axum::Json(ErrorBody {
                error: code,
                message: &message,
            }),
        )
            .into_response();
        if self.unchecked() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_UNCHECKED));
        } else if let Some(value) = bearer_challenge(code, &message) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The JSON error body: `{"error": code, "message": text}`.
#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: &'a str,
}

/// A `WWW-Authenticate` value (RFC 6750 §3): `Bearer error="code", error_description="…"`.
/// Characters a quoted string cannot hold (quotes, backslashes, controls, non-ASCII) are
/// dropped from the description.
pub fn bearer_challenge(code: &str, description: &str) -> Option<HeaderValue> {
    let description: String = description
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect();
    HeaderValue::from_str(&format!(r#"Bearer error="{code}", error_description="{description}""#)).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthHeaderError {
    #[error("the Authorization header is missing; send `Authorization: Bearer <access token>`")]
    Missing,
    #[error("more than one Authorization header was sent")]
    Repeated,
    #[error("the Authorization header must be `Bearer <access token>`")]
    Malformed,
}

/// The token of the one `Authorization: Bearer <token>` header, as RFC 6750
/// §2.1 defines it: `"Bearer" 1*SP b64token`, that is the scheme
/// (case-insensitive), one or more spaces (never a tab) and a token68 value.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthHeaderError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthHeaderError::Missing)?;
    if values.next().is_some() {
        return Err(AuthHeaderError::Repeated);
    }
    // One pass over the bytes: a token68 is ASCII, so checking it checks the whole value (the
    // scheme is compared, the spaces skipped); no separate pass for `HeaderValue::to_str`.
    let value = value.as_bytes();
    let space = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or(AuthHeaderError::Malformed)?;
    let (scheme, rest) = value.split_at(space);
    let token = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    if !scheme.eq_ignore_ascii_case(b"bearer") || !is_token68(token) {
        return Err(AuthHeaderError::Malformed);
    }
    std::str::from_utf8(token).map_err(|_| AuthHeaderError::Malformed)
}

fn is_token68(value: &[u8]) -> bool {
    let body_len = value.len() - value.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &value[..body_len];
    // A table lookup per byte and no early exit: a few instructions a byte over a token of some
    // hundreds, where the comparisons cost several times that.
    !body.is_empty() && body.iter().fold(true, |all, &b| all & TOKEN68[usize::from(b)])
}

/// The bytes of a token68 before its `=` padding: letters, digits and `-._~+/`.
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(v).expect("valid header"));
        }
        map
    }

    #[test]
    fn takes_one_bearer_token() {
        assert_eq!(bearer_token(&headers(&["Bearer abc.def.ghi"])), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(&headers(&["bearer abc.def.ghi"])), Ok("abc.def.ghi"));
    }

    #[test]
    fn takes_one_or_more_spaces_after_the_scheme() {
        assert_eq!(bearer_token(&headers(&["Bearer  abc.def.ghi"])), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(&headers(&["Bearer     abc.def.ghi"])), Ok("abc.def.ghi"));
    }

    #[test]
    fn refuses_everything_else() {
        use AuthHeaderError::*;
        let cases: &[(&[&str], AuthHeaderError)] = &[
            (&[], Missing),
            (&["abc.def.ghi"], Malformed),
            (&["Basic dXNlcjpwYXNz"], Malformed),
            (&["Bearer"], Malformed),
            (&["Bearer "], Malformed),
            (&["Bearer  "], Malformed),
            (&["Bearer\tabc.def.ghi"], Malformed),
            (&["Bearer \tabc.def.ghi"], Malformed),
            (&["Bearer\t abc.def.ghi"], Malformed),
            (&["Bearer abc.def.ghi "], Malformed),
            (&["Bearer abc def"], Malformed),
            (&["Bearer a.b.c", "Bearer d.e.f"], Repeated),
        ];
        for (values, expected) in cases {
            assert_eq!(bearer_token(&headers(values)), Err(*expected), "{values:?}");
        }
    }

    /// The header check as it was written before it became one pass over the bytes: the value as
    /// text, split at the first space, the spaces after it skipped.
    fn reference(value: &HeaderValue) -> Result<&str, AuthHeaderError> {
        let value = value.to_str().map_err(|_| AuthHeaderError::Malformed)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthHeaderError::Malformed)?;
        let token = token.trim_start_matches(' ');
        let body = token.trim_end_matches('=');
        let token68 = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
        if !scheme.eq_ignore_ascii_case("bearer") || !token68 {
            return Err(AuthHeaderError::Malformed);
        }
        Ok(token)
    }

    /// Every value of up to six pieces from an alphabet of the bytes that matter gets the
    /// reference's answer.
    #[test]
    fn answers_as_the_reference_for_every_short_value() {
        let pieces: [&[u8]; 10] = [
            b"Bearer", b"bEARER", b" ", b"\t", b"=", b"a", b".", b"\xff", b"\x7f", b"Basic",
        ];
        let mut values: Vec<Vec<u8>> = vec![Vec::new()];
        let mut checked = 0;
        for _ in 0..6 {
            let mut longer = Vec::new();
            for value in &values {
                for piece in pieces {
                    let mut next = value.clone();
                    next.extend_from_slice(piece);
                    if let Ok(header) = HeaderValue::from_bytes(&next) {
                        let mut map = HeaderMap::new();
                        map.insert(header::AUTHORIZATION, header.clone());
                        assert_eq!(bearer_token(&map), reference(&header), "{next:?}");
                        checked += 1;
                    }
                    longer.push(next);
                }
            }
            values = longer;
        }
        assert!(checked > 500_000, "{checked}");
    }

    #[test]
    fn refuses_non_ascii_bytes() {
        let mut map = HeaderMap::new();
        map.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xffabc").expect("opaque bytes are a valid header"),
        );
        assert_eq!(bearer_token(&map), Err(AuthHeaderError::Malformed));
    }
}
