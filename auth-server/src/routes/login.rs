//! `POST /login`: a password for a new session and its first token pair.

use axum::extract::State;
use axum::http::StatusCode;
use service_kit::rate_limit::ClientIp;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::domain::{Credentials, Username};
use crate::sessions::{self, TokenPair};

#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<AppJson<TokenPair>> {
    state.limits.login_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "login rate limit per address reached");
    })?;
    // A username that cannot exist is looked up as no user at all: it gets
    // the same work (a dummy hash) and the same answer as a wrong password.
    let user = match Username::parse(credentials.username) {
        Ok(username) => {
            let key = username.key();
            state.limits.login_per_username.check(&key).inspect_err(|_| {
                tracing::warn!(client = %client, username = %key, "login rate limit per username reached");
            })?;
            state.store.find_user(&key).await?
        }
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = state.hasher.verify(credentials.password, stored).await?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::debug!("login refused");
        return Err(ApiError::bearer(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        )
        .with_challenge("invalid_request"));
    };
    Ok(AppJson(sessions::start(&state, &user.id, &user.username).await?))
}
