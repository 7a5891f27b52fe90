//! The outside anchor for `GET /posts`: a bare axum server, `axum::serve` on the same
//! multi-threaded tokio runtime as the servers, with the one route of the ceiling
//! (`posts_server::ceiling_routes`: the same handler and JSON for the benchmark user) and no
//! middleware, no logging and no metrics at all, on the system's allocator (glibc's malloc), as
//! an axum server is written by default. Only `bench` starts it.
//!
//! Settings: `CEILING_ADDR` (default `127.0.0.1:0`), `CEILING_USER_ID` and
//! `CEILING_USERNAME` (whose posts), as the ceiling.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    bench::bare::serve("posts-bare").await
}
