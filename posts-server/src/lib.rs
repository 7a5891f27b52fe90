//! The posts server: each user's posts, for holders of a valid access token.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod error;
mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use jwt_tokens::ended::FeedHealth;
use jwt_tokens::follow::{KeyFollower, SessionFollower};
use jwt_tokens::{AccessTokens, TokenAlgorithm};
use service_kit::cors::CorsArgs;
use service_kit::rate_limit::{Limiter, forget_idle_every};
pub use service_kit::server::StartError;
use service_kit::server::{Parts, Readiness, Server};
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
        .merge(service_kit::server::health_routes())
        .routes(routes!(routes::openapi::openapi_json))
}

/// The whole HTTP interface as [`Application`] serves it (with `GET /metrics`), CORS as
/// `cors` allows.
pub fn app(state: AppState, cors: &CorsArgs) -> Router {
    let readiness = Arc::new(Ready {
        store: Arc::clone(&state.store),
        tokens: Arc::clone(&state.tokens),
        feed: None,
    });
    service_kit::server::app(routes(state), readiness, cors, true)
}

fn routes(state: AppState) -> Router {
    let (routes, _) = api().split_for_parts();
    routes.with_state(state)
}

/// `/readyz`: the post store answers, a verifier that follows the auth server's keys has
/// some, and one that follows its ended sessions has caught up on them.
struct Ready {
    store: Arc<dyn PostStore>,
    tokens: Arc<AccessTokens>,
    feed: Option<Arc<FeedHealth>>,
}

#[async_trait::async_trait]
impl Readiness for Ready {
    async fn ready(&self) -> Result<(), String> {
        if !self.tokens.has_keys() {
            return Err("no access keys yet from AUTH_URL".into());
        }
        if self.feed.as_ref().is_some_and(|feed| !feed.caught_up()) {
            return Err("not caught up yet on the ended sessions of AUTH_URL".into());
        }
        self.store.ping().await.map_err(|e| e.to_string())
    }
}

/// The ceiling that `bench/` measures `GET /posts` against: this server's
/// middleware stack (those of `layers`; [`Layers::ALL`] is the server's own, with CORS as
/// `cors` allows) answering `GET /posts` with the same JSON for `posts`, without a token
/// check or a database. Not served by `posts-server` itself.
///
/// [`Layers::ALL`]: service_kit::middleware::Layers::ALL
pub fn ceiling_app(posts: Vec<store::Post>, cors: &CorsArgs, layers: service_kit::middleware::Layers) -> Router {
    service_kit::server::wrap(ceiling_routes(posts), None, cors, true, layers)
}

/// The one route of [`ceiling_app`], without any middleware: what the benchmark's bare axum
/// server serves.
pub fn ceiling_routes(posts: Vec<store::Post>) -> Router {
    let posts = Arc::new(posts);
    let list = axum::routing::get(move || {
        let posts = Arc::clone(&posts);
        async move { routes::posts::render(posts.iter().cloned()) }
    });
    Router::new().route("/posts", list)
}

/// How often rate-limit buckets that have filled up again are forgotten.
const IDLE_LIMIT_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Builds the posts server: settings checked, database opened, ports bound.
pub struct Application;

impl Application {
    /// Fails before the port opens if any setting is unusable.
    pub async fn build(mut config: Config) -> Result<Server, StartError> {
        config.tokens.read_secret_files()?;
        let settings = config.tokens.settings();
        let (tokens, follower) = match config.tokens.access_token_alg {
            TokenAlgorithm::Hs256 => (
                Arc::new(AccessTokens::new(config.tokens.access_keys()?, &settings)),
                None,
            ),
            TokenAlgorithm::EdDsa => {
                config.tokens.refuse_secrets_for_eddsa()?;
                if config.auth_url.is_empty() {
                    return Err(StartError(
                        "AUTH_URL is required with ACCESS_TOKEN_ALG=EdDSA: posts-server fetches the auth server's \
                         public keys from it"
                            .into(),
                    ));
                }
                let tokens = Arc::new(
                    AccessTokens::following(&settings).with_verified_cache(config.tokens.verified_token_cache),
                );
                let follower = KeyFollower::new(Arc::clone(&tokens), config.auth_url.clone(), config.auth_keys_refresh)
                    .map_err(|e| StartError(format!("AUTH_URL: {e}")))?;
                (tokens, Some(follower))
            }
        };
        let sessions = if config.auth_url.is_empty() {
            tracing::warn!(
                "AUTH_URL is not set: the access tokens of sessions that end (logout, revocation) stay valid until \
                 they expire"
            );
            None
        } else {
            let health = FeedHealth::new(
                config.session_feed_max_lag,
                config.session_feed_fail == config::FeedFail::Closed,
            );
            let follower = SessionFollower::new(
                Arc::clone(&tokens),
                config.auth_url.clone(),
                config.tokens.jwt_leeway,
                health,
            )
            .map_err(|e| StartError(format!("AUTH_URL: {e}")))?;
            Some(follower)
        };
        let feed = sessions.as_ref().map(SessionFollower::health);
        let cache_bytes = config.posts_cache_mib.saturating_mul(1 << 20);
        let store = store::connect(&config.database_url, &config.server.database, cache_bytes)
            .await
            .map_err(|e| StartError(format!("POSTS_DATABASE_URL: {e}")))?;
        let post_limit = PostLimit::new(
            config.post_rate_per_user,
            config.server.limits.enabled(),
            "too many posts",
        );
        let state = AppState::with_limit(Arc::clone(&tokens), Arc::clone(&store), post_limit);
        let limits = vec![Arc::clone(&state.post_limit) as _];
        let closing = Arc::clone(&store);
        let mut background: Vec<service_kit::server::Background> =
            vec![Box::pin(forget_idle_every(IDLE_LIMIT_SWEEP, limits))];
        if let Some(follower) = follower {
            background.push(Box::pin(follower.run()));
        }
        if let Some(follower) = sessions {
            background.push(Box::pin(follower.run()));
        }
        Server::bind(Parts {
            name: "posts-server",
            addr: config.addr,
            addr_variable: "POSTS_ADDR",
            routes: routes(state),
            readiness: Arc::new(Ready { store, tokens, feed }),
            settings: config.server,
            background,
            on_stop: Box::pin(async move { closing.close().await }),
            on_stopping: None,
        })
        .await
    }
}
