//! The PostgreSQL implementation of [`AuthStore`], for several instances on one database.
//!
//! Every guarantee is a statement's or a transaction's: the rotation is a
//! conditional `UPDATE` (under READ COMMITTED, a second `UPDATE` of the same
//! row waits for the first and re-checks its `WHERE` against the new row), and
//! the choice between the grace period and revocation holds the row with
//! `FOR UPDATE`. Nothing depends on the memory of one process.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use database::postgres::DatabaseArgs;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use service_kit::rate_limit::Rate;

use super::{
    Attempt, AuthStore, ENDED_KEPT_AFTER_UNTIL_S, EndReason, EndedNotices, EndedSession, LiveSession, LoginAttempts,
    NewSession, NewUser, Rotation, SessionSummary, Spend, StoreError, UserRecord, UserSummary,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Now by PostgreSQL's clock (`clock_timestamp()`, not the transaction's start), in Unix
/// milliseconds and seconds: what decides a session's grace, expiry and end, whichever
/// instance asks and whatever its own clock says.
macro_rules! now_ms {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}
macro_rules! now_s {
    () => {
        "FLOOR(EXTRACT(EPOCH FROM clock_timestamp()))::BIGINT"
    };
}

/// The lock that gives the ended-session log one writer at a time (migration 0003): taken first
/// in every transaction that may end a session, before any row lock, so that two such
/// transactions never wait on each other in opposite orders.
const LOG_LOCK: &str = "SELECT pg_advisory_xact_lock(7243016539)";

/// The channel the log's trigger notifies at each commit that ended sessions.
const ENDED_CHANNEL: &str = "session_ends";

