//! The middleware stack every route of both servers runs behind.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::{Span, field};

use crate::ApiError;
use crate::error::ErrorCause;

/// The largest request body either server reads.
pub const BODY_LIMIT: usize = 16 * 1024;
/// How long one request may take before it is answered `408`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Wraps a router in the shared stack, outermost first: the request id and
/// metrics, a trace span per request, JSON bodies for every error (logging
/// server faults inside the span), a request timeout, and the 16 KiB body
/// limit. Adds `GET /metrics`.
pub fn stack<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Layers::ALL.stack(router)
}

/// [`stack`] without `GET /metrics`, for a server whose metrics have a listener of their own
/// (`METRICS_ADDR`): there, `/metrics` is a `404` like any unknown path.
pub fn stack_without_metrics<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Layers::ALL.stack_without_metrics(router)
}

/// Which layers of the stack (and of [`crate::server::app`] around it) are built. The servers
/// always build them all ([`Layers::ALL`]); only the benchmark's ceiling leaves some out, one
/// at a time, to measure what each costs per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    /// The `x-request-id` of every request and response.
    pub request_id: bool,
    /// The request count and latency histogram of `/metrics`.
    pub metrics: bool,
    /// The `request` span and its `response` access line.
    pub trace: bool,
    /// [`json_errors`]: server faults logged, every error answered in JSON.
    pub error_mapping: bool,
    /// The [`REQUEST_TIMEOUT`].
    pub timeout: bool,
    /// The [`BODY_LIMIT`].
    pub body_limit: bool,
    /// CORS, as `CORS_ALLOWED_ORIGINS` allows.
    pub cors: bool,
    /// `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
}

impl Layers {
    /// Every layer: what the servers run.
    pub const ALL: Self = Self {
        request_id: true,
        metrics: true,
        trace: true,
        error_mapping: true,
        timeout: true,
        body_limit: true,
        cors: true,
        nosniff: true,
    };

    /// The names [`Layers::without`] takes, outermost first.
    pub const NAMES: [&'static str; 8] = [
        "nosniff",
        "cors",
        "request_id",
        "metrics",
        "trace",
        "error_mapping",
        "timeout",
        "body_limit",
    ];

    /// These layers less the one called `name` (one of [`Layers::NAMES`]).
    pub fn without(self, name: &str) -> Result<Self, String> {
        let mut layers = self;
        let switch = match name {
            "request_id" => &mut layers.request_id,
            "metrics" => &mut layers.metrics,
            "trace" => &mut layers.trace,
            "error_mapping" => &mut layers.error_mapping,
            "timeout" => &mut layers.timeout,
            "body_limit" => &mut layers.body_limit,
            "cors" => &mut layers.cors,
            "nosniff" => &mut layers.nosniff,
            _ => {
                return Err(format!(
                    "{name:?} is not a layer; the layers are {}",
                    Self::NAMES.join(",")
                ));
            }
        };
        *switch = false;
        Ok(layers)
    }

    /// [`stack`] with these layers (CORS and `nosniff` aside: see [`Layers::wrap`]).
    pub fn stack<S>(self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.stack_without_metrics(router.route("/metrics", axum::routing::get(crate::metrics::render)))
    }

    /// [`stack_without_metrics`] with these layers (CORS and `nosniff` aside: see
    /// [`Layers::wrap`]).
    pub fn stack_without_metrics<S>(self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Self {
            cors: false,
            nosniff: false,
            ..self
        }
        .wrap(router, None, None)
    }

