//! What the harness (`bench`) and its servers (`posts-ceiling`, `posts-bare`) share:
//! the posts that `GET /posts` answers with in the benchmark.

use std::net::SocketAddr;
use std::process::ExitCode;

use posts_server::store::Post;

/// How many posts the benchmark user has: each `GET /posts` answers all of them.
pub const POSTS: usize = 20;

/// The title and body of post `i` (from 1), the same for the real server and the ceiling.
pub fn post_text(i: usize) -> (String, String) {
    let title = format!("Post number {i}");
    let body = format!(
        "Body of post {i}. A paragraph of ordinary length, so that each answer carries what a \
         real list would: about a hundred and fifty bytes of text."
    );
    (title, body)
}

/// The benchmark user's posts as the real server stores them, newest first, for the ceiling
/// and the bare server: `CEILING_USER_ID` and `CEILING_USERNAME` name their owner.
pub fn stand_in_posts() -> Vec<Post> {
    let user_id = std::env::var("CEILING_USER_ID").unwrap_or_default();
    let username = std::env::var("CEILING_USERNAME").unwrap_or_default();
    let now_ms = service_kit::now_unix_ms();
    (1..=POSTS)
        .rev()
        .map(|i| {
            let (title, body) = post_text(i);
            Post {
                id: i64::try_from(i).unwrap_or_default(),
                user_id: user_id.clone(),
                username: username.clone(),
                title,
                body,
                created_at: now_ms,
            }
        })
        .collect()
}

/// `CEILING_ADDR`, `127.0.0.1:0` by default.
fn stand_in_addr() -> Result<SocketAddr, String> {
    std::env::var("CEILING_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".into())
        .parse()
        .map_err(|e| format!("CEILING_ADDR: {e}"))
}

/// Listens on [`stand_in_addr`] and prints `<name> listening on http://…`, the line the harness
/// reads the address from.
pub async fn stand_in_listener(name: &str) -> Result<tokio::net::TcpListener, String> {
    let addr = stand_in_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| format!("cannot listen on {addr} ({err})"))?;
    let local = listener.local_addr().map_or(addr, |a| a);
    println!("{name} listening on http://{local}");
    Ok(listener)
}

/// The bare axum servers (`posts-bare`, `posts-bare-mimalloc`): the same code, each binary with
/// its own global allocator.
pub mod bare {
    use super::ExitCode;
    use axum::serve::ListenerExt as _;

    /// `axum::serve` of the ceiling's one route until a shutdown signal; `name` is printed in
    /// the listening line and in errors.
    pub async fn serve(name: &str) -> ExitCode {
        let listener = match super::stand_in_listener(name).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("{name}: {err}");
                return ExitCode::FAILURE;
            }
        };
        // As the servers do: small answers go out at once rather than wait for an acknowledgement.
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let app = posts_server::ceiling_routes(super::stand_in_posts());
        match axum::serve(listener, app)
            .with_graceful_shutdown(service_kit::serve::shutdown_signal())
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{name}: {err}");
                ExitCode::FAILURE
            }
        }
    }
}
