//! `POST /register`: a new user with an argon2id password hash.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use service_kit::rate_limit::ClientIp;
use service_kit::{AppJson, Result};

use crate::AppState;
use crate::domain::{Credentials, Username};
use crate::store::NewUser;
use service_kit::now_unix_ms;

#[derive(Debug, Serialize)]
pub struct RegisteredUser {
    id: String,
    username: String,
}

#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, AppJson<RegisteredUser>)> {
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
