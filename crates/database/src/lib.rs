//! Opening the servers' databases: an embedded SQLite file held by one server at a time
//! ([`sqlite`]), a PostgreSQL pool sized and timed by [`postgres::DatabaseArgs`] ([`postgres`]),
//! each with its migrations applied; and what a failed query means for a client ([`DbError`]:
//! try again later, or not).

pub mod error;
pub mod postgres;
pub mod sqlite;

pub use error::{DbError, is_storage_full, is_unavailable};
