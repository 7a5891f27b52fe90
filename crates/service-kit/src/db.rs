//! Telling a database that is down from a query that failed.

use crate::ApiError;

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

/// A failed database call, as a client will see it: try again later (`503`)
/// or not (`500`). The cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Failed(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Failed(err)
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => ApiError::unavailable(cause),
            DbError::Failed(cause) => ApiError::internal(cause),
        }
    }
}
