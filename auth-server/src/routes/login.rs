//! `POST /login`: a password for a new session and its first token pair.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::domain::{Credentials, Username};
use crate::metrics::{self, Login};
use crate::sessions::{self, TokenPair};

/// Logs in: a new session and its first token pair.
#[utoipa::path(
    post,
    path = "/login",
    request_body = Credentials,
    responses(
        (status = 200, description = "A new session's access and refresh tokens.", body = TokenPair,
            headers(
                ("Cache-Control" = String, description = "`no-store`: no cache keeps the tokens."),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches."),
            )),
        (status = 400, description = "`invalid_body`: not a JSON object with both fields, or no \
            `Content-Type: application/json`.", body = service_kit::openapi::ErrorBody),
        (status = 401, description = "`invalid_credentials`: one answer for a wrong username and a wrong password.",
            body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_request\", error_description=\"…\"`"))),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientKey,
    headers: HeaderMap,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<TokenPair> {
    state.limits.login_per_address.check(&client).inspect_err(|_| {
        metrics::login(Login::RateLimited);
        tracing::warn!(client = %client, "login rate limit per address reached");
    })?;
    // A username that cannot exist is looked up as no user at all: it gets
    // the same work (a dummy hash) and the same answer as a wrong password.
    let user = match Username::parse(credentials.username) {
        Ok(username) => {
            let key = username.key();
            state.limits.login_per_username.check(&key).await.inspect_err(|err| {
                if err.status() == StatusCode::TOO_MANY_REQUESTS {
                    metrics::login(Login::RateLimited);
                    tracing::warn!(client = %client, username = %key, "login rate limit per username reached");
                }
            })?;
            state.store.find_user(&key).await?
        }
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = state.hasher.verify(credentials.password, stored).await?;
    let Some(user) = user.filter(|_| matches) else {
        metrics::login(Login::Failed);
        tracing::debug!("login refused");
        return Err(ApiError::new(
            crate::error::AuthError::InvalidCredentials,
            "wrong username or password",
        ));
    };
    let user_agent = sessions::short_user_agent(&headers);
    let pair = sessions::start(&state, &user.id, &user.username, user_agent).await?;
    metrics::login(Login::Succeeded);
    Ok(pair)
}
