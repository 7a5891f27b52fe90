//! The posts server: each user's posts, for holders of a valid access token.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
mod routes;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use jwt_tokens::AccessTokens;
use tokio::net::TcpListener;

pub use config::Config;
use store::PostStore;

/// What the handlers share: the token verifier and the post store.
#[derive(Clone)]
pub struct AppState {
    tokens: Arc<AccessTokens>,
    store: Arc<dyn PostStore>,
}

impl AppState {
    pub fn new(tokens: Arc<AccessTokens>, store: Arc<dyn PostStore>) -> Self {
        Self { tokens, store }
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

/// The whole HTTP interface, behind the shared middleware stack.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(routes::posts::router())
        .merge(routes::health::router());
    service_kit::middleware::stack(routes).with_state(state)
}

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
    state: AppState,
}

impl Application {
    /// Fails before the port opens if any setting is unusable.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let keys = config.tokens.access_keys().map_err(StartError::Setting)?;
        let tokens = Arc::new(AccessTokens::new(keys, &config.tokens.settings()));
        let store = store::connect(&config.database_url)
            .await
            .map_err(StartError::Database)?;
        let listen_error = |source| StartError::Listen {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        Ok(Self {
            listener,
            local_addr,
            state: AppState::new(tokens, store),
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `signal` resolves (SIGTERM or Ctrl-C from `main`, a
    /// channel in tests), lets the requests in flight finish, then closes the database.
    pub async fn run_with_shutdown(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let store = Arc::clone(&self.state.store);
        let served = service_kit::serve::serve(self.listener, app(self.state), signal).await;
        store.close().await;
        served
    }
}
