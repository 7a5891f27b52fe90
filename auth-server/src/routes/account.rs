//! The caller's own account, proven by a bearer access token: `GET /sessions`,
//! `DELETE /sessions/{id}` and `POST /password`.

use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwt_tokens::{AccessClaims, Authenticated};
use serde::{Deserialize, Serialize};
use service_kit::error::Common;
use service_kit::rate_limit::ClientKey;
use service_kit::{ApiError, AppJson, Result};

use crate::AppState;
use crate::domain::Password;
use crate::error::AuthError;
use crate::metrics::{self, Revocation};
use crate::store::{EndReason, SessionSummary};

/// A live session of the caller, as `GET /sessions` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionView {
    /// The session's id: the `sid` of its tokens, and what `DELETE /sessions/{id}` takes.
    id: String,
    /// When it started (the login): RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, example = "2023-11-14T22:13:20.123Z")]
    created_at: String,
    /// When its refresh token was last spent (`POST /token`), or when it started.
    #[schema(format = DateTime, example = "2023-11-14T22:28:20.456Z")]
    last_used_at: String,
    /// The login request's `User-Agent`, printable ASCII, at most 100 characters; `null` if none.
    #[schema(example = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")]
    user_agent: Option<String>,
    /// Whether this is the session of the access token that asked.
    current: bool,
}

fn rfc3339(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or_default();
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

impl SessionView {
    fn new(session: SessionSummary, current_sid: &str) -> Self {
        Self {
            current: session.id == current_sid,
            created_at: rfc3339(session.created_at_ms),
            last_used_at: rfc3339(session.last_used_at_ms),
            id: session.id,
            user_agent: session.user_agent,
        }
    }
}

/// `403 invalid_token`: the bearer token verified, but its session has ended. Verification is
/// offline everywhere else; here the database is at hand, so an ended session's access token
/// does nothing, even within the second the posts-servers take to hear of it.
fn session_ended() -> ApiError {
    ApiError::new(
        Common::InvalidToken,
        "the access token's session has ended (logged out or revoked)",
    )
}

/// Refuses the caller unless the session of their access token is live.
async fn require_live(state: &AppState, caller: &AccessClaims) -> Result<()> {
    if state.store.session_is_live(&caller.sid, &caller.sub).await? {
        Ok(())
    } else {
        tracing::debug!(session = %caller.sid, user = %caller.sub, "access token of an ended session");
        Err(session_ended())
    }
}

/// The caller's live sessions, newest first. Nothing about other users.
#[utoipa::path(
    get,
    path = "/sessions",
    operation_id = "list_sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions (neither ended nor expired), newest first; \
            `current` marks the one of the access token that asked. `Cache-Control: no-store`.",
            body = Vec<SessionView>),
        (status = 401, response = service_kit::openapi::MissingToken),
        (status = 403, response = service_kit::openapi::InvalidToken),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "list_sessions", skip_all)]
pub async fn list_sessions(Authenticated(caller): Authenticated, State(state): State<AppState>) -> Result<Response> {
    let sessions = state.store.live_sessions(&caller.sub).await?;
    // The list is read once: the caller's own session is live if it is in it.
    if !sessions.iter().any(|session| session.id == caller.sid) {
        tracing::debug!(session = %caller.sid, user = %caller.sub, "access token of an ended session");
        return Err(session_ended());
    }
    let views: Vec<SessionView> = sessions
        .into_iter()
        .map(|session| SessionView::new(session, &caller.sid))
        .collect();
    let never_stored = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((never_stored, AppJson(views)).into_response())
}

/// Ends one of the caller's own sessions (the current one too: that is a logout). Its refresh
/// token stops working at once and its access tokens as soon as the posts-servers hear of it.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    operation_id = "end_session",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's id, as `GET /sessions` gives it.")),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 401, response = service_kit::openapi::MissingToken),
        (status = 403, response = service_kit::openapi::InvalidToken),
        (status = 404, description = "`not_found`: no live session of the caller has this id; the same answer \
            for an unknown id, an ended session and another user's session.",
            body = service_kit::openapi::ErrorBody),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "end_session", skip_all)]
