//! Black-box tests of the auth server: the real app on port 0, spoken to over HTTP.

mod bad_input;
mod binary;
mod cli;
mod cors;
mod crash;
mod errors;
mod forgery;
mod full_disk;
mod grace;
mod headers;
mod health;
mod help;
mod helpers;
mod keys;
mod limits;
mod login;
mod logout;
mod metrics;
mod one_file;
mod openapi;
mod persistence;
mod purge;
mod register;
mod token;

use helpers::Backend;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Sqlite;
