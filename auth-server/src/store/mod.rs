//! Users and sessions behind one small trait; each database is one file implementing it.

mod postgres;
mod sqlite;

use async_trait::async_trait;
use axum::http::StatusCode;
use service_kit::ApiError;
use service_kit::db::DbError;

pub use postgres::PostgresStore;
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

/// A user as operators list them.
#[derive(Debug, sqlx::FromRow)]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub created_at_ms: i64,
    /// Sessions neither expired nor revoked.
    pub live_sessions: i64,
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

/// A request to spend refresh token `jti` of session `sid`.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub sid: &'a str,
    pub user_id: &'a str,
    pub jti: &'a str,
    /// Becomes the current token if `jti` is.
    pub next_jti: &'a str,
    pub now_ms: i64,
    /// How long after its rotation a spent token still gets the current pair.
    pub grace_ms: i64,
}

/// The outcome of presenting refresh token `jti` of a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was the current token: it is spent now, and `next_jti` is current.
    Rotated { username: String, expires_at: i64 },
    /// It was spent less than the grace period ago: nothing changes, and the
    /// session's current token (`current_jti`, made current at `rotated_at_ms`) is handed out again.
    Grace {
        username: String,
        expires_at: i64,
        current_jti: String,
        rotated_at_ms: i64,
    },
    /// It had been spent already (outside the grace period): the session is revoked as stolen.
    Reused,
    /// The session is unknown, expired, or already revoked.
    Ended,
}

/// A live session, as read when a token that is not current is presented.
#[derive(sqlx::FromRow)]
pub(crate) struct LiveSession {
    current_jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<i64>,
    expires_at: i64,
    username: String,
}

impl LiveSession {
    /// `Grace` if `spend` presents the token spent last, within the grace period of its rotation.
    pub(crate) fn grace(self, spend: &Spend<'_>) -> Option<Rotation> {
        let rotated_at_ms = self.rotated_at?;
        // `now_ms` was read before the request reached the database, so it may be a little
        // earlier than a rotation that won the race: with no grace at all, that is never grace.
        let recent = spend.grace_ms > 0 && spend.now_ms.saturating_sub(rotated_at_ms) < spend.grace_ms;
        (self.previous_jti.as_deref() == Some(spend.jti) && recent).then_some(Rotation::Grace {
            username: self.username,
            expires_at: self.expires_at,
            current_jti: self.current_jti,
            rotated_at_ms,
        })
    }
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
    /// The token spent last, within `grace_ms` of its rotation, gets `Grace`;
    /// any other spent `jti` revokes the session. The decision between those
    /// two is atomic too.
    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError>;

    /// Ends one session of `user_id`; ending an ended one is not an error. Returns how many
    /// sessions it ended: 1, or 0 for a session that had ended already.
    async fn revoke_session(&self, sid: &str, user_id: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Ends every session of `user_id`, but only if refresh token `jti` is
    /// the current one of live session `sid`: a spent or ended token must not
    /// be able to log its user out everywhere. Returns how many sessions ended.
    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Deletes expired and revoked sessions; returns how many.
    async fn purge_ended_sessions(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Every user, oldest first, with the number of live sessions at `now_ms`.
    async fn list_users(&self, now_ms: i64) -> Result<Vec<UserSummary>, StoreError>;

    /// Deletes user `user_id` and every session of theirs; `false` if there was no such user.
    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError>;

    /// Ends every live session of `user_id` (an operator's revocation); returns how many ended.
    async fn revoke_all_sessions(&self, user_id: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections (at shutdown, and in tests of a database that is gone).
    async fn close(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> LiveSession {
        LiveSession {
            current_jti: "current".into(),
            previous_jti: Some("previous".into()),
            rotated_at: Some(1_000_000),
            expires_at: 2_000,
            username: "alice".into(),
        }
    }

    fn spend(jti: &str, now_ms: i64, grace_ms: i64) -> Spend<'_> {
        Spend {
            sid: "sid",
            user_id: "user",
            jti,
            next_jti: "next",
            now_ms,
            grace_ms,
        }
    }

    #[test]
    fn the_token_spent_last_is_in_grace_only_within_the_window() {
        assert!(session().grace(&spend("previous", 1_009_999, 10_000)).is_some());
        assert!(session().grace(&spend("previous", 1_010_000, 10_000)).is_none());
        assert!(session().grace(&spend("older", 1_000_001, 10_000)).is_none());
    }

    #[test]
    fn no_grace_means_none_even_for_a_request_whose_clock_read_came_before_the_rotation() {
        // A losing request of a race read its clock before the winner did.
        assert!(session().grace(&spend("previous", 999_990, 0)).is_none());
        assert!(session().grace(&spend("previous", 999_990, 10_000)).is_some());
    }
}
