//! Black-box tests: the real app on port 0, spoken to over HTTP.

mod auth;
mod binary;
mod errors;
mod health;
mod helpers;
mod persistence;
mod posts;
