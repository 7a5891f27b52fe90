//! One server shape for both servers: each server's `Application::build` checks its settings,
//! opens its database, binds its ports and hands this module a [`Server`]; `main` is
//! [`main`]; tests take the same [`Server`] and call [`Server::run_with_shutdown`].
//!
//! The router a [`Server`] serves is built once, at build time, with everything around the
//! routes: the middleware stack, CORS, `X-Content-Type-Options`, and `GET /metrics` unless it
//! has a listener of its own. [`Server::router`] hands tests that very router.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use axum::{Extension, Json, Router};
use clap::Args;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cors::CorsArgs;
use crate::metrics::MetricsArgs;
use crate::middleware::Layers;
use crate::rate_limit::RateLimitArgs;
use crate::serve::HttpArgs;
use crate::telemetry::LogFormat;
use crate::{ApiError, Result};
use database::postgres::DatabaseArgs;

/// Why a server could not start: one line that names the setting at fault, printed as
/// `<server>: <line>` before the process exits with status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

impl From<String> for StartError {
    fn from(line: String) -> Self {
        Self(line)
    }
}

/// The settings both servers take alike, under the same names: `METRICS_ADDR`, the
/// PostgreSQL pool, the HTTP connection limits, the rate limits' switch and proxy header,
/// `CORS_ALLOWED_ORIGINS`, and the logs.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Where `GET /metrics` is served (`METRICS_ADDR`).
    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// PostgreSQL pool settings.
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Time limits on slow and silent clients, and the connection cap.
    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub limits: RateLimitArgs,

    /// Origins allowed to call from a browser (`CORS_ALLOWED_ORIGINS`).
    #[command(flatten)]
    pub cors: CorsArgs,

    /// Log filter (`info`, `debug`, `auth_server=debug,info`, …).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Log lines as `text` (for people) or `json` (one object per line, for log collectors).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Whether what a server depends on (its database) answers: `GET /readyz`.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// `Err` holds the cause, logged and never sent.
    async fn ready(&self) -> std::result::Result<(), String>;
}

/// A task that runs beside the server until it stops.
pub type Background = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a server is made of, for [`Server::bind`].
pub struct Parts {
    /// The process's name, for its start line (`<name> listening on http://…`).
    pub name: &'static str,
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The setting `addr` came from, for the error when it cannot be bound.
    pub addr_variable: &'static str,
    /// The API's routes with their state, without middleware.
    pub routes: Router,
    pub readiness: Arc<dyn Readiness>,
    /// The common settings (the metrics listener, CORS and the connection limits are used).
    pub settings: ServerArgs,
    /// Started when the server starts serving, stopped when it stops.
    pub background: Vec<Background>,
    /// Run once the requests in flight are done (closing the database).
    pub on_stop: Background,
    /// Called as soon as the server starts to stop, before the requests in flight are waited
    /// for: to end requests that would otherwise wait (long-polls).
    pub on_stopping: Option<Box<dyn FnOnce() + Send>>,
}

/// A server that has checked its settings, opened its database and bound its ports.
pub struct Server {
    name: &'static str,
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `GET /metrics` on a listener of its own (`METRICS_ADDR`), or on the API's port.
    metrics_listener: Option<TcpListener>,
    router: Router,
    http: HttpArgs,
    background: Vec<Background>,
    on_stop: Background,
    on_stopping: Option<Box<dyn FnOnce() + Send>>,
}

/// The whole HTTP interface: `routes` (with [`health_routes`] among them) behind the
/// middleware stack, `readiness` for `/readyz`, `GET /metrics` when `metrics_here`, CORS as
/// `cors` allows, and `X-Content-Type-Options: nosniff` on every answer, preflights included.
pub fn app(routes: Router, readiness: Arc<dyn Readiness>, cors: &CorsArgs, metrics_here: bool) -> Router {
    wrap(routes, Some(readiness), cors, metrics_here, Layers::ALL)
}

/// What [`app`] puts around `routes`, with the `layers` given: [`Layers::ALL`] for the servers;
/// the benchmark's ceiling leaves some out, and has no readiness.
pub fn wrap(
    routes: Router,
    readiness: Option<Arc<dyn Readiness>>,
    cors: &CorsArgs,
    metrics_here: bool,
    layers: Layers,
) -> Router {
    let routes = if metrics_here {
        routes.route("/metrics", axum::routing::get(crate::metrics::render))
    } else {
        routes
    };
    layers.wrap(routes, cors.layer(), readiness)
}

