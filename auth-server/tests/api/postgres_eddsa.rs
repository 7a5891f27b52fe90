//! The black-box tests of `modules.rs` (see `main.rs`) on PostgreSQL, every test server signing
//! access tokens with Ed25519 (`ACCESS_TOKEN_ALG=EdDSA`) unless the test says otherwise (see
//! `eddsa.rs`); each test gets a PostgreSQL database of its own, as in `postgres.rs`.
//!
//! PostgreSQL's own modules of `postgres.rs` (`clocks`, `instances`, `pg_faults`) are not
//! repeated here: what they check lives in the database (the grace window timed by its clock,
//! sessions and rate limits shared by several processes, connections that fail), and none of
//! them verifies an access token, so the algorithm that signs them changes nothing there.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

include!("modules.rs");

use helpers::Backend;
use jwt_tokens::TokenAlgorithm;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Postgres;
/// How the test servers of this target sign access tokens, unless a test says otherwise.
pub const ALG: TokenAlgorithm = TokenAlgorithm::EdDsa;
