//! The black-box tests of `tests/api`, every one of them on PostgreSQL: the same files, with
//! `BACKEND` telling `spawn_app()` and friends to give each test a PostgreSQL database of its
//! own (see `test_support::TestDatabase`), plus the PostgreSQL fault tests of `pg_faults`.
//!
//! Keep the module list that of `tests/api/main.rs`, plus `pg_faults`.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/binary.rs"]
mod binary;
#[path = "../api/cors.rs"]
mod cors;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/errors.rs"]
mod errors;
#[path = "../api/forgery.rs"]
mod forgery;
#[path = "../api/headers.rs"]
mod headers;
#[path = "../api/health.rs"]
mod health;
#[path = "../api/help.rs"]
mod help;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/keys.rs"]
mod keys;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/metrics.rs"]
mod metrics;
#[path = "../api/openapi.rs"]
mod openapi;
#[path = "../api/persistence.rs"]
mod persistence;
#[path = "../api/posts.rs"]
mod posts;

#[path = "../api/pg_faults.rs"]
mod pg_faults;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Postgres;
