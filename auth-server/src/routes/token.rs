//! `POST /token`: spend a refresh token for a new access token and the next refresh token.

use std::fmt;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jwt_tokens::VerifyReason;
use serde::Deserialize;
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::cookie::{self, CookiePolicy, WithCookies};
use crate::sessions::{self, TokenPair, Tokens};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The refresh token to spend. Missing, `null` or empty: the `refresh_token` cookie's
    /// (cookie delivery, `{}`), and without one `401`.
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
        (status = 200, description = "A new access token and a new refresh token; the one presented is spent. \
            A token from the body gets both in the body; the `refresh_token` cookie (a body naming no token, \
            `{}`) gets the access token only (`{\"accessToken\",\"tokenType\",\"expiresIn\"}`), and both \
            cookies replaced by the next refresh token.",
            body = Tokens,
            headers(
                ("Cache-Control" = String, description = "`no-store`: no cache keeps the tokens."),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches."),
                ("Set-Cookie" = String, description = "With the cookie only, twice: the next refresh token as \
                    `refresh_token=<jwt>; Path=/token; HttpOnly; SameSite=Strict; Max-Age=<the session's remaining \
                    seconds>; Secure` and the same with `Path=/logout`; on a `403` `invalid_grant` both cleared \
                    (`Max-Age=0`)."),
            )),
        (status = 400, description = "`invalid_body`: not a JSON object, or no `Content-Type: application/json` \
            (so that no HTML form can use the cookie); nothing is spent.",
            body = service_kit::openapi::ErrorBody),
        (status = 401, description = "`invalid_request`: no refresh token given, in the body or the cookie.",
            body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_request\", error_description=\"…\"`"))),
        (status = 403, description = "`invalid_grant`: the refresh token is invalid, expired, revoked or already used \
            (with the cookie: both cookies cleared). `invalid_origin`: the cookie, from an `Origin` that \
            `CORS_ALLOWED_ORIGINS` does not list (or none): nothing is spent, the cookies stay.",
            body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\", error_description=\"…\"` \
                (`error=\"invalid_request\"` for `invalid_origin`)"))),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "refresh", skip_all)]
pub async fn token(
    State(state): State<AppState>,
    Extension(cookies): Extension<Arc<CookiePolicy>>,
    client: ClientKey,
    headers: HeaderMap,
    AppJson(request): AppJson<RefreshRequest>,
) -> Result<Response> {
    state.limits.token_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "token refresh rate limit per address reached");
    })?;
    if let Some(token) = request.token.filter(|t| !t.is_empty()) {
        return Ok(refresh(&state, &token).await?.into_response());
    }
    let Some(cookie) = cookie::read(&headers) else {
        return Err(ApiError::new(
            service_kit::Common::InvalidRequest,
            "no refresh token given; send {\"token\": <refresh token>}, or the refresh cookie",
        ));
    };
    cookies.check_origin(&headers)?;
    match refresh(&state, &cookie.0).await {
        Ok(pair) => pair.in_cookies(&state, &cookies, &headers),
        // A refused cookie is of no use to keep; a fault of the server's (or a busy database)
        // says nothing about it.
        Err(err) if err.status() == StatusCode::FORBIDDEN => {
            Ok(WithCookies(cookies.clear(&headers), err).into_response())
        }
        Err(err) => Err(err),
    }
}

/// Verifies a refresh token, from the body or the cookie alike, and spends it.
async fn refresh(state: &AppState, token: &str) -> Result<TokenPair> {
    let claims = state.refresh.verify(token).map_err(|err| {
        // Decoded a second time only for a token whose one fault is its age, never for the
        // forgeries and garbage that make up most refusals.
        let expired = (err.reason == VerifyReason::Expired)
            .then(|| state.refresh.expired_claims(token))
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
    sessions::rotate(state, &claims.sub, &claims.sid, &claims.jti).await
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
