//! The embedded SQLite implementation of [`AuthStore`].

use async_trait::async_trait;
use service_kit::sqlite::SqlitePools;
use sqlx::migrate::Migrator;

use super::{AuthStore, LiveSession, NewSession, NewUser, Rotation, Spend, StoreError, UserRecord, UserSummary};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pools: SqlitePools,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Self, String> {
        let pools = service_kit::sqlite::open(url, &MIGRATOR).await?;
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

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id, user_id, current_jti, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&session.id)
            .bind(&session.user_id)
            .bind(&session.jti)
            .bind(session.created_at_ms)
            .bind(session.expires_at)
            .execute(&self.pools.writer)
            .await?;
        Ok(())
    }

    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError> {
        let now_s = spend.now_ms / 1000;
        // The compare-and-swap on `current_jti` is the whole guarantee: the
        // database applies it to one request at a time.
        let rotated: Option<(i64, String)> = sqlx::query_as(
            "UPDATE sessions SET previous_jti = current_jti, current_jti = ?, rotated_at = ? \
             WHERE id = ? AND user_id = ? AND current_jti = ? AND revoked_at IS NULL AND expires_at > ? \
             RETURNING expires_at, (SELECT username FROM users WHERE users.id = sessions.user_id)",
        )
        .bind(spend.next_jti)
        .bind(spend.now_ms)
        .bind(spend.sid)
        .bind(spend.user_id)
        .bind(spend.jti)
        .bind(now_s)
        .fetch_optional(&self.pools.writer)
        .await?;
        if let Some((expires_at, username)) = rotated {
            return Ok(Rotation::Rotated { username, expires_at });
        }
        // Not current. Read the live session and decide in one transaction
        // on the single writer connection, so no rotation slips in between.
        let mut tx = self.pools.writer.begin().await?;
        let live: Option<LiveSession> = sqlx::query_as(
            "SELECT sessions.current_jti, sessions.previous_jti, sessions.rotated_at, sessions.expires_at, \
                    users.username \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.id = ? AND sessions.user_id = ? AND sessions.revoked_at IS NULL \
               AND sessions.expires_at > ?",
        )
        .bind(spend.sid)
        .bind(spend.user_id)
        .bind(now_s)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match live {
            None => Rotation::Ended,
            Some(session) => match session.grace(&spend) {
                Some(grace) => grace,
                None => {
                    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ?")
                        .bind(spend.now_ms)
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

    async fn revoke_session(&self, sid: &str, user_id: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL")
                .bind(now_ms)
                .bind(sid)
                .bind(user_id)
                .execute(&self.pools.writer)
                .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND EXISTS ( \
                 SELECT 1 FROM sessions AS presented \
                 WHERE presented.id = ? AND presented.user_id = ? AND presented.current_jti = ? \
                   AND presented.revoked_at IS NULL AND presented.expires_at > ?)",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(sid)
        .bind(user_id)
        .bind(jti)
        .bind(now_ms / 1000)
        .execute(&self.pools.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn purge_ended_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ? OR revoked_at IS NOT NULL")
            .bind(now_ms / 1000)
            .execute(&self.pools.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_users(&self, now_ms: i64) -> Result<Vec<UserSummary>, StoreError> {
        Ok(sqlx::query_as::<_, UserSummary>(
            "SELECT users.id, users.username, users.created_at AS created_at_ms, \
                    (SELECT COUNT(*) FROM sessions \
                     WHERE sessions.user_id = users.id AND sessions.revoked_at IS NULL \
                       AND sessions.expires_at > ?) AS live_sessions \
             FROM users ORDER BY users.created_at, users.username_key",
        )
        .bind(now_ms / 1000)
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

    async fn revoke_all_sessions(&self, user_id: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(now_ms / 1000)
        .execute(&self.pools.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pools.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pools.writer.close().await;
        self.pools.reader.close().await;
    }
}
