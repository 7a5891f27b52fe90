//! `POST /token`: spend a refresh token for a new access token and the next refresh token.

use std::fmt;

use axum::extract::State;
use jwt_tokens::VerifyReason;
use serde::Deserialize;
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::sessions::{self, TokenPair};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The refresh token to spend; missing, `null` or empty is `401`.
    #[serde(default)]
    token: Option<String>,
}

/// Never prints the token.
impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.token.as_ref().map(|_| "<redacted>");
        f.debug_struct("RefreshRequest").field("token", &token).finish()
    }
}

/// Spends a refresh token for a new access token and the session's next refresh token.
#[utoipa::path(
    post,
    path = "/token",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token and a new refresh token; the one presented is spent.",
            body = TokenPair,
            headers(
                ("Cache-Control" = String, description = "`no-store`: no cache keeps the tokens."),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches."),
            )),
        (status = 400, description = "`invalid_body`: not a JSON object, or no `Content-Type: application/json`.",
            body = service_kit::openapi::ErrorBody),
        (status = 401, description = "`invalid_request`: no refresh token given.",
            body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_request\", error_description=\"…\"`"))),
        (status = 403, description = "`invalid_grant`: the refresh token is invalid, expired, revoked or already used.",
            body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\", error_description=\"…\"`"))),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "refresh", skip_all)]
pub async fn token(
    State(state): State<AppState>,
    client: ClientKey,
    AppJson(request): AppJson<RefreshRequest>,
) -> Result<TokenPair> {
    state.limits.token_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "token refresh rate limit per address reached");
    })?;
    let Some(token) = request.token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            service_kit::Common::InvalidRequest,
            "no refresh token given; send {\"token\": <refresh token>}",
        ));
    };
    let claims = state.refresh.verify(&token).map_err(|err| {
        // Decoded a second time only for a token whose one fault is its age, never for the
        // forgeries and garbage that make up most refusals.
        let expired = (err.reason == VerifyReason::Expired)
            .then(|| state.refresh.expired_claims(&token))
            .flatten();
        match expired {
            Some(expired) => tracing::warn!(
                session = %expired.sid,
                user = %expired.sub,
                "refresh token of an expired session presented"
            ),
            None => tracing::debug!(reason = ?err.reason, "refresh token refused"),
        }
        ApiError::new(crate::error::AuthError::InvalidGrant, err.to_string())
    })?;
    sessions::rotate(&state, &claims.sub, &claims.sid, &claims.jti).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_token() {
        let request: RefreshRequest =
            serde_json::from_str(r#"{"token":"eyJ.secret-refresh-token.sig"}"#).expect("a request");
        let printed = format!("{request:?}");
        assert!(!printed.contains("secret-refresh-token"), "{printed}");
        assert!(
            printed.contains("RefreshRequest") && printed.contains("<redacted>"),
            "{printed}"
        );
    }
}
