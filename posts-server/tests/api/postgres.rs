//! The black-box tests of `modules.rs` (see `main.rs`), every one of them on PostgreSQL: the
//! same files, with `BACKEND` telling `spawn_app()` and friends to give each test a PostgreSQL
//! database of its own (see `test_support::TestDatabase`), plus the PostgreSQL fault tests of
//! `pg_faults`.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

include!("modules.rs");

mod pg_faults;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Postgres;