impl Server {
    /// Binds the API's port and the metrics port, if any, and builds the router.
    pub async fn bind(parts: Parts) -> std::result::Result<Self, StartError> {
        let Parts {
            name,
            addr,
            addr_variable,
            routes,
            readiness,
            settings,
            background,
            on_stop,
            on_stopping,
        } = parts;
        let ServerArgs {
            metrics, cors, http, ..
        } = settings;
        let listen_error = |e| StartError(format!("{addr_variable}: cannot listen on {addr} ({e})"));
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let metrics_listener = metrics.bind().await?;
        let router = app(routes, readiness, &cors, metrics_listener.is_none());
        Ok(Self {
            name,
            listener,
            local_addr,
            metrics_listener,
            router,
            http,
            background,
            on_stop,
            on_stopping,
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the metrics listener, if `METRICS_ADDR` gave one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The router this server serves, for tests that call it without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves (SIGTERM or Ctrl-C from `main`, a channel in tests),
    /// with the background tasks beside it; then lets the requests in flight finish, stops the
    /// tasks and runs the stop step (closing the database).
    pub async fn run_with_shutdown(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        // Before the tasks start: what they record from their first moment is kept.
        crate::metrics::install();
        let tasks: Vec<_> = self.background.into_iter().map(tokio::spawn).collect();
        let on_stopping = self.on_stopping;
        let shutdown = async move {
            shutdown.await;
            if let Some(stopping) = on_stopping {
                stopping();
            }
        };
        let (shutdown, metrics_shutdown) = crate::metrics::split_shutdown(shutdown);
        let metrics = self
            .metrics_listener
            .map(|listener| tokio::spawn(crate::metrics::serve(listener, metrics_shutdown)));
        let served = crate::serve::serve(self.listener, self.router, self.http, shutdown).await;
        let metrics_served = match metrics {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        for task in tasks {
            task.abort();
        }
        self.on_stop.await;
        served.and(metrics_served)
    }
}

/// A server's `main`: installs the stop signal, starts the logs, builds the server with
/// `build`, announces its address and serves until SIGTERM or Ctrl-C. A start error is one
/// line, `<name>: <line>`, and status 1.
pub async fn main<F>(name: &'static str, settings: &ServerArgs, build: F) -> ExitCode
where
    F: Future<Output = std::result::Result<Server, StartError>>,
{
    // Installed before the port is announced, so an early SIGTERM is graceful too.
    let shutdown = crate::serve::shutdown_signal();
    // Held to the end of `main`: dropping it writes out the lines still queued.
    let _log = crate::telemetry::init_with(&settings.log, settings.log_format);
    let server = match build.await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("{name}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    tracing::info!(%addr, "listening");
    if let Some(metrics) = server.metrics_addr() {
        tracing::info!(addr = %metrics, "metrics listening");
    }
    // Scripts and tests started with port 0 read the port from this line.
    println!("{} listening on http://{addr}", server.name);
    let served = server.run_with_shutdown(shutdown).await;
    let dropped = crate::telemetry::dropped_lines();
    if dropped > 0 {
        tracing::warn!(dropped, "log lines dropped because the log writer had fallen behind");
    }
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{name}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `/healthz` and `/readyz`, with their OpenAPI descriptions, the same on both servers;
/// `/readyz` asks the [`Readiness`] that [`app`] hands it.
pub fn health_routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, description = "`{\"status\": \"ok\"}` while the process is up.",
            body = crate::openapi::Status),
        (status = "default", response = crate::openapi::Error),
    )
)]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`: the database answers.",
            body = crate::openapi::Status),
        (status = 503, response = crate::openapi::Unavailable),
        (status = "default", response = crate::openapi::Error),
    )
)]
async fn readyz(Extension(readiness): Extension<Arc<dyn Readiness>>) -> Result<Json<Value>> {
    readiness.ready().await.map_err(ApiError::unavailable)?;
    Ok(Json(json!({ "status": "ready" })))
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    use super::*;

    struct Down;

    #[async_trait::async_trait]
    impl Readiness for Down {
        async fn ready(&self) -> std::result::Result<(), String> {
            Err("SELECT 1 failed: no such table".into())
        }
    }

    struct Up;

    #[async_trait::async_trait]
    impl Readiness for Up {
        async fn ready(&self) -> std::result::Result<(), String> {
            Ok(())
        }
    }

    fn health_app(readiness: Arc<dyn Readiness>, cors: &CorsArgs) -> Router {
        let (routes, _) = health_routes::<()>().split_for_parts();
        app(routes, readiness, cors, true)
    }

    async fn get(app: Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = app.oneshot(request).await.expect("the router is infallible");
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = to_bytes(response.into_body(), 4096).await.expect("a body");
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Whatever the failure, `/readyz` answers `503 unavailable` and never says why.
    #[tokio::test]
    async fn readyz_is_503_for_any_failure_and_200_when_ready() {
        let request = || Request::get("/readyz").body(Body::empty()).expect("a request");
        let (status, _, body) = get(health_app(Arc::new(Down), &CorsArgs::default()), request()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "unavailable");
        assert!(!body.to_string().contains("SELECT"), "{body}");
        let (status, _, body) = get(health_app(Arc::new(Up), &CorsArgs::default()), request()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "status": "ready" }));
    }

    /// The app that tests get is the app `main` serves: CORS and `nosniff` are inside it.
    #[tokio::test]
    async fn the_app_carries_cors_and_nosniff() {
        let cors = CorsArgs {
            cors_allowed_origins: "https://app.example.com".parse().expect("an origin list"),
        };
        let request = Request::get("/healthz")
            .header(header::ORIGIN, "https://app.example.com")
            .body(Body::empty())
            .expect("a request");
        let (status, headers, _) = get(health_app(Arc::new(Up), &cors), request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()),
            Some(&b"https://app.example.com"[..])
        );
        assert_eq!(
            headers.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
    }
}
