//! The outside anchor for `GET /posts`: a bare axum server, `axum::serve` on the same
//! multi-threaded tokio runtime as the servers, with the one route of the ceiling
//! (`posts_server::ceiling_routes`: the same handler and JSON for the benchmark user) and no
//! middleware, no logging and no metrics at all. Only `bench` starts it.
//!
//! Settings: `CEILING_ADDR` (default `127.0.0.1:0`), `CEILING_USER_ID` and
//! `CEILING_USERNAME` (whose posts), as the ceiling.

use std::process::ExitCode;

use axum::serve::ListenerExt as _;

#[tokio::main]
async fn main() -> ExitCode {
    let listener = match bench::stand_in_listener("posts-bare").await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("posts-bare: {err}");
            return ExitCode::FAILURE;
        }
    };
    // As the servers do: small answers go out at once rather than wait for an acknowledgement.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    let app = posts_server::ceiling_routes(bench::stand_in_posts());
    match axum::serve(listener, app)
        .with_graceful_shutdown(service_kit::serve::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("posts-bare: {err}");
            ExitCode::FAILURE
        }
    }
}
