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

    /// Memory for keeping each user's list of posts between their writes, in MiB
    /// (SQLite only; 0 turns it off).
    #[arg(long, env = "POSTS_CACHE_MIB", default_value_t = 16)]
    pub posts_cache_mib: usize,

    /// `POST /posts` per user (`N/PERIOD`: a burst of N, refilled over PERIOD).
    #[arg(long, env = "POST_RATE_PER_USER", default_value = "30/1m")]
    pub post_rate_per_user: Rate,
}
