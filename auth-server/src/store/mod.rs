//! Users and sessions behind one small trait; each database is one file implementing it.

mod sqlite;

use async_trait::async_trait;
use axum::http::StatusCode;
use service_kit::ApiError;
use service_kit::db::DbError;

pub use sqlite::SqliteStore;

/// A user about to be stored.
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub password_hash: String,
    pub created_at_ms: i64,
}

/// What login needs of a stored user.
#[derive(sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
}

/// A session about to be stored: one login, holding its first refresh token id.
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub jti: String,
    pub created_at_ms: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The outcome of presenting refresh token `jti` of a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was the current token: it is spent now, and `next_jti` is current.
    Rotated { username: String, expires_at: i64 },
    /// It had been spent already: the session is revoked as stolen.
    Reused,
    /// The session is unknown, expired, or already revoked.
    Ended,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("username taken")]
    UsernameTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => {
                ApiError::new(StatusCode::CONFLICT, "username_taken", "that username is already taken")
            }
            StoreError::Db(err) => err.into(),
        }
    }
}

/// Everything the auth server keeps. Every method is atomic in the database,
/// so several instances can share one.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Fails with [`StoreError::UsernameTaken`] if the username key exists.
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError>;

    async fn find_user(&self, username_key: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// Spends refresh token `jti` of session `sid` (owned by `user_id`) and
    /// makes `next_jti` current, in one conditional update: of any number of
    /// concurrent calls with the same `jti`, at most one gets `Rotated`.
    /// A spent `jti` revokes the session.
    async fn rotate(
        &self,
        sid: &str,
        user_id: &str,
        jti: &str,
        next_jti: &str,
        now_ms: i64,
    ) -> Result<Rotation, StoreError>;

    /// Ends one session of `user_id`; ending an ended one is not an error.
    async fn revoke_session(&self, sid: &str, user_id: &str, now_ms: i64) -> Result<(), StoreError>;

    /// Ends every session of `user_id`, but only if refresh token `jti` is
    /// the current one of live session `sid`: a spent or ended token must not
    /// be able to log its user out everywhere. Returns how many sessions ended.
    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Deletes expired and revoked sessions; returns how many.
    async fn purge_ended_sessions(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections (at shutdown, and in tests of a database that is gone).
    async fn close(&self);
}
