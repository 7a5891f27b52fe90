//! Starts the auth server with settings from flags, the environment and `.env`.

use std::process::ExitCode;

use auth_server::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let mut config: Config = service_kit::cli::parse_or_exit("auth-server");
    // An operator command works on the database alone: no secrets, no port, no logs on stdout.
    if let Some(operation) = config.operation.take() {
        return auth_server::operators::run(&config, operation).await;
    }
    // Installed before the port is announced, so an early SIGTERM is graceful too.
    let shutdown = service_kit::serve::shutdown_signal();
    service_kit::telemetry::init_with(&config.log, config.log_format);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("auth-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = app.local_addr();
    tracing::info!(%addr, "listening");
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(addr = %metrics, "metrics listening");
    }
    println!("auth-server listening on http://{addr}");
    match app.run_with_shutdown(shutdown).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("auth-server: {err}");
            ExitCode::FAILURE
        }
    }
}
