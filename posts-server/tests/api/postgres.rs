//! The black-box tests of `modules.rs` (see `main.rs`), every one of them on PostgreSQL: the
//! same files, with `BACKEND` telling `spawn_app()` and friends to give each test a PostgreSQL
//! database of its own (see `test_support::TestDatabase`), plus the PostgreSQL fault tests of
//! `pg_faults`.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

include!("modules.rs");

// These test PostgreSQL failing under the server, which does not depend on how tokens are
// signed: they run here alone, not in `api_postgres_eddsa` too.
mod pg_faults;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Postgres;
/// How every test server of this target verifies access tokens.
pub const ALG: jwt_tokens::TokenAlgorithm = jwt_tokens::TokenAlgorithm::Hs256;
