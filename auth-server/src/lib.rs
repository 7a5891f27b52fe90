//! The auth server: users, passwords, sessions, and the tokens that prove them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod login_limit;
pub mod metrics;
pub mod operators;
pub mod password;
pub mod routes;
pub mod sessions;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use jwt_tokens::{AccessTokens, RefreshTokens};
use login_limit::UsernameLimit;
use service_kit::rate_limit::{AddressSource, ClientKey, ForgetIdle, Limiter, forget_idle_every};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::Config;
use password::Hasher;
use service_kit::postgres::{DatabaseArgs, is_postgres_url};
use service_kit::sqlite::Access;
use store::{AuthStore, PostgresStore, SqliteStore};

/// Lifetimes the handlers need.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a spent refresh token still gets the session's current pair.
    pub reuse_grace: Duration,
}

/// The rate limits of the auth server's routes.
#[derive(Debug)]
pub struct Limits {
    pub login_per_username: UsernameLimit,
    pub login_per_address: Limiter<ClientKey>,
    pub register_per_address: Limiter<ClientKey>,
    pub token_per_address: Limiter<ClientKey>,
}

impl Limits {
    /// Every limit in this process's memory.
    pub fn from_config(config: &Config) -> Self {
        let on = config.limits.enabled();
        Self {
            login_per_username: UsernameLimit::local(config.login_rate_per_username, on),
            login_per_address: Limiter::new(
                config.login_rate_per_address,
                on,
                "too many login attempts from this address",
            ),
            register_per_address: Limiter::new(
                config.register_rate_per_address,
                on,
                "too many sign-ups from this address",
            ),
            token_per_address: Limiter::new(
                config.token_rate_per_address,
                on,
                "too many token refreshes from this address",
            ),
        }
    }

    /// As [`Limits::from_config`], but the login limit per username is counted in the
    /// database where `store` can count it for every instance (PostgreSQL). The limits per
    /// address stay per instance.
    pub fn for_store(config: &Config, store: &dyn AuthStore) -> Self {
        let mut limits = Self::from_config(config);
        if config.limits.enabled()
            && let Some(attempts) = store.login_attempts()
        {
            limits.login_per_username = UsernameLimit::Shared {
                attempts,
                rate: config.login_rate_per_username,
            };
        }
        limits
    }

    fn all(self: &Arc<Self>) -> Vec<Arc<dyn ForgetIdle>> {
        let me = Arc::clone(self);
        vec![Arc::new(AllLimits(me))]
    }
}

struct AllLimits(Arc<Limits>);

impl ForgetIdle for AllLimits {
    fn forget_idle(&self) {
        self.0.login_per_username.forget_idle();
        self.0.login_per_address.forget_idle();
        self.0.register_per_address.forget_idle();
        self.0.token_per_address.forget_idle();
    }
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub access: Arc<AccessTokens>,
    pub refresh: Arc<RefreshTokens>,
    pub store: Arc<dyn AuthStore>,
    pub hasher: Arc<Hasher>,
    pub settings: Lifetimes,
    pub limits: Arc<Limits>,
    /// Where client addresses come from (the socket, or a trusted proxy header).
    pub addresses: AddressSource,
    /// Whether `POST /register` takes sign-ups.
    pub registration: config::Registration,
    /// This instance's clock.
    pub clock: clock::Clock,
}

/// Every route with its OpenAPI description (`#[utoipa::path]` on each handler):
/// [`app`] serves these routes and `/openapi.json` describes them.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<routes::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(routes::register::register))
        .routes(routes!(routes::login::login))
        .routes(routes!(routes::token::token))
        .routes(routes!(routes::logout::logout))
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
        .routes(routes!(routes::openapi::openapi_json))
}

/// The whole HTTP API, for `main` and the tests alike.
pub fn app(state: AppState) -> Router {
    app_serving_metrics(state, true)
}

/// The HTTP API, with `GET /metrics` unless the metrics have a listener of their own.
fn app_serving_metrics(state: AppState, metrics: bool) -> Router {
    let (routes, _) = api().split_for_parts();
    let routes = routes.layer(Extension(state.addresses.clone())).with_state(state);
    if metrics {
        service_kit::middleware::stack(routes)
    } else {
        service_kit::middleware::stack_without_metrics(routes)
    }
}

