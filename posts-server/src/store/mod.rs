//! Where posts are kept: one small trait, one file per database.

mod cache;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use database::postgres::{DatabaseArgs, is_postgres_url};

pub use cache::CachedStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A stored post.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    /// The owner's user id (the token's `sub`).
    pub user_id: String,
    /// The owner's username when the post was written (the token's `name`).
    pub username: String,
    pub title: String,
    pub body: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A post to store, already validated.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub user_id: String,
    pub username: String,
    pub title: String,
    pub body: String,
}

#[async_trait]
pub trait PostStore: Send + Sync {
    /// The posts of `user_id`, newest first.
    async fn list_for_user(&self, user_id: &str) -> Result<Vec<Post>, StoreError>;
    /// Stores `new`, stamped with the current time.
    async fn create(&self, new: NewPost) -> Result<Post, StoreError>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes the connections (at shutdown, and in tests of a database that is gone).
    async fn close(&self);
}

/// A storage failure: the shared database error (`503` when the database is
/// down, an opaque `500` otherwise).
pub type StoreError = database::DbError;

/// Opens the store that a `POSTS_DATABASE_URL` names, migrated and ready; `database`
/// sizes and times the PostgreSQL pool. The error is one line for the operator.
///
/// On SQLite, each user's list is kept in memory between that user's writes,
/// within `cache_bytes` ([`CachedStore`]); this process is the file's only writer.
pub async fn connect(url: &str, database: &DatabaseArgs, cache_bytes: usize) -> Result<Arc<dyn PostStore>, String> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(CachedStore::new(SqliteStore::open(url).await?, cache_bytes)))
    } else if is_postgres_url(url) {
        Ok(Arc::new(PostgresStore::open(url, database).await?))
    } else {
        // The URL itself is not echoed: a mistyped one may still hold a password.
        Err("not a supported database URL; use sqlite://path/to/posts.db or postgres://user@host/database".into())
    }
}
