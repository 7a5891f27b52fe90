//! The PostgreSQL backend: one pool, shared by as many servers as run on the database.

use async_trait::async_trait;
use database::postgres::DatabaseArgs;
use service_kit::now_unix_ms;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use super::{NewPost, Post, PostStore, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The columns of a [`PostRow`]: `created_at` is a `timestamptz` in the table and Unix
/// milliseconds in a post.
macro_rules! post_columns {
    () => {
        "id, user_id, username, title, body, (EXTRACT(EPOCH FROM created_at) * 1000)::BIGINT AS created_at"
    };
}

/// A post as stored: `title` and `body` are UTF-8 in `bytea` columns (see the migration).
#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    user_id: String,
    username: String,
    title: Vec<u8>,
    body: Vec<u8>,
    created_at: i64,
}

impl TryFrom<PostRow> for Post {
    type Error = StoreError;

    /// Only this store writes these columns, always from a `String`.
    fn try_from(row: PostRow) -> Result<Self, StoreError> {
        let text = |bytes| String::from_utf8(bytes).map_err(|e| StoreError::from(sqlx::Error::Decode(Box::new(e))));
        Ok(Post {
            id: row.id,
            user_id: row.user_id,
            username: row.username,
            title: text(row.title)?,
            body: text(row.body)?,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects (waiting for a database that is still starting) and migrates the database
    /// at a `postgres://` URL.
    pub async fn open(url: &str, args: &DatabaseArgs) -> Result<Self, String> {
        let pool = database::postgres::open(url, &MIGRATOR, args).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl PostStore for PostgresStore {
    async fn list_for_user(&self, user_id: &str) -> Result<Vec<Post>, StoreError> {
        // `posts.created_at`, the column: the output column of the same name would not use the index.
        let rows: Vec<PostRow> = sqlx::query_as(concat!(
            "SELECT ",
            post_columns!(),
            " FROM posts WHERE user_id = $1 ORDER BY posts.created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Post::try_from).collect()
    }

    async fn create(&self, new: NewPost) -> Result<Post, StoreError> {
        // Read to the end (`fetch_all`), so that an error after the row (the commit) is not lost.
        let rows: Vec<PostRow> = sqlx::query_as(concat!(
            "INSERT INTO posts (user_id, username, title, body, created_at) \
             VALUES ($1, $2, $3, $4, TIMESTAMPTZ 'epoch' + $5 * INTERVAL '1 millisecond') RETURNING ",
            post_columns!()
        ))
        .bind(new.user_id)
        .bind(new.username)
        .bind(new.title.into_bytes())
        .bind(new.body.into_bytes())
        .bind(now_unix_ms())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .next()
            .ok_or(StoreError::from(sqlx::Error::RowNotFound))?
            .try_into()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Every later call fails as unavailable.
    async fn close(&self) {
        self.pool.close().await;
    }
}
