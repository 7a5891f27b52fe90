// The test modules that every target runs, each on its own backend and in its own access token
// mode: `api` (`main.rs`, SQLite) and `api_postgres` (`postgres.rs`, PostgreSQL) with HS256,
// `api_eddsa` (`eddsa.rs`, SQLite) and `api_postgres_eddsa` (`postgres_eddsa.rs`, PostgreSQL)
// with EdDSA, take this one list with `include!("modules.rs")`, so each `mod` here is a file of
// this directory. A module for one backend only goes in that backend's roots instead.

mod account;
mod bad_input;
mod binary;
mod cli;
mod cookies;
mod cors;
mod crash;
mod errors;
mod feed;
mod forgery;
mod grace;
mod headers;
mod health;
mod help;
mod helpers;
mod jwks;
mod keys;
mod limits;
mod login;
mod logout;
mod metrics;
mod openapi;
mod persistence;
mod purge;
mod register;
mod token;
