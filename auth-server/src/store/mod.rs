//! Users and sessions behind one small trait; each database is one file implementing it.

mod postgres;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use database::DbError;
use service_kit::ApiError;
use service_kit::rate_limit::Rate;

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

/// A session about to be stored: one login, holding its first refresh token id. It starts
/// now and ends `ttl_s` later, both by the database's clock.
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub jti: String,
    pub ttl_s: i64,
    /// Unix seconds: the `exp` of the access token issued with it.
    pub access_until: i64,
    /// The login request's `User-Agent`, already shortened; `None` if it sent none.
    pub user_agent: Option<String>,
}

/// A live session as its user lists them (`GET /sessions`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionSummary {
    pub id: String,
    /// Unix milliseconds: when it started (the login).
    pub created_at_ms: i64,
    /// Unix milliseconds: its last rotation, or its start if it was never refreshed.
    pub last_used_at_ms: i64,
    pub user_agent: Option<String>,
}

/// A request to spend refresh token `jti` of session `sid`.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub sid: &'a str,
    pub user_id: &'a str,
    pub jti: &'a str,
    /// Becomes the current token if `jti` is.
    pub next_jti: &'a str,
    /// How long after its rotation (by the database's clock) a spent token still gets the current pair.
    pub grace_ms: i64,
    /// Unix seconds: the `exp` of the access token that will be issued with the answer.
    pub access_until: i64,
}

/// Why a session ended, as `session_ends` and the sessions table record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `DELETE /logout` of this session.
    Logout,
    /// `DELETE /logout` with `"scope": "global"`.
    GlobalLogout,
    /// A spent refresh token presented again after its grace period.
    Reuse,
    /// `auth-server revoke-sessions`.
    Operator,
    /// `DELETE /sessions/{id}` by the session's user.
    SessionDeleted,
    /// `POST /password`: every other session of the user ends.
    PasswordChange,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::GlobalLogout => "global_logout",
            Self::Reuse => "reuse",
            Self::Operator => "operator",
            Self::SessionDeleted => "session_deleted",
            Self::PasswordChange => "password_change",
        }
    }
}

/// One entry of the ended-session log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndedSession {
    /// The log's cursor: entries commit in this order.
    pub seq: i64,
    pub sid: String,
    /// Unix seconds: no access token of the session is valid after it.
    pub until: i64,
}

/// How long (seconds) an entry stays in the log after its `until`: longer than any verifier's
/// leeway (at most 5 minutes), so that a follower never misses one that still matters.
pub const ENDED_KEPT_AFTER_UNTIL_S: i64 = 600;

/// The outcome of presenting refresh token `jti` of a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was the current token: it is spent now, and `next_jti` is current.
    Rotated {
        username: String,
        expires_at: i64,
        /// When `next_jti` became current, by the database's clock.
        rotated_at_ms: i64,
    },
    /// It was spent less than the grace period ago: nothing changes, and the
    /// session's current token (`current_jti`, made current at `rotated_at_ms`) is handed out again.
    Grace {
        username: String,
        expires_at: i64,
        current_jti: String,
        rotated_at_ms: i64,
        /// How long ago it was spent, by the database's clock.
        spent_ms_ago: i64,
    },
    /// It had been spent already (outside the grace period): the session is revoked as stolen.
    Reused,
    /// The session is unknown, expired, or already revoked.
    Ended,
}

/// A live session, as read when a token that is not current is presented, with the database's
/// clock at that moment.
#[derive(sqlx::FromRow)]
pub(crate) struct LiveSession {
    current_jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<i64>,
    expires_at: i64,
    username: String,
    now_ms: i64,
}

