//! The HTTP service both servers are: one server shape (`server`), the error codes and JSON
//! error body, the JSON extractor, the middleware stack, rate limits, CORS, metrics and logs.
//! Opening the databases is the `database` crate's.

pub mod cli;
pub mod cors;
pub mod error;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod serve;
pub mod server;
pub mod telemetry;

pub use error::{ApiError, Common, ErrorCode, Result};
pub use json::AppJson;
/// Durations in settings, parsed one way everywhere.
pub use settings::duration;

/// Now, in Unix milliseconds: how both servers stamp what they store (one reading of the system
/// clock for both servers and the verifier).
pub use jwt_tokens::now_unix_ms;
