//! Telling a database that is down from a query that failed.

/// Whether `err` says the disk under the database is full: SQLite's
/// `SQLITE_FULL`, PostgreSQL's `disk_full` (53100). Nothing was written; reads
/// still work, and writes work again once space is freed.
pub fn is_storage_full(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg.code() == "53100";
    }
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && sqlite_primary_code(db.code().as_deref()) == Some(13)
}

/// SQLite's primary result code (the low byte of an extended one).
fn sqlite_primary_code(code: Option<&str>) -> Option<i32> {
    code.and_then(|code| code.parse::<i32>().ok()).map(|code| code & 0xff)
}

/// Whether `err` means the database cannot be reached or is too busy right
/// now (answered `503`), as opposed to a fault of the query (`500`).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let fatal = pg.severity() == sqlx::postgres::PgSeverity::Fatal;
                return is_unavailable_postgres(pg.code(), fatal);
            }
            // SQLITE_BUSY and SQLITE_LOCKED (and their extended codes): another writer held on too long.
            db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && matches!(sqlite_primary_code(db.code().as_deref()), Some(5 | 6))
        }
        _ => false,
    }
}

/// PostgreSQL error codes (SQLSTATE) that say "not now" rather than "not this query":
/// class 08 (the connection failed), the server shutting down or still starting
/// (57P01, 57P02, 57P03), too many connections (53300), and a statement cut
/// short by `statement_timeout` (57014: the database is too busy to answer in time).
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
}

/// A PostgreSQL error (`fatal`: of FATAL severity, which ends the session) that says "not now".
/// Besides the codes of [`is_unavailable_sqlstate`], SQLSTATE 55000 (object not in prerequisite
/// state) as a FATAL refusal of a new connection: "database … is not currently accepting
/// connections" (`ALTER DATABASE … ALLOW_CONNECTIONS false`, for maintenance or before a drop).
/// The same code as a statement's ERROR is a fault of that statement.
fn is_unavailable_postgres(code: &str, fatal: bool) -> bool {
    is_unavailable_sqlstate(code) || (fatal && code == "55000")
}

/// A failed database call, as a client will see it: try again later (`503`)
/// or not (`500`). The cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("storage full: {0}")]
    StorageFull(sqlx::Error),
    #[error("database error: {0}")]
    Failed(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if is_storage_full(&err) {
            Self::StorageFull(err)
        } else if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Failed(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_unavailable_postgres, is_unavailable_sqlstate};

    #[test]
    fn a_database_refusing_new_connections_is_unavailable_but_a_statement_in_the_wrong_state_is_not() {
        assert!(is_unavailable_postgres("55000", true));
        assert!(!is_unavailable_postgres("55000", false));
        assert!(is_unavailable_postgres("57P03", false));
        assert!(
            !is_unavailable_postgres("28P01", true),
            "a wrong password is a setting to fix"
        );
        assert!(!is_unavailable_postgres("3D000", true), "so is a missing database");
    }

    #[test]
    fn postgres_connection_failures_are_unavailable() {
        for code in [
            "08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "53300", "57014",
        ] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn postgres_query_faults_are_not() {
        // Unique and not-null violations, a syntax error, a missing table, a missing database, a wrong password.
        for code in ["23505", "23502", "42601", "42P01", "3D000", "28P01", "57000", "53100"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }
}
