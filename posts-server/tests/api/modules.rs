// The test modules that both targets run, each on its own backend: `api` (`main.rs`, SQLite) and
// `api_postgres` (`postgres.rs`, PostgreSQL) take this one list with `include!("modules.rs")`, so
// each `mod` here is a file of this directory. A module for one backend only goes in that
// target's root instead.

mod auth;
mod bad_input;
mod binary;
mod cors;
mod crash;
mod errors;
mod forgery;
mod headers;
mod health;
mod help;
mod helpers;
mod keys;
mod limits;
mod metrics;
mod openapi;
mod persistence;
mod posts;
