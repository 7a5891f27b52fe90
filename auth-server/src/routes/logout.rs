//! `DELETE /logout`: end the session of a refresh token, or every session of its user.

use std::fmt;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::cookie::{self, CookiePolicy, WithCookies};
use crate::metrics::{self, Revocation};
use crate::store::EndReason;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only the session this refresh token belongs to.
    #[default]
    Session,
    /// Every session of the token's user ("log out everywhere"); only the
    /// current refresh token of a live session may ask for this.
    Global,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogoutRequest {
    /// The refresh token of the session to end. Missing or `null`: the `refresh_token`
    /// cookie's (cookie delivery, `{}` or `{"scope": "global"}`), and without one `400`.
    #[serde(default)]
    token: Option<String>,
    /// `session` (the default): this token's session; `global`: every session of its user.
    #[serde(default)]
    scope: Scope,
}

/// Never prints the token.
impl fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutRequest")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("scope", &self.scope)
            .finish()
    }
}

/// Always `204` for a well-formed body: an unknown, invalid or already
/// revoked token leaves nothing to end, and saying so would only help an
/// attacker probe tokens.
#[utoipa::path(
    delete,
    path = "/logout",
    request_body = LogoutRequest,
    responses(
        (status = 204, description = "The session (or with `\"scope\": \"global\"`, every session of the user) has \
            ended; also for an unknown, invalid or already revoked token. With the cookie, both cookies are \
            cleared.",
            headers(("Set-Cookie" = String, description = "With the cookie only, twice: \
                `refresh_token=; Path=/token; HttpOnly; SameSite=Strict; Max-Age=0; Secure` and the same with \
                `Path=/logout`."))),
        (status = 400, description = "`invalid_body`: not a JSON object, with neither a `token` nor the \
            `refresh_token` cookie, or no `Content-Type: application/json` (so that no HTML form can use the \
            cookie).", body = service_kit::openapi::ErrorBody),
        (status = 403, description = "`invalid_grant`: `\"scope\": \"global\"` with a refresh token that \
            is not the current one of its live session (spent by a rotation). Its own session has ended; the \
            user's other sessions go on (with the cookie: both cookies cleared). `invalid_origin`: the cookie, \
            from an `Origin` that `CORS_ALLOWED_ORIGINS` does not list (or none): nothing ends, the cookies \
            stay.", body = service_kit::openapi::ErrorBody),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "logout", skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    Extension(cookies): Extension<Arc<CookiePolicy>>,
    headers: HeaderMap,
    AppJson(request): AppJson<LogoutRequest>,
) -> Result<Response> {
    if let Some(token) = request.token {
        return Ok(end(&state, &token, request.scope).await?.into_response());
    }
    let Some(cookie) = cookie::read(&headers) else {
        return Err(ApiError::new(
            service_kit::Common::InvalidBody,
            "no refresh token given; send {\"token\": <refresh token>}, or the refresh cookie",
        ));
    };
    cookies.check_origin(&headers)?;
    match end(&state, &cookie.0, request.scope).await {
        Ok(status) => Ok(WithCookies(cookies.clear(&headers), status).into_response()),
        // The session has ended here too (see `end`); a fault of the server's ends nothing.
        Err(err) if err.status() == StatusCode::FORBIDDEN => {
            Ok(WithCookies(cookies.clear(&headers), err).into_response())
        }
        Err(err) => Err(err),
    }
}

/// Ends the session of a refresh token, from the body or the cookie alike, or with `scope`
/// global every session of its user.
async fn end(state: &AppState, token: &str, scope: Scope) -> Result<StatusCode> {
    let claims = match state.refresh.verify(token) {
        Ok(claims) => claims,
        Err(err) => {
            tracing::debug!(reason = ?err.reason, "logout with an unusable refresh token");
            return Ok(StatusCode::NO_CONTENT);
        }
    };
    // Counted: the sessions that ended here, not the requests (a repeated logout ends nothing).
    // The feed is told at once, whatever the outcome (it only looks).
    let _poke = PokeOnDrop(&state.feed);
    match scope {
        Scope::Session => {
            let ended = state
                .store
                .revoke_session(&claims.sid, &claims.sub, EndReason::Logout)
                .await?;
            metrics::sessions_revoked(Revocation::Logout, ended);
            if ended > 0 {
                tracing::info!(session = %claims.sid, user = %claims.sub, "logged out");
            }
        }
        Scope::Global => {
            let ended = state
                .store
                .revoke_user_sessions(&claims.sid, &claims.sub, &claims.jti)
                .await?;
            if ended > 0 {
                metrics::sessions_revoked(Revocation::GlobalLogout, ended);
                tracing::info!(user = %claims.sub, sessions = ended, "logged out everywhere");
                return Ok(StatusCode::NO_CONTENT);
            }
            // Not the current token of a live session: it may end its own session, nothing more,
            // and the answer says so rather than pass for a global logout.
            let own = state
                .store
                .revoke_session(&claims.sid, &claims.sub, EndReason::Logout)
                .await?;
            if own > 0 {
                metrics::sessions_revoked(Revocation::Logout, own);
                tracing::info!(
                    session = %claims.sid,
                    user = %claims.sub,
                    "global logout refused (not the session's current refresh token); that one session ended"
                );
                return Err(crate::sessions::refused(
                    "only the current refresh token of a live session can end every session; this token's own \
                     session has ended",
                ));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Wakes the ended-session feed when the handler is done (its store calls have committed).
struct PokeOnDrop<'a>(&'a crate::feed::Feed);

impl Drop for PokeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.poke();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_token() {
        let request: LogoutRequest =
            serde_json::from_str(r#"{"token":"eyJ.secret-refresh-token.sig","scope":"global"}"#).expect("a request");
        let printed = format!("{request:?}");
        assert!(!printed.contains("secret-refresh-token"), "{printed}");
        assert!(printed.contains("Global"), "{printed}");
    }
}
