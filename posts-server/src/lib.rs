//! The posts server: each user's posts, for holders of a valid access token.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod error;
mod routes;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use jwt_tokens::AccessTokens;
use service_kit::rate_limit::{Limiter, forget_idle_every};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::Config;
use store::PostStore;

/// How many posts one user may create, per user id.
pub type PostLimit = Limiter<String>;

/// What the handlers share: the token verifier, the post store and the write limit.
#[derive(Clone)]
pub struct AppState {
    tokens: Arc<AccessTokens>,
    store: Arc<dyn PostStore>,
    post_limit: Arc<PostLimit>,
}

impl AppState {
    /// A state without a write limit.
    pub fn new(tokens: Arc<AccessTokens>, store: Arc<dyn PostStore>) -> Self {
        let unlimited = PostLimit::new(service_kit::rate_limit::Rate::UNLIMITED, false, "");
        Self::with_limit(tokens, store, unlimited)
    }

    pub fn with_limit(tokens: Arc<AccessTokens>, store: Arc<dyn PostStore>, post_limit: PostLimit) -> Self {
        Self {
            tokens,
            store,
            post_limit: Arc::new(post_limit),
        }
    }
}

impl FromRef<AppState> for Arc<PostLimit> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.post_limit)
    }
}

impl FromRef<AppState> for Arc<AccessTokens> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.tokens)
    }
}

impl FromRef<AppState> for Arc<dyn PostStore> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.store)
    }
}

/// Every route with its OpenAPI description (`#[utoipa::path]` on each handler):
/// [`app`] serves these routes and `/openapi.json` describes them.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<routes::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .merge(routes::posts::router())
        .merge(routes::health::router())
        .routes(routes!(routes::openapi::openapi_json))
}

/// The whole HTTP interface, behind the shared middleware stack.
pub fn app(state: AppState) -> Router {
    app_serving_metrics(state, true)
}

/// The HTTP interface, with `GET /metrics` unless the metrics have a listener of their own.
fn app_serving_metrics(state: AppState, metrics: bool) -> Router {
    let (routes, _) = api().split_for_parts();
    if metrics {
        service_kit::middleware::stack(routes).with_state(state)
    } else {
        service_kit::middleware::stack_without_metrics(routes).with_state(state)
    }
}

/// The ceiling that `bench/` measures `GET /posts` against: this server's
/// middleware stack answering `GET /posts` with the same JSON for `posts`,
/// without a token check or a database. Not served by `posts-server` itself.
pub fn ceiling_app(posts: Vec<store::Post>) -> Router {
    let posts = Arc::new(posts);
    let list = axum::routing::get(move || {
        let posts = Arc::clone(&posts);
        async move { routes::posts::render(posts.iter().cloned()) }
    });
    service_kit::middleware::stack(Router::new().route("/posts", list))
}

/// How often rate-limit buckets that have filled up again are forgotten.
const IDLE_LIMIT_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Why the server could not start; displayed as one line that names the setting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The message already names the variable (e.g. `ACCESS_TOKEN_SECRET is required …`).
    #[error("{0}")]
    Setting(String),
    #[error("POSTS_DATABASE_URL: {0}")]
    Database(String),
    #[error("POSTS_ADDR: cannot listen on {addr} ({source})")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// A server that has checked its settings, opened its database and bound its port.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `GET /metrics` on a listener of its own (`METRICS_ADDR`), or on the API's port.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    cors: service_kit::cors::CorsArgs,
    http: service_kit::serve::HttpArgs,
}

impl Application {
    /// Fails before the port opens if any setting is unusable.
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        config.tokens.read_secret_files().map_err(StartError::Setting)?;
        let keys = config.tokens.access_keys().map_err(StartError::Setting)?;
        let tokens = Arc::new(AccessTokens::new(keys, &config.tokens.settings()));
        let cache_bytes = config.posts_cache_mib.saturating_mul(1 << 20);
        let store = store::connect(&config.database_url, &config.database, cache_bytes)
            .await
            .map_err(StartError::Database)?;
        let listen_error = |source| StartError::Listen {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let metrics_listener = config.metrics.bind().await.map_err(StartError::Setting)?;
        Ok(Self {
            listener,
            local_addr,
            metrics_listener,
            state: AppState::with_limit(
                tokens,
                store,
                PostLimit::new(config.post_rate_per_user, config.limits.enabled(), "too many posts"),
            ),
            cors: config.cors,
            http: config.http,
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

    /// Serves until `signal` resolves (SIGTERM or Ctrl-C from `main`, a
    /// channel in tests), lets the requests in flight finish, then closes the database.
    pub async fn run_with_shutdown(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let store = Arc::clone(&self.state.store);
        let forgetter = tokio::spawn(forget_idle_every(
            IDLE_LIMIT_SWEEP,
            vec![Arc::clone(&self.state.post_limit) as _],
        ));
        let (signal, metrics_signal) = service_kit::metrics::split_shutdown(signal);
        let metrics = self
            .metrics_listener
            .map(|listener| tokio::spawn(service_kit::metrics::serve(listener, metrics_signal)));
        let app = app_serving_metrics(self.state, metrics.is_none());
        let router = service_kit::middleware::nosniff(service_kit::cors::apply(app, &self.cors));
        let served = service_kit::serve::serve(self.listener, router, self.http, signal).await;
        let metrics_served = match metrics {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        forgetter.abort();
        store.close().await;
        served.and(metrics_served)
    }
}
