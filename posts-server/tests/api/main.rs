//! Black-box tests: the real app on port 0, spoken to over HTTP, on SQLite. The same files run
//! on PostgreSQL as the `api_postgres` target, whose module list is this one's plus `pg_faults`.

mod auth;
mod bad_input;
mod binary;
mod connections;
mod cors;
mod crash;
mod errors;
mod forgery;
mod full_disk;
mod headers;
mod health;
mod help;
mod helpers;
mod keys;
mod limits;
mod metrics;
mod one_file;
mod openapi;
mod persistence;
mod posts;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Sqlite;
