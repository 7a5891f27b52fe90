//! Plumbing shared by both servers: errors, JSON, middleware, storage set-up, serving.

pub mod cli;
pub mod db;
pub mod duration;
pub mod error;
pub mod json;
pub mod middleware;
pub mod serve;
pub mod sqlite;
pub mod telemetry;

pub use error::{ApiError, Result};
pub use json::AppJson;
