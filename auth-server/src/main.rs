//! Starts the auth server with settings from flags, the environment and `.env`, or runs one
//! operator command.

use std::process::ExitCode;

use auth_server::{Application, Config};

// glibc's malloc, unlike posts-server (`posts-server/src/main.rs`): what a request costs here is
// argon2 and the database, and mimalloc kept the 19 MiB of the start's dummy hash resident on an
// idle server (39 MiB against 10 MiB; `bench/README.md`, "The allocator").
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