async fn lock_log(tx: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(LOG_LOCK).execute(tx).await.map(drop)
}

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects (waiting for a database that is still starting) and migrates the database at `url`.
    pub async fn open(url: &str, args: &DatabaseArgs) -> Result<Self, String> {
        let pool = database::postgres::open(url, &MIGRATOR, args).await?;
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

    async fn find_user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, UserRecord>("SELECT id, username, password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn session_is_live(&self, sid: &str, user_id: &str) -> Result<bool, StoreError> {
        let live: Option<i32> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(sid)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(live.is_some())
    }

    async fn live_sessions(&self, user_id: &str) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(sqlx::query_as::<_, SessionSummary>(concat!(
            "SELECT id, created_at AS created_at_ms, COALESCE(rotated_at, created_at) AS last_used_at_ms, user_agent \
             FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > ",
            now_s!(),
            " ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn change_password(
        &self,
        user_id: &str,
        keep_sid: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Option<u64>, StoreError> {
        // The log's lock first, before the user's row lock: this transaction ends sessions.
        // A second change with the same current password waits on the row and then finds the
        // hash replaced: of two concurrent changes, one wins.
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3 AND EXISTS ( \
                 SELECT 1 FROM sessions WHERE sessions.id = $4 AND sessions.user_id = users.id \
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
            ", end_reason = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL AND expires_at > ",
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
        // Read to completion: an error after the row (the commit) is not lost.
        let stored: Vec<(i64, i64)> = sqlx::query_as(concat!(
            "INSERT INTO sessions (id, user_id, current_jti, created_at, expires_at, access_until, user_agent) \
             VALUES ($1, $2, $3, ",
            now_ms!(),
            ", ",
            now_s!(),
            " + $4, $5, $6) RETURNING created_at, expires_at"
        ))
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(&session.jti)
        .bind(session.ttl_s)
        .bind(session.access_until)
        .bind(&session.user_agent)
        .fetch_all(&self.pool)
        .await?;
        stored.into_iter().next().ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    async fn rotate(&self, spend: Spend<'_>) -> Result<Rotation, StoreError> {
        // Read to completion: an error after the row (the commit) is not lost.
        let rotated: Vec<(i64, i64, String)> = sqlx::query_as(concat!(
            "UPDATE sessions SET previous_jti = current_jti, current_jti = $1, rotated_at = ",
            now_ms!(),
            ", access_until = GREATEST(COALESCE(access_until, 0), $5) WHERE id = $2 AND user_id = $3 AND current_jti = $4 AND revoked_at IS NULL AND expires_at > ",
            now_s!(),
            " RETURNING expires_at, rotated_at, (SELECT username FROM users WHERE users.id = sessions.user_id)"
        ))
        .bind(spend.next_jti)
        .bind(spend.sid)
        .bind(spend.user_id)
        .bind(spend.jti)
        .bind(spend.access_until)
        .fetch_all(&self.pool)
        .await?;
        if let Some((expires_at, rotated_at_ms, username)) = rotated.into_iter().next() {
            return Ok(Rotation::Rotated {
                username,
                expires_at,
                rotated_at_ms,
            });
        }
        // Not current: hold the live session's row while deciding, so that no
        // rotation on another instance slips in between. The clock is read after the lock. The
        // log's lock comes first: this transaction may end the session.
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let live: Option<LiveSession> = sqlx::query_as(concat!(
            "SELECT sessions.current_jti, sessions.previous_jti, sessions.rotated_at, sessions.expires_at, \
                    users.username, ",
            now_ms!(),
            " AS now_ms \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.id = $1 AND sessions.user_id = $2 AND sessions.revoked_at IS NULL \
               AND sessions.expires_at > ",
            now_s!(),
            " FOR UPDATE OF sessions"
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
                    sqlx::query(
                        "UPDATE sessions SET access_until = GREATEST(COALESCE(access_until, 0), $1) WHERE id = $2",
                    )
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
                        ", end_reason = 'reuse' WHERE id = $1"
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
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(sid)
        .bind(user_id)
        .bind(reason.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_sessions(&self, sid: &str, user_id: &str, jti: &str) -> Result<u64, StoreError> {
        // One statement: the presented session is checked and every session
        // ended against the same snapshot.
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = 'global_logout' WHERE user_id = $1 AND revoked_at IS NULL AND EXISTS ( \
                 SELECT 1 FROM sessions AS presented \
                 WHERE presented.id = $2 AND presented.user_id = $1 AND presented.current_jti = $3 \
                   AND presented.revoked_at IS NULL AND presented.expires_at > ",
            now_s!(),
            ")"
        ))
        .bind(user_id)
        .bind(sid)
        .bind(jti)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn purge_ended_sessions(&self) -> Result<u64, StoreError> {
        // Only sessions that have ended already: no entry of the log is written.
        let done = sqlx::query(concat!(
            "DELETE FROM sessions WHERE expires_at <= ",
            now_s!(),
            " OR revoked_at IS NOT NULL"
        ))
        .execute(&self.pool)
        .await?;
        sqlx::query(concat!("DELETE FROM session_ends WHERE until < ", now_s!(), " - $1"))
            .bind(ENDED_KEPT_AFTER_UNTIL_S)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn ended_log_id(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT log_id FROM feed_log WHERE id = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn ended_since(&self, after: i64, limit: i64) -> Result<Vec<EndedSession>, StoreError> {
        Ok(sqlx::query_as::<_, EndedSession>(
            "SELECT seq, sid, until FROM session_ends WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn newest_ended(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM session_ends")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn ended_notices(&self) -> Result<Option<Box<dyn EndedNotices>>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(ENDED_CHANNEL).await?;
        Ok(Some(Box::new(Notices(listener))))
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
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        // The sessions go first and explicitly, whatever the foreign keys would do; the live
        // ones are written to the log.
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
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

    async fn revoke_all_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let done = sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = ",
            now_ms!(),
            ", end_reason = 'operator' WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > ",
            now_s!()
        ))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn login_attempts(&self) -> Option<Arc<dyn LoginAttempts>> {
        Some(Arc::new(self.clone()))
    }
}

/// GCRA in one statement: a bucket is its theoretical arrival time `tat`; an attempt passes
/// when `tat - tolerance <= now()` and moves it to `max(tat, now()) + interval`, which is what
/// governor does in memory. `INSERT … ON CONFLICT DO UPDATE` takes the row lock and evaluates
/// its `WHERE` against the newest committed row, so concurrent attempts on any instances
/// are counted one after the other; a refused attempt still holds the lock, so the
/// `Retry-After` read next in the same transaction sees the row the refusal was decided on.
#[async_trait]
impl LoginAttempts for PostgresStore {
    async fn take(&self, username_key: &str, rate: Rate) -> Result<Attempt, StoreError> {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let (interval, tolerance) = (micros(rate.emission_interval()), micros(rate.tolerance()));
        let mut tx = self.pool.begin().await?;
        // `clock_timestamp()`, not `now()`: `now()` is when the transaction began, and an
        // attempt that waited for another's row lock would be judged at a time before the
        // other's, refused with room left in the bucket and told to come back in a second.
        let taken = sqlx::query(
            "INSERT INTO login_attempts AS bucket (username_key, tat) \
             VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond') \
             ON CONFLICT (username_key) DO UPDATE \
             SET tat = greatest(bucket.tat, clock_timestamp()) + $2 * interval '1 microsecond' \
             WHERE bucket.tat - $3 * interval '1 microsecond' <= clock_timestamp()",
        )
        .bind(username_key)
        .bind(interval)
        .bind(tolerance)
        .execute(&mut *tx)
        .await?;
        // The wait is counted from now, after the lock.
        let attempt = if taken.rows_affected() > 0 {
            Attempt::Allowed
        } else {
            let wait: Option<i64> = sqlx::query_scalar(
                "SELECT (EXTRACT(EPOCH FROM (tat - clock_timestamp())) * 1000000)::bigint - $2 \
                 FROM login_attempts WHERE username_key = $1",
            )
            .bind(username_key)
            .bind(tolerance)
            .fetch_optional(&mut *tx)
            .await?;
            let wait = u64::try_from(wait.unwrap_or_default()).unwrap_or_default();
            Attempt::Refused {
                retry_after: Duration::from_micros(wait),
            }
        };
        tx.commit().await?;
        Ok(attempt)
    }

    async fn purge_full(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_attempts WHERE tat <= now()")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// `LISTEN session_ends` on a connection of its own.
struct Notices(sqlx::postgres::PgListener);

#[async_trait]
impl EndedNotices for Notices {
    async fn recv(&mut self) -> Result<(), StoreError> {
        // `None`: the connection was lost (and is made again at the next call); what was
        // notified meanwhile is lost, so the caller looks at the log.
        self.0.try_recv().await?;
        Ok(())
    }
}
