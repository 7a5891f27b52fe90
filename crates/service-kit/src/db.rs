//! Telling a database that is down from a query that failed.

/// Whether `err` means the database cannot be reached or is too busy right
/// now (answered `503`), as opposed to a fault of the query (`500`).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        // SQLITE_BUSY and SQLITE_LOCKED (and their extended codes): another writer held on too long.
        sqlx::Error::Database(db) => {
            db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        _ => false,
    }
}
