//! The auth server: users, passwords, sessions, and the tokens that prove them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod config;
pub mod cookie;
pub mod domain;
pub mod error;
pub mod feed;
pub mod login_limit;
pub mod metrics;
pub mod operators;
pub mod password;
pub mod routes;
pub mod sessions;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::{Extension, Router};
use jwt_tokens::{AccessTokens, RefreshTokens};
use login_limit::UsernameLimit;
use service_kit::cors::CorsArgs;
use service_kit::rate_limit::{AddressSource, ClientKey, ForgetIdle, Limiter, forget_idle_every};
pub use service_kit::server::StartError;
use service_kit::server::{Parts, Readiness, Server};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::Config;
use database::postgres::{DatabaseArgs, is_postgres_url};
use database::sqlite::Access;
use password::Hasher;
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
        let on = config.server.limits.enabled();
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
        if config.server.limits.enabled()
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
    /// The ended-session feed (`GET /sessions/ended`).
    pub feed: Arc<feed::Feed>,
}

/// What [`jwt_tokens::Authenticated`] verifies bearer access tokens with.
impl FromRef<AppState> for Arc<AccessTokens> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.access)
    }
}

/// Every route with its OpenAPI description (`#[utoipa::path]` on each handler):
/// [`app`] serves these routes and `/openapi.json` describes them.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<routes::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(routes::register::register))
        .routes(routes!(routes::login::login))
        .routes(routes!(routes::token::token))
        .routes(routes!(routes::logout::logout))
        .routes(routes!(routes::jwks::jwks))
        .routes(routes!(routes::ended::ended))
        .routes(routes!(routes::account::list_sessions))
        .routes(routes!(routes::account::end_session))
        .routes(routes!(routes::account::change_password))
        .merge(service_kit::server::health_routes())
        .routes(routes!(routes::openapi::openapi_json))
}

/// The whole HTTP API as [`Application`] serves it (with `GET /metrics`), CORS as `cors`
/// allows.
pub fn app(state: AppState, cors: &CorsArgs) -> Router {
    let readiness = Arc::new(Ready(Arc::clone(&state.store)));
    let cookies = cookie::CookiePolicy {
        same_site: cookie::SameSite::default(),
        origins: cors.cors_allowed_origins.clone(),
    };
    service_kit::server::app(routes(state, cookies), readiness, cors, true)
}

/// The routes on `state`; `cookies` says how the refresh cookie is written and who may use it.
fn routes(state: AppState, cookies: cookie::CookiePolicy) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        .layer(Extension(state.addresses.clone()))
        .layer(Extension(Arc::new(cookies)))
        .with_state(state)
}

/// `/readyz`: the user and session store answers.
struct Ready(Arc<dyn AuthStore>);

#[async_trait::async_trait]
impl Readiness for Ready {
    async fn ready(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

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

/// Builds the auth server: settings checked, database opened, ports bound.
pub struct Application;

impl Application {
    /// Fails before the port opens if any setting is unusable.
    pub async fn build(mut config: Config) -> Result<Server, StartError> {
        config.read_secret_files()?;
        let checked = config.check()?;
        metrics::register();
        let store = open_store(&config.database_url, &config.server.database, Access::Server).await?;
        let settings = config.tokens.settings();
        let hasher = Hasher::new()
            .await
            .map_err(|e| StartError(format!("password hashing: {e}")))?;
        let limits = Arc::new(Limits::for_store(&config, store.as_ref()));
        let feed = feed::Feed::new(
            Arc::clone(&store),
            config.session_feed_max_waiting,
            config.server.http.http_idle_timeout,
        );
        let state = AppState {
            access: Arc::new(AccessTokens::new(checked.access_keys, &settings)),
            refresh: Arc::new(RefreshTokens::new(checked.refresh_keys, &settings)),
            store: Arc::clone(&store),
            hasher: Arc::new(hasher),
            settings: Lifetimes {
                access_ttl: config.access_token_ttl,
                refresh_ttl: config.refresh_token_ttl,
                reuse_grace: config.refresh_reuse_grace,
            },
            limits: Arc::clone(&limits),
            addresses: AddressSource {
                trusted_header: config.server.limits.trusted_proxy_header.clone(),
            },
            registration: config.registration,
            clock: config.clock,
            feed: Arc::clone(&feed),
        };
        let cookies = cookie::CookiePolicy {
            same_site: config.refresh_cookie_samesite,
            origins: config.server.cors.cors_allowed_origins.clone(),
        };
        let closing = Arc::clone(&store);
        let stopping = Arc::clone(&feed);
        Server::bind(Parts {
            name: "auth-server",
            addr: config.addr,
            addr_variable: "AUTH_ADDR",
            routes: routes(state, cookies),
            readiness: Arc::new(Ready(Arc::clone(&store))),
            settings: config.server,
            background: vec![
                Box::pin(purge_sessions(store, config.session_purge_interval)),
                Box::pin(forget_idle_every(IDLE_LIMIT_SWEEP, limits.all())),
                Box::pin(feed.run()),
            ],
            on_stop: Box::pin(async move { closing.close().await }),
            // Followers waiting on the feed get their answer now, not at the end of their wait.
            on_stopping: Some(Box::new(move || stopping.stop())),
        })
        .await
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
