//! Black-box tests: the real app on port 0, spoken to over HTTP, on SQLite, verifying HS256
//! access tokens. The modules of `modules.rs` run here, on PostgreSQL as the `api_postgres`
//! target (`postgres.rs`), and in `EdDSA` mode as `api_eddsa` and `api_postgres_eddsa`; the
//! ones below are SQLite's own.

include!("modules.rs");

// `include!` hides the modules of `modules.rs` from rustfmt; this declaration, compiled out,
// shows it the list, and through it every file the list names.
#[cfg(false)]
#[path = "modules.rs"]
mod modules;

// These test the server's storage and connections, which do not depend on how tokens are
// signed: they run here alone, not in `api_eddsa` too.
mod connections;
mod full_disk;
mod one_file;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Sqlite;
/// How every test server of this target verifies access tokens.
pub const ALG: jwt_tokens::TokenAlgorithm = jwt_tokens::TokenAlgorithm::Hs256;
