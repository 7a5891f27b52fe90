//! `POST /register`: a new user with an argon2id password hash.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::config::Registration;
use crate::domain::{Credentials, Username};
use crate::store::NewUser;
use service_kit::now_unix_ms;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisteredUser {
    id: String,
    username: String,
}

/// Registers a user.
#[utoipa::path(
    post,
    path = "/register",
    request_body = Credentials,
    responses(
        (status = 201, description = "The user is registered.", body = RegisteredUser),
        (status = 400, description = "`invalid_username`, `invalid_password`, or `invalid_body` (not a JSON object \
            with both fields, or no `Content-Type: application/json`).", body = service_kit::openapi::ErrorBody),
        (status = 403, description = "`registration_closed`: this server takes no sign-ups; an operator creates \
            accounts.", body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"insufficient_scope\", error_description=\"…\"`"))),
        (status = 409, description = "`username_taken` (usernames are unique regardless of case).",
            body = service_kit::openapi::ErrorBody),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    client: ClientKey,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, AppJson<RegisteredUser>)> {
    if state.registration == Registration::Closed {
        // RFC 6750's `insufficient_scope`: adding users takes more than this request has.
        return Err(ApiError::new(
            crate::error::AuthError::RegistrationClosed,
            "sign-up is closed on this server; an operator creates accounts",
        ));
    }
    state.limits.register_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "sign-up rate limit per address reached");
    })?;
    let username = Username::parse(credentials.username)?;
    credentials.password.validate()?;
    let password_hash = state.hasher.hash(credentials.password).await?;
    let user = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.as_str().to_owned(),
        username_key: username.key(),
        password_hash,
        created_at_ms: now_unix_ms(),
    };
    state.store.create_user(&user).await?;
    tracing::info!(user = %user.id, "user registered");
    Ok((
        StatusCode::CREATED,
        AppJson(RegisteredUser {
            id: user.id,
            username: user.username,
        }),
    ))
}
