// The test modules that every target runs, each on its own backend and in its own mode: `api`
// (`main.rs`, SQLite, HS256), `api_postgres` (`postgres.rs`, PostgreSQL, HS256), `api_eddsa`
// (`eddsa.rs`, SQLite, EdDSA) and `api_postgres_eddsa` (`postgres_eddsa.rs`, PostgreSQL, EdDSA)
// take this one list with `include!("modules.rs")`, so each `mod` here is a file of this
// directory. A module for one backend or one mode only goes in those targets' roots instead.

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
mod jwks;
mod keys;
mod limits;
mod metrics;
mod openapi;
mod persistence;
mod posts;
mod revocation;
