//! The ceiling for `GET /posts`: the posts server's own middleware stack and
//! runtime, answering the same JSON as the real endpoint for the benchmark
//! user, with no token check and no database. Only `bench` starts it.
//!
//! Settings: `CEILING_ADDR` (default `127.0.0.1:0`), `CEILING_USER_ID` and
//! `CEILING_USERNAME` (whose posts), `RUST_LOG` (as the servers),
//! `CORS_ALLOWED_ORIGINS` (as the servers), and `CEILING_WITHOUT`: a comma-separated
//! list of layers to leave out of the stack (`nosniff`, `cors`, `request_id`, `metrics`,
//! `trace`, `error_mapping`, `timeout`, `body_limit`), to measure what each costs.

use std::process::ExitCode;

use service_kit::cors::CorsArgs;
use service_kit::middleware::Layers;
use service_kit::telemetry::LogFormat;

/// The servers' allocator: the ceiling is their stack (`posts-server/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let shutdown = service_kit::serve::shutdown_signal();
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let _log = service_kit::telemetry::init_with(&log, LogFormat::Text);
    let settings = (|| {
        let cors = CorsArgs {
            cors_allowed_origins: std::env::var("CORS_ALLOWED_ORIGINS")
                .unwrap_or_default()
                .parse()
                .map_err(|e| format!("CORS_ALLOWED_ORIGINS: {e}"))?,
        };
        let mut layers = Layers::ALL;
        for name in std::env::var("CEILING_WITHOUT").unwrap_or_default().split(',') {
            match name.trim() {
                "" => {}
                "all" => {
                    for name in Layers::NAMES {
                        layers = layers.without(name)?;
                    }
                }
                name => layers = layers.without(name).map_err(|e| format!("CEILING_WITHOUT: {e}"))?,
            }
        }
        Ok::<_, String>((cors, layers))
    })();
    let (cors, layers) = match settings {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("posts-ceiling: {err}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bench::stand_in_listener("posts-ceiling").await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("posts-ceiling: {err}");
            return ExitCode::FAILURE;
        }
    };
    let app = posts_server::ceiling_app(bench::stand_in_posts(), &cors, layers);
    match service_kit::serve::serve(listener, app, service_kit::serve::HttpArgs::default(), shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("posts-ceiling: {err}");
            ExitCode::FAILURE
        }
    }
}
