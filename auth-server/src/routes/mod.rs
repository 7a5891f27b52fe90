//! One file per resource of the auth server's API.

pub mod account;
pub mod ended;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod openapi;
pub mod register;
pub mod token;
