//! The auth server's settings: every one a flag and an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use jwt_tokens::config::{TokenArgs, keys_from};
use jwt_tokens::{KeySet, Secret};
use service_kit::duration::parse_duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "auth-server",
    version,
    about = "Registers users, checks passwords, issues and rotates tokens."
)]
pub struct Config {
    /// Listen address (port 0: any free port, printed at start).
    #[arg(long, env = "AUTH_ADDR", default_value = "127.0.0.1:4000")]
    pub addr: SocketAddr,

    /// `sqlite://path` (embedded, created if missing).
    #[arg(long, env = "AUTH_DATABASE_URL", default_value = "sqlite://data/auth.db")]
    pub database_url: String,

    #[command(flatten)]
    pub tokens: TokenArgs,

    /// HS256 key for refresh tokens; at least 32 bytes; must differ from the access secret.
    #[arg(long, env = "REFRESH_TOKEN_SECRET", hide_env_values = true)]
    pub refresh_token_secret: Option<Secret>,

    /// Access token lifetime (`15s`, `15m`, `1h`, …).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Refresh token (session) lifetime, counted from login.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// How often ended (expired, logged out, revoked) sessions are deleted.
    #[arg(long, env = "SESSION_PURGE_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub session_purge_interval: Duration,

    /// Log filter (`info`, `debug`, `auth_server=debug,info`, …).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log: String,
}

/// The settings after the checks clap cannot express.
pub(crate) struct Checked {
    pub access_keys: KeySet,
    pub refresh_keys: KeySet,
}

impl Config {
    /// Checks what must hold before the port opens; the error is one line naming the variable.
    pub(crate) fn check(&self) -> Result<Checked, String> {
        let access_keys = self.tokens.access_keys()?;
        let refresh_keys = keys_from("REFRESH_TOKEN_SECRET", self.refresh_token_secret.as_ref())?;
        if self.tokens.access_token_secret == self.refresh_token_secret {
            return Err("REFRESH_TOKEN_SECRET must differ from ACCESS_TOKEN_SECRET".into());
        }
        for (name, ttl) in [
            ("ACCESS_TOKEN_TTL", self.access_token_ttl),
            ("REFRESH_TOKEN_TTL", self.refresh_token_ttl),
            ("SESSION_PURGE_INTERVAL", self.session_purge_interval),
        ] {
            if ttl < Duration::from_secs(1) {
                return Err(format!("{name} must be at least 1s"));
            }
        }
        Ok(Checked {
            access_keys,
            refresh_keys,
        })
    }
}
