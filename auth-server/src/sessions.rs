//! Sessions: starting one at login, rotating its refresh token, ending it.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use service_kit::{ApiError, AppJson};

use crate::AppState;
use crate::cookie::{CookiePolicy, WithCookies};
use crate::metrics::{self, Revocation};
use crate::store::{NewSession, Rotation, Spend};

/// The tokens response of `/login` and `/token`, with the tutorial's field names. It is
/// answered with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1), so no
/// cache keeps the tokens, and its `Debug` never prints them.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// A JWT (`typ` `at+jwt`) for `Authorization: Bearer` on the posts server.
    pub access_token: String,
    /// A JWT (`typ` `rt+jwt`) for `POST /token` and `DELETE /logout`; spent by `POST /token`.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// When the session ends (Unix seconds): how long a refresh cookie lives. Not sent.
    #[serde(skip)]
    pub session_ends_at: u64,
}

/// The tokens response of `/login` and `/token` in cookie delivery: the refresh token is in
/// the `refresh_token` cookies, never in the body.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    /// A JWT (`typ` `at+jwt`) for `Authorization: Bearer` on the posts server.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    #[schema(example = 900)]
    pub expires_in: u64,
}

/// What `/login` and `/token` answer: the pair in the body (`"delivery": "body"`, the
/// default), or the access token in the body and the refresh token in cookies.
/// (Only the OpenAPI document names it: the handlers answer with its variants.)
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Tokens {
    Body(TokenPair),
    Cookie(AccessToken),
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl IntoResponse for AccessToken {
    fn into_response(self) -> Response {
        (never_stored(), AppJson(self)).into_response()
    }
}

fn never_stored() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

impl TokenPair {
    /// The answer of cookie delivery to `request`: the access token in the body, the refresh
    /// token in both cookies, which live as long as the session.
    pub fn in_cookies(
        self,
        state: &AppState,
        cookies: &CookiePolicy,
        request: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let now = u64::try_from(state.clock.now_ms() / 1000).unwrap_or_default();
        let max_age = self.session_ends_at.saturating_sub(now);
        let set = cookies.set(request, &self.refresh_token, max_age)?;
        let body = AccessToken {
            access_token: self.access_token,
            token_type: self.token_type,
            expires_in: self.expires_in,
        };
        Ok(WithCookies(set, body).into_response())
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl IntoResponse for TokenPair {
    fn into_response(self) -> Response {
        (never_stored(), AppJson(self)).into_response()
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn secs(value: Duration) -> i64 {
    i64::try_from(value.as_secs()).unwrap_or(i64::MAX)
}

/// When an access token issued now is issued and when it expires (Unix seconds, this
/// instance's clock; the session's end may cut it shorter). The store records the `exp`
/// before the token exists, so that the ended-session log can say how long it may live.
fn access_times(state: &AppState) -> (u64, u64) {
    let now = u64::try_from(state.clock.now_ms() / 1000).unwrap_or_default();
    (now, now.saturating_add(state.settings.access_ttl.as_secs()))
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The longest user agent kept with a session.
pub const USER_AGENT_MAX: usize = 100;

/// The request's `User-Agent` as a session keeps it: printable ASCII only (anything else is
/// dropped, so nothing a client sends can make `GET /sessions` or a log line misleading),
/// trimmed, at most [`USER_AGENT_MAX`] characters; `None` if nothing is left.
pub fn short_user_agent(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::USER_AGENT)?;
    let printable: String = value
        .as_bytes()
        .iter()
        .filter(|b| (b' '..=b'~').contains(*b))
        .map(|&b| char::from(b))
        .take(USER_AGENT_MAX)
        .collect();
    let trimmed = printable.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Starts a session for a user who just proved their password, from a client that called
/// itself `user_agent` (see [`short_user_agent`]).
pub async fn start(
    state: &AppState,
    user_id: &str,
    username: &str,
    user_agent: Option<String>,
) -> Result<TokenPair, ApiError> {
    let access = access_times(state);
    let session = NewSession {
        id: new_id(),
        user_id: user_id.to_owned(),
        jti: new_id(),
        ttl_s: secs(state.settings.refresh_ttl),
        access_until: signed(access.1),
        user_agent,
    };
    let (created_at_ms, expires_at) = state.store.create_session(&session).await?;
    tracing::info!(session = %session.id, user = %user_id, "session started");
    let refresh = Refresh {
        sid: &session.id,
        jti: &session.jti,
        issued_at_ms: created_at_ms,
        expires_at,
    };
    pair(state, user_id, username, &refresh, access)
}

/// Spends a verified refresh token and returns the session's next pair.
pub async fn rotate(state: &AppState, user_id: &str, sid: &str, jti: &str) -> Result<TokenPair, ApiError> {
    let next_jti = new_id();
    let access = access_times(state);
    let spend = Spend {
        sid,
        user_id,
        jti,
        next_jti: &next_jti,
        grace_ms: i64::try_from(state.settings.reuse_grace.as_millis()).unwrap_or(i64::MAX),
        access_until: signed(access.1),
    };
    match state.store.rotate(spend).await? {
        Rotation::Rotated {
            username,
            expires_at,
            rotated_at_ms,
        } => {
            metrics::refresh(metrics::Refresh::Rotated);
            let refresh = Refresh {
                sid,
                jti: &next_jti,
                issued_at_ms: rotated_at_ms,
                expires_at,
            };
            pair(state, user_id, &username, &refresh, access)
        }
        Rotation::Grace {
            username,
            expires_at,
            current_jti,
            rotated_at_ms,
            spent_ms_ago,
        } => {
            metrics::refresh(metrics::Refresh::Grace);
            tracing::info!(
                session = %sid,
                user = %user_id,
                "a refresh token spent {spent_ms_ago} ms ago was presented again within the grace period: \
                 current pair returned"
            );
            let refresh = Refresh {
                sid,
                jti: &current_jti,
                issued_at_ms: rotated_at_ms,
                expires_at,
            };
            pair(state, user_id, &username, &refresh, access)
        }
        Rotation::Reused => {
            metrics::refresh(metrics::Refresh::ReuseDetected);
            metrics::sessions_revoked(Revocation::Reuse, 1);
            state.feed.poke();
            tracing::warn!(
                session = %sid,
                user = %user_id,
                "refresh token reused after its grace period: possible theft, session revoked"
            );
            Err(refused(
                "the refresh token was already used; the session has been revoked",
            ))
        }
        Rotation::Ended => {
            tracing::debug!(session = %sid, user = %user_id, "refresh token of an ended session");
            Err(refused("the session has ended (logged out, revoked or expired)"))
        }
    }
}

/// `403` for a refresh token that verified but cannot be spent.
pub fn refused(message: &'static str) -> ApiError {
    ApiError::new(crate::error::AuthError::InvalidGrant, message)
}

/// The refresh token of a pair: which one, and when it was made current (by the database's
/// clock, so that the grace window hands out the very same token again).
struct Refresh<'a> {
    sid: &'a str,
    jti: &'a str,
    issued_at_ms: i64,
    /// Unix seconds: when the session ends.
    expires_at: i64,
}

/// The pair for `refresh`'s session. The access token is issued and ends at `access` (this
/// instance's clock, as recorded in the store) and ends no later than the session does.
fn pair(
    state: &AppState,
    user_id: &str,
    username: &str,
    refresh: &Refresh<'_>,
    access: (u64, u64),
) -> Result<TokenPair, ApiError> {
    let seconds = |value: i64| u64::try_from(value).unwrap_or_default();
    let (now, exp) = access;
    let exp = exp.min(seconds(refresh.expires_at));
    let access_token = state
        .access
        .issue_at(user_id, username, refresh.sid, now, exp)
        .map_err(ApiError::internal)?;
    let refresh_token = state
        .refresh
        .issue_at(
            user_id,
            refresh.sid,
            refresh.jti,
            seconds(refresh.issued_at_ms / 1000),
            seconds(refresh.expires_at),
        )
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: exp.saturating_sub(now),
        session_ends_at: seconds(refresh.expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(value: &[u8]) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(value).expect("a header value"),
        );
        short_user_agent(&headers)
    }

    #[test]
    fn user_agents_are_kept_short_and_printable() {
        assert_eq!(short_user_agent(&HeaderMap::new()), None);
        assert_eq!(agent(b"curl/8.5.0").as_deref(), Some("curl/8.5.0"));
        assert_eq!(agent(b"  spaced  out ").as_deref(), Some("spaced  out"));
        assert_eq!(agent(b"caf\xc3\xa9\tbar").as_deref(), Some("cafbar"));
        assert_eq!(agent(b"\xff\xfe"), None);
        assert_eq!(agent(b"   "), None);
        let long = agent(&[b'x'; 500]).expect("an agent");
        assert_eq!(long.len(), USER_AGENT_MAX);
    }

    #[test]
    fn debug_never_prints_the_tokens() {
        let pair = TokenPair {
            access_token: "eyJ.secret-access-token.sig".into(),
            refresh_token: "eyJ.secret-refresh-token.sig".into(),
            token_type: "Bearer",
            expires_in: 900,
            session_ends_at: 0,
        };
        let printed = format!("{pair:?}");
        assert!(!printed.contains("secret-"), "{printed}");
        assert!(printed.contains("900"), "{printed}");
    }
}
