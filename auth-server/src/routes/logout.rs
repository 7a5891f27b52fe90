//! `DELETE /logout`: end the session of a refresh token, or every session of its user.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use service_kit::{AppJson, Result};

use crate::AppState;
use service_kit::now_unix_ms;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only the session this refresh token belongs to.
    #[default]
    Session,
    /// Every session of the token's user ("log out everywhere"); only the
    /// current refresh token of a live session may ask for this.
    Global,
}

#[derive(Debug, Deserialize)]
pub struct LogoutRequest {
    token: String,
    #[serde(default)]
    scope: Scope,
}

/// Always `204` for a well-formed body: an unknown, invalid or already
/// revoked token leaves nothing to end, and saying so would only help an
/// attacker probe tokens.
#[tracing::instrument(name = "logout", skip_all)]
pub async fn logout(State(state): State<AppState>, AppJson(request): AppJson<LogoutRequest>) -> Result<StatusCode> {
    let claims = match state.refresh.verify(&request.token) {
        Ok(claims) => claims,
        Err(err) => {
            tracing::debug!(reason = ?err.reason, "logout with an unusable refresh token");
            return Ok(StatusCode::NO_CONTENT);
        }
    };
    match request.scope {
        Scope::Session => {
            state
                .store
                .revoke_session(&claims.sid, &claims.sub, now_unix_ms())
                .await?;
            tracing::info!(session = %claims.sid, user = %claims.sub, "logged out");
        }
        Scope::Global => {
            let now = now_unix_ms();
            let ended = state
                .store
                .revoke_user_sessions(&claims.sid, &claims.sub, &claims.jti, now)
                .await?;
            if ended == 0 {
                // Not the current token of a live session: end at most its own session.
                state.store.revoke_session(&claims.sid, &claims.sub, now).await?;
            }
            tracing::info!(user = %claims.sub, sessions = ended, "logged out everywhere");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
