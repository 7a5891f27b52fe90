//! The posts server's settings: flags and environment variables of the same meaning.

use std::net::SocketAddr;

use clap::Parser;
use jwt_tokens::config::TokenArgs;
use service_kit::rate_limit::Rate;
use service_kit::server::ServerArgs;

/// Serves each user's posts to holders of an access token from the auth server.
#[derive(Parser, Debug, Clone)]
#[command(name = "posts-server", version)]
pub struct Config {
    /// Address to listen on; port 0 picks any free port (printed at start).
    #[arg(long, env = "POSTS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// What both servers set alike: metrics, the PostgreSQL pool, connections, rate limits,
    /// CORS and logs.
    #[command(flatten)]
    pub server: ServerArgs,

    /// Where posts are kept: `sqlite://path/to/posts.db` (created if missing) or
    /// `postgres://user:password@host:port/database` (the database must exist; its tables are created).
    #[arg(long, env = "POSTS_DATABASE_URL", default_value = "sqlite://data/posts.db")]
    pub database_url: String,

    /// How access tokens are verified (the posts server never sees the refresh secret).
    #[command(flatten)]
    pub tokens: TokenArgs,

    /// Base URL of the auth server (`http://127.0.0.1:4000`), or several comma-separated (its
    /// instances, tried in turn): where the sessions that ended are followed (their access
    /// tokens are refused within a second) and the public keys of `ACCESS_TOKEN_ALG=EdDSA`
    /// fetched, in the background. Required with EdDSA; without it (HS256) a logged-out
    /// session's access tokens stay valid until they expire.
    #[arg(long, env = "AUTH_URL", value_delimiter = ',', value_parser = parse_auth_url)]
    pub auth_url: Vec<String>,

    /// How often the auth server's public keys are fetched again (`ACCESS_TOKEN_ALG=EdDSA`);
    /// a token naming an unknown key also fetches them, at most every 10s.
    #[arg(long, env = "AUTH_KEYS_REFRESH", default_value = "60s", value_parser = parse_refresh)]
    pub auth_keys_refresh: std::time::Duration,

    /// How long the auth server's ended-session feed may go unanswered before
    /// `SESSION_FEED_FAIL` applies.
    #[arg(long, env = "SESSION_FEED_MAX_LAG", default_value = "30s", value_parser = parse_max_lag)]
    pub session_feed_max_lag: std::time::Duration,

    /// What happens once the feed has been unreachable for longer than `SESSION_FEED_MAX_LAG`:
    /// `open` (the default) goes on verifying with the sessions known to have ended; `closed`
    /// answers every request with a token `503` until the feed answers again (and until it
    /// first has, at start).
    #[arg(long, env = "SESSION_FEED_FAIL", default_value = "open", value_parser = parse_fail)]
    pub session_feed_fail: FeedFail,

    /// Memory for keeping each user's list of posts between their writes, in MiB
    /// (SQLite only; 0 turns it off).
    #[arg(long, env = "POSTS_CACHE_MIB", default_value_t = 16)]
    pub posts_cache_mib: usize,

    /// `POST /posts` per user (`N/PERIOD`: a burst of N, refilled over PERIOD).
    #[arg(long, env = "POST_RATE_PER_USER", default_value = "30/1m")]
    pub post_rate_per_user: Rate,
}

/// An `http://` base URL. (This build speaks plain HTTP to the auth server: keys and ended
/// sessions are public data, and its answers are checked, not trusted for their transport.)
fn parse_auth_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value
        .strip_prefix("http://")
        .ok_or("must be an http:// URL, such as http://127.0.0.1:4000")?;
    if rest.trim_end_matches('/').is_empty() || rest.contains(['?', '#', ' ']) {
        return Err("must be a base URL, such as http://127.0.0.1:4000".into());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// What a verifier does once the ended-session feed lags too far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFail {
    /// Go on verifying with what is known.
    Open,
    /// Refuse every token (`503`).
    Closed,
}

fn parse_fail(value: &str) -> Result<FeedFail, String> {
    match value {
        "open" => Ok(FeedFail::Open),
        "closed" => Ok(FeedFail::Closed),
        _ => Err("must be `open` or `closed`".into()),
    }
}

/// At least a second, at most a day.
fn parse_max_lag(value: &str) -> Result<std::time::Duration, String> {
    parse_refresh(value)
}

/// At least a second, at most a day.
fn parse_refresh(value: &str) -> Result<std::time::Duration, String> {
    let refresh = service_kit::duration::parse_duration(value)?;
    if refresh < std::time::Duration::from_secs(1) || refresh > std::time::Duration::from_secs(86_400) {
        return Err("must be between 1s and 1d".into());
    }
    Ok(refresh)
}
