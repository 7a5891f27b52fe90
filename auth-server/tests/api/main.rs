//! Black-box tests of the auth server: the real app on port 0, spoken to over HTTP, on SQLite,
//! with HS256 access tokens. The modules of `modules.rs` run here, on PostgreSQL as the
//! `api_postgres` target (`postgres.rs`), and with EdDSA access tokens as `api_eddsa`
//! (`eddsa.rs`) and `api_postgres_eddsa` (`postgres_eddsa.rs`); the ones below are SQLite's own.

include!("modules.rs");

// `include!` hides the modules of `modules.rs` from rustfmt; this declaration, compiled out,
// shows it the list, and through it every file the list names.
#[cfg(false)]
#[path = "modules.rs"]
mod modules;

mod full_disk;
mod one_file;

use helpers::Backend;
use jwt_tokens::TokenAlgorithm;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Sqlite;
/// How the test servers of this target sign access tokens, unless a test says otherwise.
pub const ALG: TokenAlgorithm = TokenAlgorithm::Hs256;
