//! Opening an embedded SQLite database the way a server needs it.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// SQLite allows one writer at a time: writes go through a pool of one
/// connection (so they queue in the pool instead of failing with
/// `database is locked`), reads through a pool of several (WAL lets them run
/// beside the writer).
///
/// A server's pools also hold the file's server lock (see [`Access::Server`])
/// until [`SqlitePools::close`].
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub writer: SqlitePool,
    pub reader: SqlitePool,
    lock: Arc<Mutex<Option<File>>>,
}

impl SqlitePools {
    /// Closes both pools (SQLite folds the write-ahead log back in) and then
    /// releases the server lock, so another server may open the file.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        drop(
            self.lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
    }
}

/// Who opens the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A server: the only one on this file for as long as it runs. Its answers
    /// rely on that (posts-server keeps each user's list in memory between that
    /// user's writes), so a second server on the file refuses to start.
    Server,
    /// An operator command: short transactions beside a running server, which
    /// SQLite's own locking keeps consistent.
    Shared,
}

/// The lock file beside the database that a server holds for its whole life:
/// `auth.db` → `auth.db.lock`. A lock of the operating system (`flock`), so it
/// goes away with the process, however it ends. It is a file of its own because
/// SQLite's locks on the database file itself are dropped when any descriptor
/// of that file in the process is closed.
pub fn lock_path(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    name.into()
}

fn lock_for_server(database: &Path) -> Result<File, String> {
    let path = lock_path(database);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot create the lock file {} ({e})", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another running server; SQLite serves one server process per file \
             (use PostgreSQL for several instances)",
            database.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {} ({e})", path.display())),
    }
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
///
/// A [`Access::Server`] open fails while another server holds the file.
pub async fn open(url: &str, migrator: &Migrator, access: Access) -> Result<SqlitePools, String> {
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
    let lock = match access {
        Access::Server => Some(lock_for_server(&path)?),
        Access::Shared => None,
    };
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
    Ok(SqlitePools {
        writer,
        reader,
        lock: Arc::new(Mutex::new(lock)),
    })
}

/// How often the write-ahead log is folded back into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    // A checkpoint fails every second while the disk is full: said once, and when it works again.
    let mut failing = false;
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            Err(_) if pool.is_closed() => return,
            Err(err) if !failing => {
                tracing::warn!(%err, "SQLite checkpoint failed; retried every second");
                failing = true;
            }
            Err(_) => {}
            Ok(_) if failing => {
                tracing::info!("SQLite checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
        }
    }
}