    /// `router`, with the JSON answers for unknown paths and methods, behind these layers,
    /// outermost first: `nosniff`, `cors` (when `cors` is a layer), the request id and metrics,
    /// the trace span, the JSON errors, the timeout and the body limit; then, for the handlers,
    /// `readiness` as a request extension (`GET /readyz` asks it).
    ///
    /// All of them make one tower stack, added with one `Router::layer`: each `Router::layer`
    /// boxes the service of every route again, and a request pays for each box (a clone, an
    /// allocation, a boxed future and a conversion of the answer), which made the stack's
    /// eight layers cost more than what most of them do. A layer that is left out is the
    /// identity; a layer that changes the answer's body type is followed by the conversion to
    /// axum's `Response`, so that every combination has the same types.
    pub fn wrap<S>(
        self,
        router: Router<S>,
        cors: Option<crate::cors::Cors>,
        readiness: Option<Arc<dyn crate::server::Readiness>>,
    ) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let trace = TraceLayer::new_for_http()
            .make_span_with(make_span as fn(&Request) -> Span)
            .on_request(())
            .on_response(on_response as fn(&Response, Duration, &Span))
            .on_failure(());
        let stack = ServiceBuilder::new()
            .option_layer(self.nosniff.then(nosniff_layer))
            .option_layer(cors.filter(|_| self.cors))
            .option_layer(
                (self.request_id && self.metrics)
                    .then(|| middleware::from_fn(crate::request_id::request_id_and_metrics)),
            )
            .option_layer(
                (self.request_id && !self.metrics).then(|| middleware::from_fn(crate::request_id::request_id_only)),
            )
            .option_layer(
                (!self.request_id && self.metrics).then(|| middleware::from_fn(crate::request_id::metrics_only)),
            )
            .option_layer(self.trace.then(|| {
                ServiceBuilder::new()
                    .map_response(into_response as fn(_) -> Response)
                    .layer(trace)
            }))
            .option_layer(self.error_mapping.then(|| middleware::from_fn(json_errors)))
            .option_layer(
                self.timeout
                    .then(|| TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT)),
            )
            .option_layer(self.body_limit.then(|| {
                ServiceBuilder::new()
                    .layer(DefaultBodyLimit::max(BODY_LIMIT))
                    .map_response(into_response as fn(_) -> Response)
                    .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
            }))
            .option_layer(readiness.map(Extension));
        router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(stack)
    }
}

/// An answer of any body type as axum's own.
fn into_response<R: IntoResponse>(response: R) -> Response {
    response.into_response()
}

/// `X-Content-Type-Options: nosniff` on every answer; outermost, CORS preflights included.
fn nosniff_layer() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"))
}

async fn not_found() -> ApiError {
    ApiError::from_status(StatusCode::NOT_FOUND)
}

async fn method_not_allowed() -> ApiError {
    ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED)
}

fn make_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::metrics::UNMATCHED_ROUTE, MatchedPath::as_str);
    // Set by the request id layer outside this one; sane visible ASCII by then.
    let request_id = req
        .headers()
        .get(&crate::request_id::X_REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id,
        status = field::Empty,
        latency_ms = field::Empty,
    )
}

fn on_response(response: &Response, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    span.record("latency_ms", latency.as_micros() as f64 / 1000.0);
    tracing::info!("response");
}

/// Logs the cause of server faults, and gives every error response that has
/// no JSON body of ours (the framework's 405, the body limit's 413, the
/// timeout's 408) the contract's JSON error for its status.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if let Some(ErrorCause { cause, code }) = response.extensions().get::<ErrorCause>() {
        if status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(status = status.as_u16(), cause = %cause, "request failed");
        } else if let Some(unlogged) = BURSTS.admit(code, Instant::now()) {
            // A full disk or a database that is down fails every request alike: one line per burst.
            tracing::error!(status = status.as_u16(), error = code, cause = %cause, unlogged, "request failed");
        }
    }
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut replacement = ApiError::from_status(status).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    replacement
}

/// How long after logging a `503` of one code the same code stays unlogged (only counted).
pub const BURST_WINDOW: Duration = Duration::from_secs(10);

static BURSTS: LazyLock<Bursts> = LazyLock::new(Bursts::default);

/// Per error code, when one was last logged and how many of that code went unlogged since.
#[derive(Default)]
struct Bursts(Mutex<HashMap<&'static str, (Instant, u64)>>);

impl Bursts {
    /// `Some(unlogged since the last line)` if a fault of `code` at `now` is to be logged.
    fn admit(&self, code: &'static str, now: Instant) -> Option<u64> {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get_mut(code) {
            Some((logged, unlogged)) if now.duration_since(*logged) < BURST_WINDOW => {
                *unlogged += 1;
                None
            }
            Some((logged, unlogged)) => {
                *logged = now;
                Some(std::mem::take(unlogged))
            }
            None => {
                seen.insert(code, (now, 0));
                Some(0)
            }
        }
    }
}

fn is_json(response: &Response) -> bool {
    response.headers().get(header::CONTENT_TYPE) == Some(&HeaderValue::from_static("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_code_is_logged_once_per_window_with_the_count_it_skipped() {
        let bursts = Bursts::default();
        let start = Instant::now();
        assert_eq!(bursts.admit("storage_full", start), Some(0));
        assert_eq!(bursts.admit("storage_full", start + Duration::from_secs(1)), None);
        assert_eq!(bursts.admit("storage_full", start + Duration::from_secs(2)), None);
        // Another code is a burst of its own.
        assert_eq!(bursts.admit("unavailable", start + Duration::from_secs(2)), Some(0));
        assert_eq!(bursts.admit("storage_full", start + BURST_WINDOW), Some(2));
        assert_eq!(bursts.admit("storage_full", start + BURST_WINDOW), None);
    }
}
