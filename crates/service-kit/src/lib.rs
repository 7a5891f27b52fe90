//! Plumbing shared by both servers: errors, JSON, middleware, storage set-up, serving.

pub mod cli;
pub mod cors;
pub mod db;
pub mod error;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod postgres;
pub mod rate_limit;
pub mod request_id;
pub mod serve;
pub mod server;
pub mod sqlite;
pub mod telemetry;

pub use error::{ApiError, Common, ErrorCode, Result};
pub use json::AppJson;
/// Durations in settings, parsed one way everywhere.
pub use settings::duration;

/// Now, in Unix milliseconds: how both servers stamp what they store.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
