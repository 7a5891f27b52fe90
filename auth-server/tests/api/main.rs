//! Black-box tests of the auth server: the real app on port 0, spoken to over HTTP.

mod binary;
mod errors;
mod health;
mod helpers;
mod login;
mod logout;
mod persistence;
mod purge;
mod register;
mod token;
