//! The embedded SQLite backend: one writer connection, a pool of readers.

use async_trait::async_trait;
use database::sqlite::{Access, SqlitePools};
use sqlx::migrate::Migrator;

use service_kit::now_unix_ms;

use super::{NewPost, Post, PostStore, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pools: SqlitePools,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at a `sqlite://path` URL.
    pub async fn open(url: &str) -> Result<Self, String> {
        let pools = database::sqlite::open(url, &MIGRATOR, Access::Server).await?;
        Ok(Self { pools })
    }
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn list_for_user(&self, user_id: &str) -> Result<Vec<Post>, StoreError> {
        let posts = sqlx::query_as(
            "SELECT id, user_id, username, title, body, created_at FROM posts \
             WHERE user_id = ? ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pools.reader)
        .await?;
        Ok(posts)
    }

    async fn create(&self, new: NewPost) -> Result<Post, StoreError> {
        // Run to completion (`fetch_all`): the statement commits when it completes, and a commit
        // that fails (a full disk) must be an error, not a row already handed out.
        let posts: Vec<Post> = sqlx::query_as(
            "INSERT INTO posts (user_id, username, title, body, created_at) VALUES (?, ?, ?, ?, ?) \
             RETURNING id, user_id, username, title, body, created_at",
        )
        .bind(new.user_id)
        .bind(new.username)
        .bind(new.title)
        .bind(new.body)
        .bind(now_unix_ms())
        .fetch_all(&self.pools.writer)
        .await?;
        posts.into_iter().next().ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Both pools: a server that can read but not write is not ready.
        sqlx::query("SELECT 1").execute(&self.pools.reader).await?;
        sqlx::query("SELECT 1").execute(&self.pools.writer).await?;
        Ok(())
    }

    /// Closing lets SQLite fold the WAL back into the database file; every
    /// later call fails as unavailable.
    async fn close(&self) {
        self.pools.close().await;
    }
}
