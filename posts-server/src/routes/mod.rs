//! The HTTP routes, one resource per file.

pub mod health;
pub mod openapi;
pub mod posts;