pub async fn end_session(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_live(&state, &caller).await?;
    // The user is part of the condition: another user's session is not found, like an unknown one.
    let ended = state
        .store
        .revoke_session(&id, &caller.sub, EndReason::SessionDeleted)
        .await?;
    if ended == 0 {
        return Err(ApiError::new(Common::NotFound, "no such session"));
    }
    state.feed.poke();
    metrics::sessions_revoked(Revocation::SessionDeleted, ended);
    tracing::info!(session = %id, user = %caller.sub, "session ended by its user");
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `POST /password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// The password the user has now.
    #[schema(value_type = String, format = Password)]
    current_password: Password,
    /// The password from now on: 8 to 1024 characters of any kind, as at registration.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    new_password: Password,
}

/// Changes the caller's password. Every other session of the user ends with it (in the same
/// transaction); the session of the access token that asked goes on.
#[utoipa::path(
    post,
    path = "/password",
    operation_id = "change_password",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "The password is changed, and every other session of the user has ended."),
        (status = 400, description = "`invalid_password` (the new password breaks the rules of registration) \
            or `invalid_body` (not a JSON object with both fields, or no `Content-Type: application/json`).",
            body = service_kit::openapi::ErrorBody),
        (status = 401, response = service_kit::openapi::MissingToken),
        (status = 403, description = "`invalid_credentials`: the current password is wrong (each attempt counts \
            against the login rate limits, per username and per address); or `invalid_token`: the access token \
            is invalid or its session has ended.", body = service_kit::openapi::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer error=\"insufficient_scope\"` (a wrong \
                current password) or `Bearer error=\"invalid_token\"`, with an `error_description`"))),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
#[tracing::instrument(name = "change_password", skip_all)]
pub async fn change_password(
    Authenticated(caller): Authenticated,
    State(state): State<AppState>,
    client: ClientKey,
    AppJson(change): AppJson<PasswordChange>,
) -> Result<StatusCode> {
    require_live(&state, &caller).await?;
    // Checked before anything is counted or hashed: a rule broken is no guess at the password.
    change.new_password.validate()?;
    let user = state
        .store
        .find_user_by_id(&caller.sub)
        .await?
        .ok_or_else(session_ended)?;
    // Every attempt counts, as every login does: a stolen access token buys no more guesses at
    // the password than the login form gives.
    state.limits.login_per_address.check(&client).inspect_err(|_| {
        tracing::warn!(client = %client, "login rate limit per address reached (password change)");
    })?;
    let key = user.username.to_ascii_lowercase();
    state.limits.login_per_username.check(&key).await.inspect_err(|err| {
        if err.status() == StatusCode::TOO_MANY_REQUESTS {
            tracing::warn!(client = %client, username = %key, "login rate limit per username reached (password change)");
        }
    })?;
    let old_hash = user.password_hash;
    if !state
        .hasher
        .verify(change.current_password, Some(old_hash.clone()))
        .await?
    {
        tracing::debug!(user = %caller.sub, "password change refused: wrong current password");
        return Err(wrong_current_password());
    }
    let new_hash = state.hasher.hash(change.new_password).await?;
    match state
        .store
        .change_password(&caller.sub, &caller.sid, &old_hash, &new_hash)
        .await?
    {
        Some(ended) => {
            state.feed.poke();
            metrics::sessions_revoked(Revocation::PasswordChange, ended);
            tracing::info!(user = %caller.sub, other_sessions_ended = ended, "password changed");
            Ok(StatusCode::NO_CONTENT)
        }
        // Meanwhile the session ended, or another request changed the password: the current
        // password given is no longer the current one.
        None => {
            require_live(&state, &caller).await?;
            Err(wrong_current_password())
        }
    }
}

fn wrong_current_password() -> ApiError {
    ApiError::new(AuthError::WrongCurrentPassword, "the current password is wrong")
}
