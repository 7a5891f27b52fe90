//! The embedded SQLite implementation of [`AuthStore`].

use std::sync::Arc;

use async_trait::async_trait;
use database::sqlite::{Access, SqlitePools};
use sqlx::migrate::Migrator;

use super::{
    AuthStore, ENDED_KEPT_AFTER_UNTIL_S, EndReason, EndedNotices, EndedSession, LiveSession, LoginAttempts, NewSession,
    NewUser, Rotation, SessionSummary, Spend, StoreError, UserRecord, UserSummary,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Now by SQLite's clock, in Unix milliseconds and seconds: what decides a session's grace,
/// expiry and end, whatever the clock of the process that asks.
macro_rules! now_ms {
    () => {
        "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
    };
}
macro_rules! now_s {
    () => {
        "unixepoch()"
    };
}

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pools: SqlitePools,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`, for a server (the
    /// file's only one) or an operator command beside it.
    pub async fn open(url: &str, access: Access) -> Result<Self, String> {
        let pools = database::sqlite::open(url, &MIGRATOR, access).await?;
        Ok(Self { pools })
    }
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.username_key)
        .bind(&user.password_hash)
        .bind(user.created_at_ms)
        .execute(&self.pools.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(StoreError::UsernameTaken),
            Err(err) => Err(err.into()),
        }
    }

    async fn find_user(&self, username_key: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, UserRecord>("SELECT id, username, password_hash FROM users WHERE username_key = ?")
                .bind(username_key)
                .fetch_optional(&self.pools.reader)
                .await?,
        )
    }

    async fn find_user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, UserRecord>("SELECT id, username, password_hash FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&self.pools.reader)
                .await?,
        )
    }

    async fn session_is_live(&self, sid: &str, user_id: &str) -> Result<bool, StoreError> {
        let live: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(sid)
        .bind(user_id)
        .fetch_optional(&self.pools.reader)
        .await?;
        Ok(live.is_some())
    }

    async fn live_sessions(&self, user_id: &str) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(sqlx::query_as::<_, SessionSummary>(concat!(
            "SELECT id, created_at AS created_at_ms, COALESCE(rotated_at, created_at) AS last_used_at_ms, user_agent \
             FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ",
            now_s!(),
            " ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pools.reader)
        .await?)
    }

    async fn change_password(
        &self,
        user_id: &str,
        keep_sid: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pools.writer.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ? AND EXISTS ( \
                 SELECT 1 FROM sessions WHERE sessions.id = ? AND sessions.user_id = users.id \
                   AND sessions.revoked_at IS NULL AND sessions.expires_at > ",
            now_s!(),
            ")"
        ))
        .bind(new_hash)
        .bind(user_id)
        .bind(old_hash)
        .bind(keep_sid)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        let ended = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(EndReason::PasswordChange.as_str())
        .bind(user_id)
        .bind(keep_sid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ended.rows_affected()))
    }

    async fn create_session(&self, session: &NewSession) -> Result<(i64, i64), StoreError> {
        // Read to completion: the commit's outcome is the statement's.
        let stored: Vec<(i64, i64)> = sqlx::query_as(concat!(
            "INSERT INTO sessions (id, user_id, current_jti, created_at, expires_at, access_until, user_agent) \
             VALUES (?, ?, ?, ",
            now_ms!(),
            ", ",
            now_s!(),
            " + ?, ?, ?) RETURNING created_at, expires_at"
        ))
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(&session.jti)
        .bind(session.ttl_s)
        .bind(session.access_until)
        .bind(&session.user_agent)
        .fetch_all(&self.pools.writer)
        .await?;
        stored.into_iter().next().ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError> {
        // The compare-and-swap on `current_jti` is the whole guarantee: the
        // database applies it to one request at a time. Run to completion (`fetch_all`), so
        // that a commit that fails (a full disk) is an error, not a row already handed out.
        let rotated: Vec<(i64, i64, String)> = sqlx::query_as(concat!(
            "UPDATE sessions SET previous_jti = current_jti, current_jti = ?, rotated_at = ",
            now_ms!(),
            ", access_until = MAX(COALESCE(access_until, 0), ?) WHERE id = ? AND user_id = ? AND current_jti = ? AND revoked_at IS NULL AND expires_at > ",
            now_s!(),
            " RETURNING expires_at, rotated_at, (SELECT username FROM users WHERE users.id = sessions.user_id)"
        ))
        .bind(spend.next_jti)
        .bind(spend.access_until)
        .bind(spend.sid)
        .bind(spend.user_id)
        .bind(spend.jti)
        .fetch_all(&self.pools.writer)
        .await?;
        if let Some((expires_at, rotated_at_ms, username)) = rotated.into_iter().next() {
            return Ok(Rotation::Rotated {
                username,
                expires_at,
                rotated_at_ms,
            });
        }
        // Not current. Read the live session and decide in one transaction
        // on the single writer connection, so no rotation slips in between.
        let mut tx = self.pools.writer.begin().await?;
        let live: Option<LiveSession> = sqlx::query_as(concat!(
            "SELECT sessions.current_jti, sessions.previous_jti, sessions.rotated_at, sessions.expires_at, \
                    users.username, ",
            now_ms!(),
            " AS now_ms \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.id = ? AND sessions.user_id = ? AND sessions.revoked_at IS NULL \
               AND sessions.expires_at > ",
            now_s!()
        ))
        .bind(spend.sid)
        .bind(spend.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match live {
            None => Rotation::Ended,
            Some(session) => match session.grace(&spend) {
                Some(grace) => {
                    // The access token handed out again is a new one: its end is the session's too.
                    sqlx::query("UPDATE sessions SET access_until = MAX(COALESCE(access_until, 0), ?) WHERE id = ?")
                        .bind(spend.access_until)
                        .bind(spend.sid)
                        .execute(&mut *tx)
                        .await?;
                    grace
                }
                None => {
                    sqlx::query(concat!(
                        "UPDATE sessions SET revoked_at = ",
                        now_ms!(),
                        ", end_reason = 'reuse' WHERE id = ?"
                    ))
                    .bind(spend.sid)
                    .execute(&mut *tx)
                    .await?;
                    Rotation::Reused
                }
            },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn revoke_session(&self, sid: &str, user_id: &str, reason: EndReason) -> Result<u64, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(reason.as_str())
        .bind(sid)
        .bind(user_id)
        .execute(&self.pools.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = 'global_logout' WHERE user_id = ? AND revoked_at IS NULL AND EXISTS ( \
                 SELECT 1 FROM sessions AS presented \
                 WHERE presented.id = ? AND presented.user_id = ? AND presented.current_jti = ? \
                   AND presented.revoked_at IS NULL AND presented.expires_at > ",
            now_s!(),
            ")"
        ))
        .bind(user_id)
        .bind(sid)
        .bind(user_id)
        .bind(jti)
        .execute(&self.pools.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn purge_ended_sessions(&self) -> Result<u64, StoreError> {
        let mut tx = self.pools.writer.begin().await?;
        let done = sqlx::query(concat!(
            "DELETE FROM sessions WHERE expires_at <= ",
            now_s!(),
            " OR revoked_at IS NOT NULL"
        ))
        .execute(&mut *tx)
        .await?;
        sqlx::query(concat!("DELETE FROM session_ends WHERE until < ", now_s!(), " - ?"))
            .bind(ENDED_KEPT_AFTER_UNTIL_S)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn ended_log_id(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT log_id FROM feed_log WHERE id = 1")
            .fetch_one(&self.pools.reader)
            .await?)
    }

    async fn ended_since(&self, after: i64, limit: i64) -> Result<Vec<EndedSession>, StoreError> {
        Ok(sqlx::query_as::<_, EndedSession>(
            "SELECT seq, sid, until FROM session_ends WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pools.reader)
        .await?)
    }

    async fn newest_ended(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM session_ends")
            .fetch_one(&self.pools.reader)
            .await?)
    }

    async fn ended_notices(&self) -> Result<Option<Box<dyn EndedNotices>>, StoreError> {
        // Operator commands write the file from another process: the log is polled.
        Ok(None)
    }

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        Ok(sqlx::query_as::<_, UserSummary>(concat!(
            "SELECT users.id, users.username, users.created_at AS created_at_ms, \
                    (SELECT COUNT(*) FROM sessions \
                     WHERE sessions.user_id = users.id AND sessions.revoked_at IS NULL \
                       AND sessions.expires_at > ",
            now_s!(),
            ") AS live_sessions \
             FROM users ORDER BY users.created_at, users.username_key"
        ))
        .fetch_all(&self.pools.reader)
        .await?)
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        // The sessions go first and explicitly, whatever the foreign keys would do.
        let mut tx = self.pools.writer.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_all_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = 'operator' WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(user_id)
        .execute(&self.pools.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pools.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pools.close().await;
    }

    fn login_attempts(&self) -> Option<Arc<dyn LoginAttempts>> {
        // One process owns the file: its in-memory limiter sees every attempt.
        None
    }
}
