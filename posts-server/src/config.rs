//! The posts server's settings: flags and environment variables of the same meaning.

use std::net::SocketAddr;

use clap::Parser;
use jwt_tokens::config::TokenArgs;

/// Serves each user's posts to holders of an access token from the auth server.
#[derive(Parser, Debug, Clone)]
#[command(name = "posts-server", version)]
pub struct Config {
    /// Address to listen on; port 0 picks any free port (printed at start).
    #[arg(long, env = "POSTS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where posts are kept: `sqlite://path/to/posts.db` (created if missing).
    #[arg(long, env = "POSTS_DATABASE_URL", default_value = "sqlite://data/posts.db")]
    pub database_url: String,

    /// How access tokens are verified (the posts server never sees the refresh secret).
    #[command(flatten)]
    pub tokens: TokenArgs,

    /// Log filter, e.g. `info` or `posts_server=debug,info`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log: String,
}