impl LiveSession {
    /// `Grace` if `spend` presents the token spent last, within the grace period of its rotation.
    /// Both times are the database's, whichever instance rotated the token and whichever reads it.
    pub(crate) fn grace(self, spend: &Spend<'_>) -> Option<Rotation> {
        let rotated_at_ms = self.rotated_at?;
        // The row is read after the rotation that made it (on the writer connection, or
        // `FOR UPDATE`), so `now_ms` is not earlier than `rotated_at_ms` unless the database's
        // clock was stepped back: then how long ago is unknown, and it is not grace.
        let elapsed = self.now_ms.saturating_sub(rotated_at_ms);
        let recent = (0..spend.grace_ms).contains(&elapsed);
        (self.previous_jti.as_deref() == Some(spend.jti) && recent).then_some(Rotation::Grace {
            username: self.username,
            expires_at: self.expires_at,
            current_jti: self.current_jti,
            rotated_at_ms,
            spent_ms_ago: elapsed,
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
                ApiError::new(crate::error::AuthError::UsernameTaken, "that username is already taken")
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

    async fn find_user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Whether session `sid` of `user_id` is live (neither ended nor expired), by the database's clock.
    async fn session_is_live(&self, sid: &str, user_id: &str) -> Result<bool, StoreError>;

    /// The live sessions of `user_id`, newest first.
    async fn live_sessions(&self, user_id: &str) -> Result<Vec<SessionSummary>, StoreError>;

    /// Replaces the password hash of `user_id` and ends every other session of theirs
    /// ([`EndReason::PasswordChange`]), in one transaction, but only if the stored hash is still
    /// `old_hash` (the one the current password was checked against) and session `keep_sid`
    /// is still live: `None` if either is no longer so, and nothing changed. Otherwise returns
    /// how many sessions ended.
    async fn change_password(
        &self,
        user_id: &str,
        keep_sid: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Option<u64>, StoreError>;

    /// Stores a session starting now; returns when it started (Unix milliseconds) and when it
    /// ends (Unix seconds), by the database's clock.
    async fn create_session(&self, session: &NewSession) -> Result<(i64, i64), StoreError>;

    /// Spends refresh token `jti` of session `sid` (owned by `user_id`) and
    /// makes `next_jti` current, in one conditional update: of any number of
    /// concurrent calls with the same `jti`, at most one gets `Rotated`.
    /// The token spent last, within `grace_ms` of its rotation, gets `Grace`;
    /// any other spent `jti` revokes the session. The decision between those
    /// two is atomic too.
    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError>;

    /// Ends one session of `user_id` for `reason`; ending an ended one is not an error. Returns
    /// how many sessions it ended (0 or 1).
    async fn revoke_session(&self, sid: &str, user_id: &str, reason: EndReason) -> Result<u64, StoreError>;

    /// Ends every session of `user_id`, but only if refresh token `jti` is
    /// the current one of live session `sid`: a spent or ended token must not
    /// be able to log its user out everywhere. Returns how many sessions ended.
    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str) -> Result<u64, StoreError>;

    /// Deletes expired and revoked sessions, and the entries of the ended-session log that no
    /// longer matter; returns how many sessions.
    async fn purge_ended_sessions(&self) -> Result<u64, StoreError>;

    /// This database's ended-session log's identity.
    async fn ended_log_id(&self) -> Result<String, StoreError>;

    /// The entries of the ended-session log after `after`, oldest first, at most `limit`.
    /// Every session that ends is in it (written in the same transaction), and entries become
    /// visible in `seq` order: a reader that saw `seq` n will never find a new entry before it.
    async fn ended_since(&self, after: i64, limit: i64) -> Result<Vec<EndedSession>, StoreError>;

    /// The newest entry's `seq` (0 for none).
    async fn newest_ended(&self) -> Result<i64, StoreError>;

    /// A wake-up for every transaction that ends sessions, on any instance (PostgreSQL's
    /// `LISTEN`); `None` where the log must be polled (SQLite).
    async fn ended_notices(&self) -> Result<Option<Box<dyn EndedNotices>>, StoreError>;

    /// Every user, oldest first, with the number of live sessions now.
    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Deletes user `user_id` and every session of theirs; `false` if there was no such user.
    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError>;

    /// Ends every live session of `user_id` (an operator's revocation); returns how many ended.
    async fn revoke_all_sessions(&self, user_id: &str) -> Result<u64, StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections (at shutdown, and in tests of a database that is gone).
    async fn close(&self);

    /// Where login attempts per username are counted for every instance on this database;
    /// `None` where one process owns the database (SQLite), which counts them in its memory.
    fn login_attempts(&self) -> Option<Arc<dyn LoginAttempts>>;
}

/// Notices that sessions ended, from any instance on the database.
#[async_trait]
pub trait EndedNotices: Send {
    /// Waits for the next notice. After a lost connection it answers at once (notices may
    /// have been missed: look at the log again) and listens again.
    async fn recv(&mut self) -> Result<(), StoreError>;
}

/// Whether a login attempt counted in the database may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// The username's bucket is empty: one attempt comes back after `retry_after`.
    Refused {
        retry_after: Duration,
    },
}

/// Login attempts per username, counted in the database so that several instances on it
/// give a guesser the tries of one: a GCRA bucket per username key with the same `N/PERIOD`
/// semantics as the in-process limiter, and times from the database's clock.
#[async_trait]
pub trait LoginAttempts: Send + Sync {
    /// Takes one attempt from `username_key`'s bucket, or says when one comes back. The
    /// check and the count are one statement: of any number of concurrent calls, on any
    /// instances, no more pass than the bucket holds.
    async fn take(&self, username_key: &str, rate: Rate) -> Result<Attempt, StoreError>;

    /// Deletes the buckets that are full again (the same as no bucket); returns how many.
    async fn purge_full(&self) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session rotated at 1,000,000 ms, read at `now_ms` by the database's clock.
    fn session(now_ms: i64) -> LiveSession {
        LiveSession {
            current_jti: "current".into(),
            previous_jti: Some("previous".into()),
            rotated_at: Some(1_000_000),
            expires_at: 2_000,
            username: "alice".into(),
            now_ms,
        }
    }

    fn spend(jti: &str, grace_ms: i64) -> Spend<'_> {
        Spend {
            sid: "sid",
            user_id: "user",
            jti,
            next_jti: "next",
            grace_ms,
            access_until: 0,
        }
    }

    #[test]
    fn the_token_spent_last_is_in_grace_only_within_the_window() {
        assert!(session(1_009_999).grace(&spend("previous", 10_000)).is_some());
        assert!(session(1_010_000).grace(&spend("previous", 10_000)).is_none());
        assert!(session(1_000_001).grace(&spend("older", 10_000)).is_none());
    }

    #[test]
    fn no_grace_means_none_and_a_time_before_the_rotation_is_not_grace() {
        assert!(session(1_000_000).grace(&spend("previous", 0)).is_none());
        assert!(session(1_000_000).grace(&spend("previous", 10_000)).is_some());
        // Read "before" the rotation: the clock was stepped back, and how long ago is unknown.
        assert!(session(999_990).grace(&spend("previous", 10_000)).is_none());
    }
}
