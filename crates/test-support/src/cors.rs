//! Checks of a server's answers to calls from a browser on another origin (`CORS_ALLOWED_ORIGINS`).

use reqwest::Response;
use reqwest::header::HeaderMap;

use crate::{ServerBinary, TestDir};

/// The origin of a development frontend, as the tests allow it.
pub const FRONTEND: &str = "http://localhost:5173";

/// The value of header `name`, if any.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().expect("an ASCII header"))
}

/// A comma-separated header's entries, lowercased.
pub fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// The origin an answer grants (`Access-Control-Allow-Origin`), if any.
pub fn granted(response: &Response) -> Option<&str> {
    header(response.headers(), "access-control-allow-origin")
}

/// The browser's question at `url` before a `method` request from `origin` that sends the
/// comma-separated `request_headers`.
pub async fn preflight(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    origin: &str,
    request_headers: &str,
) -> Response {
    client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", request_headers)
        .send()
        .await
        .expect("send a preflight")
}

/// A preflight for `method` granted to `origin`, a listed one: `200`, the method and the
/// `authorization` and `content-type` headers allowed, and credentials (the refresh cookie of
/// auth-server's browser clients), which only origins listed by name get, never `*`.
pub fn assert_preflight_granted(response: &Response, origin: &str, method: &str) {
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(origin));
    let methods = list(headers, "access-control-allow-methods");
    assert!(methods.contains(&method.to_ascii_lowercase()), "{methods:?}");
    let allowed = list(headers, "access-control-allow-headers");
    for name in ["authorization", "content-type"] {
        assert!(allowed.contains(&name.to_owned()), "{allowed:?}");
    }
    assert_eq!(header(headers, "access-control-allow-credentials"), Some("true"));
}

/// An answer to `origin` that a script there may read, with the headers it may want: the
/// challenge, the time to wait and the request id.
pub fn assert_readable_with_its_headers(response: &Response, origin: &str) {
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(origin));
    let exposed = list(headers, "access-control-expose-headers");
    for name in ["www-authenticate", "retry-after", "x-request-id"] {
        assert!(exposed.contains(&name.to_owned()), "{exposed:?}");
    }
}

/// An answer that grants nothing to `origin`.
pub fn assert_no_grant(response: &Response, origin: &str) {
    assert_eq!(granted(response), None, "{origin}");
}

/// Each of `values` as `CORS_ALLOWED_ORIGINS` (with `envs` besides) makes `binary` refuse to
/// start, with one line naming the setting.
pub async fn assert_malformed_origins_refused(binary: &ServerBinary, envs: &[(&str, &str)], values: &[&str]) {
    for value in values {
        let dir = TestDir::new();
        let mut command = binary.command(dir.path());
        command.envs(envs.iter().copied()).env("CORS_ALLOWED_ORIGINS", value);
        let refusal = binary.refused_start(&mut command).await;
        refusal.assert_one_line_naming("CORS_ALLOWED_ORIGINS");
    }
}
