//! The HTTP routes, one resource per file.

pub mod openapi;
pub mod posts;
