//! Starts the auth server with settings from flags, the environment and `.env`, or runs one
//! operator command.

use std::process::ExitCode;

use auth_server::{Application, Config};

/// mimalloc rather than glibc's malloc: under load, glibc made the runtime's threads wait on one
/// another's arena lock (a `futex` call and a context switch for most requests), halving
/// `GET /posts` throughput (`bench/README.md`, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config: Config = service_kit::cli::parse_or_exit("auth-server");
    // An operator command works on the database alone: no secrets, no port, no logs on stdout.
    if let Some(operation) = config.operation.take() {
        return auth_server::operators::run(&config, operation).await;
    }
    let settings = config.server.clone();
    service_kit::server::main("auth-server", &settings, Application::build(config)).await
}
