//! The black-box tests of `modules.rs` (see `main.rs`) on PostgreSQL with
//! `ACCESS_TOKEN_ALG=EdDSA` (see `eddsa.rs`).
//!
//! The `EdDSA` modules of `eddsa.rs` (`follow`, `rotation`) test how the server follows the auth
//! server's keys, which does not depend on where posts are kept, and mostly wait for refresh
//! intervals: they run in `api_eddsa` alone. The PostgreSQL fault tests of `pg_faults` test the
//! database under the server, which does not depend on how tokens are signed: they run in
//! `api_postgres` alone.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

include!("modules.rs");

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Postgres;
/// How every test server of this target verifies access tokens.
pub const ALG: jwt_tokens::TokenAlgorithm = jwt_tokens::TokenAlgorithm::EdDsa;
