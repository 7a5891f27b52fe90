//! Stored sessions made in bulk, straight in the auth server's database (its
//! schema, made by its own migrations at a first start), and refresh tokens for
//! a random sample of them, signed as the server signs them.

use std::str::FromStr;
use std::time::Duration;

use jwt_tokens::{KeySet, RefreshTokens, Secret, TokenSettings, now_unix};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection as _, PgConnection, SqliteConnection};

use crate::Result;

/// The users the seeded sessions belong to.
const USERS: u64 = 1000;
/// Seeded sessions end this long after the run.
const SESSION_DAYS: i64 = 30;

pub struct Seeded {
    sid: String,
    user_id: String,
    jti: String,
    expires_at: i64,
}

fn now_ms() -> i64 {
    i64::try_from(now_unix()).unwrap_or(i64::MAX) * 1000
}

/// Adds `sessions` sessions to the SQLite database at `url` and returns `pick` of them at random.
pub async fn sqlite(url: &str, sessions: u64, pick: u64) -> Result<Vec<Seeded>> {
    let options = SqliteConnectOptions::from_str(url)?.journal_mode(SqliteJournalMode::Wal);
    let mut db = SqliteConnection::connect_with(&options).await?;
    let (now, expires) = (now_ms(), now_ms() / 1000 + SESSION_DAYS * 86_400);
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT OR IGNORE INTO users (id, username, username_key, password_hash, created_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         SELECT 'seed-user-' || i, 'seed' || i, 'seed' || i, 'not a hash: seeded users never log in', ? FROM n",
    )
    .bind(i64::try_from(USERS)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, current_jti, previous_jti, rotated_at, created_at, expires_at, revoked_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         SELECT lower(hex(randomblob(16))), 'seed-user-' || (i % ? + 1), lower(hex(randomblob(16))), \
                NULL, NULL, ?, ?, NULL FROM n",
    )
    .bind(i64::try_from(sessions)?)
    .bind(i64::try_from(USERS)?)
    .bind(now)
    .bind(expires)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let picked = sqlx::query_as::<_, (String, String, String, i64)>(
        "SELECT id, user_id, current_jti, expires_at FROM sessions \
         WHERE user_id LIKE 'seed-user-%' ORDER BY random() LIMIT ?",
    )
    .bind(i64::try_from(pick)?)
    .fetch_all(&mut db)
    .await?;
    db.close().await?;
    Ok(picked.into_iter().map(Seeded::from).collect())
}

/// Adds `sessions` sessions to the PostgreSQL database at `url` and returns `pick` of them at random.
pub async fn postgres(url: &str, sessions: u64, pick: u64) -> Result<Vec<Seeded>> {
    let mut db = PgConnection::connect(url).await?;
    let (now, expires) = (now_ms(), now_ms() / 1000 + SESSION_DAYS * 86_400);
    sqlx::query(
        "INSERT INTO users (id, username, username_key, password_hash, created_at) \
         SELECT 'seed-user-' || i, 'seed' || i, 'seed' || i, 'not a hash: seeded users never log in', $2 \
         FROM generate_series(1, $1) AS i ON CONFLICT DO NOTHING",
    )
    .bind(i64::try_from(USERS)?)
    .bind(now)
    .execute(&mut db)
    .await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, current_jti, previous_jti, rotated_at, created_at, expires_at, revoked_at) \
         SELECT md5(random()::text || i), 'seed-user-' || (i % $2 + 1), md5(random()::text || -i), \
                NULL, NULL, $3, $4, NULL FROM generate_series(1, $1) AS i",
    )
    .bind(i64::try_from(sessions)?)
    .bind(i64::try_from(USERS)?)
    .bind(now)
    .bind(expires)
    .execute(&mut db)
    .await?;
    // Statistics now, so that autovacuum does not start on the new rows mid-measurement.
    sqlx::query("VACUUM ANALYZE users, sessions").execute(&mut db).await?;
    let picked = sqlx::query_as::<_, (String, String, String, i64)>(
        "SELECT id, user_id, current_jti, expires_at FROM sessions \
         WHERE user_id LIKE 'seed-user-%' ORDER BY random() LIMIT $1",
    )
    .bind(i64::try_from(pick)?)
    .fetch_all(&mut db)
    .await?;
    db.close().await?;
    Ok(picked.into_iter().map(Seeded::from).collect())
}

/// How far ahead the seeded ended sessions' `until` lies: none of them lapses during a run.
const ENDED_UNTIL_SECS: i64 = 86_400;

/// Adds `count` ended sessions to the `session_ends` log of the SQLite database at `url`, as
/// the server's triggers write them at a logout (session ids as it makes them: uuids), `until`
/// a day ahead.
pub async fn ended_sessions(url: &str, count: u64) -> Result<()> {
    let options = SqliteConnectOptions::from_str(url)?.journal_mode(SqliteJournalMode::Wal);
    let mut db = SqliteConnection::connect_with(&options).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO session_ends (sid, \"until\", ended_at, reason) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?), \
              h(i, x) AS (SELECT i, lower(hex(randomblob(16))) FROM n) \
         SELECT substr(x, 1, 8) || '-' || substr(x, 9, 4) || '-4' || substr(x, 14, 3) || '-' || \
                substr('89ab', 1 + abs(random()) % 4, 1) || substr(x, 18, 3) || '-' || substr(x, 21, 12), \
                ?, ? + i, 'logout' FROM h",
    )
    .bind(i64::try_from(count)?)
    .bind(now / 1000 + ENDED_UNTIL_SECS)
    .bind(now - i64::try_from(count)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.close().await?;
    Ok(())
}

impl From<(String, String, String, i64)> for Seeded {
    fn from((sid, user_id, jti, expires_at): (String, String, String, i64)) -> Self {
        Self {
            sid,
            user_id,
            jti,
            expires_at,
        }
    }
}

/// Each seeded session's refresh token, signed with `secret` and the default issuer.
pub fn refresh_tokens(secret: &str, sessions: &[Seeded]) -> Result<Vec<String>> {
    let settings = TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    };
    let tokens = RefreshTokens::new(KeySet::single(&Secret::new(secret))?, &settings);
    sessions
        .iter()
        .map(|s| {
            let expires_at = u64::try_from(s.expires_at)?;
            Ok(tokens.issue_at(&s.user_id, &s.sid, &s.jti, now_unix(), expires_at)?)
        })
        .collect()
}

/// `tokens` dealt out to `connections` connections.
pub fn deal(tokens: Vec<String>, connections: usize) -> Vec<Vec<String>> {
    let mut chains = vec![Vec::new(); connections.max(1)];
    for (i, token) in tokens.into_iter().enumerate() {
        chains[i % connections.max(1)].push(token);
    }
    chains
}
