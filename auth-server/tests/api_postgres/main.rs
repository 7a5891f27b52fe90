//! The black-box tests of `tests/api`, every one of them on PostgreSQL: the same files, with
//! `BACKEND` telling `spawn_app()` and friends to give each test a PostgreSQL database of its
//! own (see `test_support::TestDatabase`), plus what only PostgreSQL has: several auth-server
//! processes on one database (`instances`) and the database failing under a server (`pg_faults`).
//!
//! Keep the module list that of `tests/api/main.rs`, plus those two.
//!
//! Where PostgreSQL cannot be reached, every test fails, saying so: none is skipped.

#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/binary.rs"]
mod binary;
#[path = "../api/cli.rs"]
mod cli;
#[path = "../api/cors.rs"]
mod cors;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/errors.rs"]
mod errors;
#[path = "../api/forgery.rs"]
mod forgery;
#[path = "../api/grace.rs"]
mod grace;
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
#[path = "../api/login.rs"]
mod login;
#[path = "../api/logout.rs"]
mod logout;
#[path = "../api/metrics.rs"]
mod metrics;
#[path = "../api/openapi.rs"]
mod openapi;
#[path = "../api/persistence.rs"]
mod persistence;
#[path = "../api/purge.rs"]
mod purge;
#[path = "../api/register.rs"]
mod register;
#[path = "../api/token.rs"]
mod token;

#[path = "../api/clocks.rs"]
mod clocks;
#[path = "../api/instances.rs"]
mod instances;
#[path = "../api/pg_faults.rs"]
mod pg_faults;

use helpers::Backend;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Postgres;
