//! The ceiling for `GET /posts`: the posts server's own middleware stack and
//! runtime, answering the same JSON as the real endpoint for the benchmark
//! user, with no token check and no database. Only `bench` starts it.
//!
//! Settings: `CEILING_ADDR` (default `127.0.0.1:0`), `CEILING_USER_ID` and
//! `CEILING_USERNAME` (whose posts), `RUST_LOG` (as the servers).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use posts_server::store::Post;
use service_kit::telemetry::LogFormat;

#[tokio::main]
async fn main() -> ExitCode {
    let shutdown = service_kit::serve::shutdown_signal();
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    service_kit::telemetry::init_with(&log, LogFormat::Text);
    let addr: SocketAddr = match std::env::var("CEILING_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".into())
        .parse()
    {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("posts-ceiling: CEILING_ADDR: {err}");
            return ExitCode::FAILURE;
        }
    };
    let user_id = std::env::var("CEILING_USER_ID").unwrap_or_default();
    let username = std::env::var("CEILING_USERNAME").unwrap_or_default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // Newest first, as the real endpoint answers.
    let posts = (1..=bench::POSTS)
        .rev()
        .map(|i| {
            let (title, body) = bench::post_text(i);
            Post {
                id: i64::try_from(i).unwrap_or_default(),
                user_id: user_id.clone(),
                username: username.clone(),
                title,
                body,
                created_at: now_ms,
            }
        })
        .collect();
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("posts-ceiling: cannot listen on {addr} ({err})");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(addr, |a| a);
    println!("posts-ceiling listening on http://{local}");
    match service_kit::serve::serve(
        listener,
        posts_server::ceiling_app(posts),
        service_kit::serve::HttpArgs::default(),
        shutdown,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("posts-ceiling: {err}");
            ExitCode::FAILURE
        }
    }
}
