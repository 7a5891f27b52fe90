//! Starts the posts server with settings from flags, the environment and `.env`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::process::ExitCode;

use posts_server::{Application, Config};

/// mimalloc rather than glibc's malloc: under load, glibc made the runtime's threads wait on one
/// another's arena lock (a `futex` call and a context switch for most requests), halving
/// `GET /posts` throughput (`bench/README.md`, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config: Config = service_kit::cli::parse_or_exit("posts-server");
    let settings = config.server.clone();
    service_kit::server::main("posts-server", &settings, Application::build(config)).await
}
