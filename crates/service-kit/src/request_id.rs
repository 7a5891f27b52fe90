//! `x-request-id`: every request gets one, its log span carries it, and its response returns it.
//!
//! Not tower-http's `SetRequestIdLayer`/`PropagateRequestIdLayer`: they keep whatever id a
//! client sends, of any length and any bytes a header may hold, and that id is written into
//! every log line of the request. This layer keeps a client's id only when it is 1 to 128
//! visible ASCII characters, and it is also where each request is counted and timed for
//! `/metrics` (one layer, one clock reading, instead of two).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{UNMATCHED_ROUTE, record_request};

/// The header a request id travels in, both ways.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client; a longer one is replaced.
pub const MAX_LEN: usize = 128;

/// The request's own id when it is sane (1 to [`MAX_LEN`] visible ASCII characters, no spaces),
/// otherwise a new UUID.
pub fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(&X_REQUEST_ID)
        .filter(|value| is_sane(value.as_bytes()))
        .cloned()
        .unwrap_or_else(generate)
}

fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

/// A new UUID (version 4). An id has to be unique, not secret: its random bits come from the
/// thread's own generator (seeded by the operating system), not from a system call per request.
fn generate() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The request's route template ([`UNMATCHED_ROUTE`] when it matched none).
fn route(req: &Request) -> Option<MatchedPath> {
    req.extensions().get::<MatchedPath>().cloned()
}

fn route_label(route: Option<&MatchedPath>) -> &str {
    route.map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
}

/// The outermost layer: settles the request id (so the trace span inside can log it), returns it
/// on every response, errors and 404s included, and counts the request in the metrics.
pub async fn request_id_and_metrics(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    let route = route(&req);
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    record_request(
        route_label(route.as_ref()),
        &method,
        response.status(),
        started.elapsed(),
    );
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// [`request_id_and_metrics`] without the metrics, for the benchmark's ceiling only
/// ([`crate::middleware::Layers`]).
pub async fn request_id_only(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// [`request_id_and_metrics`] without the request id, for the benchmark's ceiling only
/// ([`crate::middleware::Layers`]).
pub async fn metrics_only(req: Request, next: Next) -> Response {
    let route = route(&req);
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    record_request(
        route_label(route.as_ref()),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &[u8]) -> Request {
        Request::builder()
            .header("x-request-id", HeaderValue::from_bytes(value).expect("a header value"))
            .body(axum::body::Body::empty())
            .expect("a request")
    }

    #[test]
    fn a_sane_id_is_kept() {
        assert_eq!(request_id(&with_header(b"abc-123_XYZ.42")), "abc-123_XYZ.42");
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(request_id(&with_header(longest.as_bytes())), longest.as_str());
    }

    #[test]
    fn an_insane_id_is_replaced_by_a_uuid() {
        let too_long = "a".repeat(MAX_LEN + 1);
        for value in [
            &b""[..],
            b"has space",
            b"tab\there",
            "caf\u{e9}".as_bytes(),
            too_long.as_bytes(),
        ] {
            let id = request_id(&with_header(value));
            assert_ne!(id.as_bytes(), value);
            assert!(uuid::Uuid::parse_str(id.to_str().expect("ASCII")).is_ok(), "{id:?}");
        }
    }

    #[test]
    fn a_request_without_one_gets_a_uuid() {
        let request = Request::builder().body(axum::body::Body::empty()).expect("a request");
        let id = request_id(&request);
        assert!(uuid::Uuid::parse_str(id.to_str().expect("ASCII")).is_ok(), "{id:?}");
    }
}
