//! The demo frontend's static file server: the files at the top of `frontend/`, nothing else.
//!
//! Only a single path segment of letters, digits, `.`, `_` and `-` that does not start with a
//! dot names a file (`/` is `index.html`), so no request can climb out of the folder, reach a
//! sub-folder (the browser test's `node_modules`), or read a hidden file.
//!
//! Not tower-http's `ServeDir`: it serves every file below its folder, sub-folders and hidden
//! files included (`frontend/tests/node_modules` would be served), and it is a feature of
//! tower-http (`fs`, with its own dependencies) that nothing else in the workspace needs, for
//! a development convenience of three files.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// Where the launcher serves the frontend unless `FRONTEND_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5173";

/// The folder of the demo frontend in this repository.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend")
}

/// Serves the files of `root` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, root: PathBuf) -> io::Result<()> {
    axum::serve(listener, router(root)).await
}

/// The static file routes, for `serve` and the tests.
pub fn router(root: PathBuf) -> Router {
    let root: Arc<Path> = root.into();
    Router::new().fallback(move |method: Method, uri: Uri| file(Arc::clone(&root), method, uri))
}

async fn file(root: Arc<Path>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let Some(name) = file_name(uri.path()) else {
        return not_found();
    };
    match tokio::fs::read(root.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type(name))),
                // Development: every reload sees the files as they are now.
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// The file a request path names, if it is one this server may serve.
fn file_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    if name.is_empty() {
        return Some("index.html");
    }
    let allowed = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    (allowed && !name.starts_with('.')).then_some(name)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_top_level_names_are_files() {
        assert_eq!(file_name("/"), Some("index.html"));
        assert_eq!(file_name("/app.js"), Some("app.js"));
        assert_eq!(file_name("/style-2_b.css"), Some("style-2_b.css"));
        for refused in [
            "",
            "/..",
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/..%2fCargo.toml",
            "/tests/browser.mjs",
            "/.env",
            "/.hidden",
            "//etc/passwd",
            "/a\\b",
        ] {
            assert_eq!(file_name(refused), None, "{refused}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("demo.png"), "image/png");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
