//! Prometheus metrics: one recorder for the whole process, the series every request adds to,
//! the `GET /metrics` handler that renders them in the Prometheus text format, and the
//! listener of its own that `METRICS_ADDR` gives it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Requests answered, by matched route template, method and status.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time from the request's arrival to its response's head, in seconds, by route template and method.
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
/// Connections being served now.
pub const HTTP_CONNECTIONS_OPEN: &str = "http_connections_open";
/// Connections closed as soon as they were accepted, because the connection cap was reached.
pub const HTTP_CONNECTIONS_REFUSED: &str = "http_connections_refused_total";
/// Log lines dropped because the log writer had fallen behind ([`crate::telemetry`]).
pub const LOG_LINES_DROPPED: &str = "log_lines_dropped_total";
/// The `route` label of a request that matched no route: one label for every unknown path.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Upper bounds of the latency histogram's buckets, in seconds: 1 ms up to the 30 s request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use and returns its handle; every later call
/// (another server in the same process, as in tests) gets the same one. Should another
/// recorder have been installed first, the handle still renders, but only its own (empty) registry.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Fails only for an empty list of buckets, which this is not; a summary would do otherwise.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_ok() {
            metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route, method and status.");
            metrics::describe_gauge!(HTTP_CONNECTIONS_OPEN, "HTTP connections being served now.");
            metrics::describe_counter!(
                HTTP_CONNECTIONS_REFUSED,
                "HTTP connections closed at once because HTTP_MAX_CONNECTIONS were open."
            );
            metrics::describe_histogram!(
                HTTP_REQUEST_DURATION,
                metrics::Unit::Seconds,
                "HTTP request latency until the response head, by route and method."
            );
            metrics::describe_counter!(
                LOG_LINES_DROPPED,
                "Log lines dropped because the log writer had fallen behind."
            );
            count_dropped_log_lines();
        }
        handle
    })
}

/// Folds histogram samples into their buckets every few seconds, so that memory stays bounded
/// however rarely `/metrics` is scraped, and updates the count of dropped log lines. Runs
/// until dropped or aborted.
pub async fn upkeep() {
    let handle = install();
    let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        handle.run_upkeep();
        count_dropped_log_lines();
    }
}

/// Brings `log_lines_dropped_total` up to the log writer's own count.
fn count_dropped_log_lines() {
    metrics::counter!(LOG_LINES_DROPPED).absolute(crate::telemetry::dropped_lines());
}

/// `GET /metrics`: every series of the process in the Prometheus text exposition format 0.0.4.
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Every series of the process, in the Prometheus text exposition format 0.0.4. \
            With `METRICS_ADDR` set, served on that address alone, and `404` here.",
            content_type = "text/plain", body = String),
        (status = "default", response = crate::openapi::Error),
    )
)]
pub async fn render() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        install().render(),
    )
        .into_response()
}

/// Where `GET /metrics` is served.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MetricsArgs {
    /// Serve `GET /metrics` on this address, on a listener of its own (a private interface
    /// or port), and answer `404` for it on the API's port. Unset: on the API's port.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

impl MetricsArgs {
    /// The metrics listener, bound now if one is configured; the error is one line naming
    /// `METRICS_ADDR`.
    pub async fn bind(&self) -> Result<Option<TcpListener>, String> {
        let Some(addr) = self.metrics_addr else {
            return Ok(None);
        };
        TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|e| format!("METRICS_ADDR: cannot listen on {addr} ({e})"))
    }
}

/// Serves `GET /metrics` alone on `listener`, behind the same middleware as the API (request
/// ids, JSON errors, `nosniff`), until `shutdown` resolves.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let layers = crate::middleware::Layers {
        cors: false,
        ..crate::middleware::Layers::ALL
    };
    let router = layers.wrap(Router::new().route("/metrics", axum::routing::get(render)), None, None);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// One shutdown signal for two servers: the first future resolves when `shutdown` does, the
/// second once the first has (or once the first is dropped, should its server stop first).
pub fn split_shutdown(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let first = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let second = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    (first, second)
}

/// Counts one answered request and its latency. `route` is the matched route template (never
/// the raw path) or [`UNMATCHED_ROUTE`], and methods outside the standard ones count as
/// `other`, so the number of series stays bounded whatever clients send.
pub fn record_request(route: &str, method: &Method, status: StatusCode, latency: Duration) {
    let method = method_label(method);
    let known = SERIES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
        .and_then(|of_route| of_route.get(&(method, status.as_u16())).cloned());
    let (requests, duration) = known.unwrap_or_else(|| {
        let series = (
            metrics::counter!(
                HTTP_REQUESTS,
                "route" => route.to_owned(),
                "method" => method,
                "status" => status.as_str().to_owned(),
            ),
            metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route.to_owned(), "method" => method),
        );
        // Before the recorder is installed these are no-ops, not to be kept.
        if HANDLE.get().is_some() {
            SERIES
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.to_owned())
                .or_default()
                .insert((method, status.as_u16()), series.clone());
        }
        series
    });
    requests.increment(1);
    duration.record(latency.as_secs_f64());
}

/// The request counter and latency histogram of each route, method and status seen so far,
/// so that a request adds to them without building their keys (labels, allocations, hashing
/// in the recorder) again. As bounded as the labels are.
type Series = HashMap<String, HashMap<(&'static str, u16), (Counter, Histogram)>>;

static SERIES: LazyLock<RwLock<Series>> = LazyLock::new(RwLock::default);

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let custom = Method::from_bytes(b"BREW").expect("a valid extension method");
        assert_eq!(method_label(&custom), "other");
    }

    #[test]
    fn a_recorded_request_is_rendered_with_its_labels_and_buckets() {
        let handle = install();
        let latency = Duration::from_millis(3);
        record_request("/kit-test/{id}", &Method::POST, StatusCode::CREATED, latency);

        let text = handle.render();
        assert!(
            text.contains(r#"http_requests_total{route="/kit-test/{id}",method="POST",status="201"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_bucket{route="/kit-test/{id}",method="POST",le="0.005"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("# TYPE http_request_duration_seconds histogram"),
            "{text}"
        );
    }
}