/// A start-up failure, as the one line the process prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// Opens the storage a database URL names: SQLite or PostgreSQL; on SQLite, for a server (the
/// file's only one) or for an operator command beside it.
pub async fn open_store(url: &str, database: &DatabaseArgs, access: Access) -> Result<Arc<dyn AuthStore>, StartError> {
    let fail = |why: String| StartError(format!("AUTH_DATABASE_URL: {why}"));
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, access).await.map_err(fail)?))
    } else if is_postgres_url(url) {
        Ok(Arc::new(PostgresStore::open(url, database).await.map_err(fail)?))
    } else {
        // The URL itself is not echoed: a mistyped one may still hold a password.
        Err(fail(
            "not a supported database URL; use sqlite://path/to/auth.db or postgres://user@host/database".into(),
        ))
    }
}

/// A server that has checked its settings, opened its database and bound its port.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `GET /metrics` on a listener of its own (`METRICS_ADDR`), or on the API's port.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    purge_interval: Duration,
    cors: service_kit::cors::CorsArgs,
    http: service_kit::serve::HttpArgs,
}

impl Application {
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        config.read_secret_files().map_err(StartError)?;
        let checked = config.check().map_err(StartError)?;
        metrics::register();
        let store = open_store(&config.database_url, &config.database, Access::Server).await?;
        let settings = config.tokens.settings();
        let hasher = Hasher::new()
            .await
            .map_err(|e| StartError(format!("password hashing: {e}")))?;
        let limits = Arc::new(Limits::for_store(&config, store.as_ref()));
        let state = AppState {
            access: Arc::new(AccessTokens::new(checked.access_keys, &settings)),
            refresh: Arc::new(RefreshTokens::new(checked.refresh_keys, &settings)),
            store,
            hasher: Arc::new(hasher),
            settings: Lifetimes {
                access_ttl: config.access_token_ttl,
                refresh_ttl: config.refresh_token_ttl,
                reuse_grace: config.refresh_reuse_grace,
            },
            limits,
            addresses: AddressSource {
                trusted_header: config.limits.trusted_proxy_header.clone(),
            },
            registration: config.registration,
            clock: config.clock,
        };
        let listen_error = |e| StartError(format!("AUTH_ADDR: cannot listen on {} ({e})", config.addr));
        let listener = TcpListener::bind(config.addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let metrics_listener = config.metrics.bind().await.map_err(StartError)?;
        Ok(Self {
            listener,
            local_addr,
            metrics_listener,
            state,
            purge_interval: config.session_purge_interval,
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

    /// Serves until `shutdown` resolves (SIGTERM or Ctrl-C from `main`, a
    /// channel in tests), purging ended sessions in the background; then lets
    /// the requests in flight finish and closes the database.
    pub async fn run_with_shutdown(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let store = Arc::clone(&self.state.store);
        let purger = tokio::spawn(purge_sessions(Arc::clone(&store), self.purge_interval));
        let forgetter = tokio::spawn(forget_idle_every(IDLE_LIMIT_SWEEP, self.state.limits.all()));
        let (shutdown, metrics_shutdown) = service_kit::metrics::split_shutdown(shutdown);
        let metrics = self
            .metrics_listener
            .map(|listener| tokio::spawn(service_kit::metrics::serve(listener, metrics_shutdown)));
        let app = app_serving_metrics(self.state, metrics.is_none());
        let router = service_kit::middleware::nosniff(service_kit::cors::apply(app, &self.cors));
        let served = service_kit::serve::serve(self.listener, router, self.http, shutdown).await;
        let metrics_served = match metrics {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        purger.abort();
        forgetter.abort();
        store.close().await;
        served.and(metrics_served)
    }
}

/// How often rate-limit buckets that have filled up again are forgotten.
const IDLE_LIMIT_SWEEP: Duration = Duration::from_secs(60);

/// Deletes ended sessions, and the login attempt buckets the database keeps that are full
/// again, every `interval`, starting now.
async fn purge_sessions(store: Arc<dyn AuthStore>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.purge_ended_sessions().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "ended sessions purged"),
            Err(err) => tracing::warn!(error = %err, "purging ended sessions failed"),
        }
        if let Some(attempts) = store.login_attempts() {
            match attempts.purge_full().await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "full login attempt buckets purged"),
                Err(err) => tracing::warn!(error = %err, "purging login attempt buckets failed"),
            }
        }
    }
}
