//! Opening an embedded SQLite database the way a server needs it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// SQLite allows one writer at a time: writes go through a pool of one
/// connection (so they queue in the pool instead of failing with
/// `database is locked`), reads through a pool of several (WAL lets them run
/// beside the writer).
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub writer: SqlitePool,
    pub reader: SqlitePool,
}

/// Opens (creating the file and its folder if missing) the database at a
/// `sqlite://path` URL, in WAL mode with `synchronous=NORMAL`: a committed
/// write survives the process being killed; the last commits before a power
/// loss may not.
///
/// The write-ahead log is folded back into the database file by a task of its
/// own, every [`CHECKPOINT_EVERY`], on a reader connection, instead of by
/// whichever commit happens to fill 1,000 pages of log: that commit would wait
/// for the copy and its `fsync` (milliseconds), and every request queued
/// behind it on the one writer connection too. A passive checkpoint never
/// blocks readers or the writer. The task ends when the pools are closed.
pub async fn open(url: &str, migrator: &Migrator) -> Result<SqlitePools, String> {
    // Each pool would get a database of its own: nothing written would be read.
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err("in-memory SQLite is not supported; give a file path (sqlite://data/name.db)".into());
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("not a usable SQLite URL ({e})"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        .pragma("wal_autocheckpoint", "0");
    let path = options.get_filename().to_path_buf();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {} ({e})", dir.display()))?;
    }
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .map_err(|e| format!("cannot open {} ({e})", path.display()))?;
    migrator
        .run(&writer)
        .await
        .map_err(|e| format!("cannot migrate {} ({e})", path.display()))?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2) as u32;
    let reader = SqlitePoolOptions::new()
        .max_connections(readers)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open {} ({e})", path.display()))?;
    tokio::spawn(checkpoints(reader.clone()));
    Ok(SqlitePools { writer, reader })
}

/// How often the write-ahead log is folded back into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(%err, "SQLite checkpoint failed; retried in a second");
        }
    }
}
