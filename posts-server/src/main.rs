//! Starts the posts server with settings from flags, the environment and `.env`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::process::ExitCode;

use posts_server::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config: Config = service_kit::cli::parse_or_exit("posts-server");
    // Installed before the port is announced, so an early SIGTERM is graceful too.
    let shutdown = service_kit::serve::shutdown_signal();
    service_kit::telemetry::init_with(&config.log, config.log_format);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("posts-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = app.local_addr();
    tracing::info!(%addr, "listening");
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(addr = %metrics, "metrics listening");
    }
    // Scripts and tests started with port 0 read the port from this line.
    println!("posts-server listening on http://{addr}");
    match app.run_with_shutdown(shutdown).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("posts-server: {err}");
            ExitCode::FAILURE
        }
    }
}
