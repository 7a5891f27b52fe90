//! The PostgreSQL implementation of [`AuthStore`], for several instances on one database.
//!
//! Every guarantee is a statement's or a transaction's: the rotation is a
//! conditional `UPDATE` (under READ COMMITTED, a second `UPDATE` of the same
//! row waits for the first and re-checks its `WHERE` against the new row), and
//! the choice between the grace period and revocation holds the row with
//! `FOR UPDATE`. Nothing depends on the memory of one process.

use async_trait::async_trait;
use service_kit::postgres::DatabaseArgs;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use super::{AuthStore, LiveSession, NewSession, NewUser, Rotation, Spend, StoreError, UserRecord, UserSummary};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects (waiting for a database that is still starting) and migrates the database at `url`.
    pub async fn open(url: &str, args: &DatabaseArgs) -> Result<Self, String> {
        let pool = service_kit::postgres::open(url, &MIGRATOR, args).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl AuthStore for PostgresStore {
    async fn create_user(&self, user: &NewUser) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.username_key)
        .bind(&user.password_hash)
        .bind(user.created_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(StoreError::UsernameTaken),
            Err(err) => Err(err.into()),
        }
    }

    async fn find_user(&self, username_key: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, UserRecord>("SELECT id, username, password_hash FROM users WHERE username_key = $1")
                .bind(username_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, current_jti, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(&session.jti)
        .bind(session.created_at_ms)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError> {
        let now_s = spend.now_ms / 1000;
        let rotated: Option<(i64, String)> = sqlx::query_as(
            "UPDATE sessions SET previous_jti = current_jti, current_jti = $1, rotated_at = $2 \
             WHERE id = $3 AND user_id = $4 AND current_jti = $5 AND revoked_at IS NULL AND expires_at > $6 \
             RETURNING expires_at, (SELECT username FROM users WHERE users.id = sessions.user_id)",
        )
        .bind(spend.next_jti)
        .bind(spend.now_ms)
        .bind(spend.sid)
        .bind(spend.user_id)
        .bind(spend.jti)
        .bind(now_s)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((expires_at, username)) = rotated {
            return Ok(Rotation::Rotated { username, expires_at });
        }
        // Not current: hold the live session's row while deciding, so that no
        // rotation on another instance slips in between.
        let mut tx = self.pool.begin().await?;
        let live: Option<LiveSession> = sqlx::query_as(
            "SELECT sessions.current_jti, sessions.previous_jti, sessions.rotated_at, sessions.expires_at, \
                    users.username \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.id = $1 AND sessions.user_id = $2 AND sessions.revoked_at IS NULL \
               AND sessions.expires_at > $3 \
             FOR UPDATE OF sessions",
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
                    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
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
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now_ms)
                .bind(sid)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str, now_ms: i64) -> Result<u64, StoreError> {
        // One statement: the presented session is checked and every session
        // ended against the same snapshot.
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND EXISTS ( \
                 SELECT 1 FROM sessions AS presented \
                 WHERE presented.id = $3 AND presented.user_id = $2 AND presented.current_jti = $4 \
                   AND presented.revoked_at IS NULL AND presented.expires_at > $5)",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(sid)
        .bind(jti)
        .bind(now_ms / 1000)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn purge_ended_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
            .bind(now_ms / 1000)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_users(&self, now_ms: i64) -> Result<Vec<UserSummary>, StoreError> {
        Ok(sqlx::query_as::<_, UserSummary>(
            "SELECT users.id, users.username, users.created_at AS created_at_ms, \
                    (SELECT COUNT(*) FROM sessions \
                     WHERE sessions.user_id = users.id AND sessions.revoked_at IS NULL \
                       AND sessions.expires_at > $1) AS live_sessions \
             FROM users ORDER BY users.created_at, users.username_key",
        )
        .bind(now_ms / 1000)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        // The sessions go first and explicitly, whatever the foreign keys would do.
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_all_sessions(&self, user_id: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(now_ms / 1000)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
