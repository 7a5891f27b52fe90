//! `POST /token`: spend a refresh token for a new access token and the next refresh token.

use axum::extract::State;
use axum::http::StatusCode;
use jwt_tokens::VerifyReason;
use serde::Deserialize;
use service_kit::rate_limit::ClientIp;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::sessions::{self, TokenPair};

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    #[serde(default)]
    token: Option<String>,
}

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn token(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AppJson(request): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenPair>> {
    state.limits.token_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "token refresh rate limit per address reached");
    })?;
    let Some(token) = request.token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::bearer(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "no refresh token given; send {\"token\": <refresh token>}",
        ));
    };
    let claims = state.refresh.verify(&token).map_err(|err| {
        match state
            .refresh
            .expired_claims(&token)
            .filter(|_| err.reason == VerifyReason::Expired)
        {
            Some(expired) => tracing::warn!(
                session = %expired.sid,
                user = %expired.sub,
                "refresh token of an expired session presented"
            ),
            None => tracing::debug!(reason = ?err.reason, "refresh token refused"),
        }
        ApiError::bearer(StatusCode::FORBIDDEN, "invalid_grant", err.to_string()).with_challenge("invalid_token")
    })?;
    Ok(AppJson(
        sessions::rotate(&state, &claims.sub, &claims.sid, &claims.jti).await?,
    ))
}
