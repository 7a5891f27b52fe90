//! Black-box tests of the auth server: the real app on port 0, spoken to over HTTP, on SQLite.
//! The modules of `modules.rs` run here and, on PostgreSQL, as the `api_postgres` target
//! (`postgres.rs`); the ones below are SQLite's own.

include!("modules.rs");

// `include!` hides the modules of `modules.rs` from rustfmt; this declaration, compiled out,
// shows it the list, and through it every file the list names.
#[cfg(false)]
#[path = "modules.rs"]
mod modules;

mod full_disk;
mod one_file;

use helpers::Backend;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Sqlite;
