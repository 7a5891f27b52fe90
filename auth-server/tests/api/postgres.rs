//! The black-box tests of `modules.rs` (see `main.rs`), every one of them on PostgreSQL: the
//! same files, with `BACKEND` telling `spawn_app()` and friends to give each test a PostgreSQL
//! database of its own (see `test_support::TestDatabase`), plus what only PostgreSQL has:
//! several auth-server processes on one database (`instances`), on clocks that differ
//! (`clocks`), and the database failing under a server (`pg_faults`).
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

include!("modules.rs");

mod clocks;
mod instances;
mod pg_faults;

use helpers::Backend;
use jwt_tokens::TokenAlgorithm;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Postgres;
/// How the test servers of this target sign access tokens, unless a test says otherwise.
pub const ALG: TokenAlgorithm = TokenAlgorithm::Hs256;
