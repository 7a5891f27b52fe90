//! `POST /login`: a password for a new session and its first token pair.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::cookie::CookiePolicy;
use crate::domain::{Password, Username};
use crate::metrics::{self, Login};
use crate::sessions::{self, Tokens};

/// How the refresh token is handed over.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// In the body, as `refreshToken` (the tutorial's flow).
    #[default]
    Body,
    /// In `HttpOnly` cookies (`refresh_token`, `Path=/token` and `Path=/logout`) that no script
    /// can read; the body carries the access token only. For browser apps.
    Cookie,
}

/// The body of `/login`: the credentials of `/register`, and how to deliver the refresh token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// Letters, digits, `.`, `_` and `-`; unique regardless of case.
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]+$", example = "Kyle")]
    pub username: String,
    /// Any characters; the length counts Unicode code points.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub password: Password,
    /// `body` (the default) or `cookie`.
    #[serde(default)]
    pub delivery: Delivery,
}

/// Logs in: a new session and its first token pair.
#[utoipa::path(
    post,
    path = "/login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session's tokens. With `\"delivery\": \"body\"` (the default) the \
            access and the refresh token in the body; with `\"delivery\": \"cookie\"` the access token only \
            (`{\"accessToken\",\"tokenType\",\"expiresIn\"}`), and the refresh token in two cookies.",
            body = Tokens,
            headers(
                ("Cache-Control" = String, description = "`no-store`: no cache keeps the tokens."),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches."),
                ("Set-Cookie" = String, description = "Cookie delivery only, twice: \
                    `refresh_token=<jwt>; Path=/token; HttpOnly; SameSite=Strict; Max-Age=<the session's remaining \
                    seconds>; Secure` and the same with `Path=/logout`. `SameSite` is `REFRESH_COOKIE_SAMESITE`; \
                    `Secure` is left out only for a page on `http://localhost` or `http://127.0.0.1`."),
            )),
        (status = 400, description = "`invalid_body`: not a JSON object with both fields, an unknown \
            `delivery`, or no `Content-Type: application/json`.", body = service_kit::openapi::ErrorBody),
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
    Extension(cookies): Extension<Arc<CookiePolicy>>,
    client: ClientKey,
    headers: HeaderMap,
    AppJson(credentials): AppJson<LoginRequest>,
) -> Result<Response> {
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
    match credentials.delivery {
        Delivery::Body => Ok(pair.into_response()),
        Delivery::Cookie => pair.in_cookies(&state, &cookies, &headers),
    }
}
