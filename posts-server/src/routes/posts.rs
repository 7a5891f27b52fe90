//! `/posts`: each caller reads and writes only their own posts.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jwt_tokens::Authenticated;
use serde::{Deserialize, Serialize};
use service_kit::{ApiError, AppJson, Result};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::{NewPost, Post, PostStore};
use crate::{AppState, PostLimit};

const TITLE_MAX_CHARS: usize = 200;
const BODY_MAX_CHARS: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create))
}

/// The request body of `POST /posts`; both fields are required, others are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PostInput {
    /// 1 to 200 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    body: String,
}

/// A post as clients see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Post)]
pub(crate) struct PostView {
    id: i64,
    /// The owner's username, from the access token.
    username: String,
    title: String,
    body: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, example = "2023-11-14T22:13:20.123Z")]
    created_at: String,
}

impl From<Post> for PostView {
    fn from(post: Post) -> Self {
        let millis = u64::try_from(post.created_at).unwrap_or_default();
        let created_at = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis)).to_string();
        Self {
            id: post.id,
            username: post.username,
            title: post.title,
            body: post.body,
            created_at,
        }
    }
}

// `Authenticated` comes first so that a caller without a token hears 401
// before anything about the body.
/// The caller's posts, newest first.
#[utoipa::path(
    get,
    path = "/posts",
    operation_id = "list_posts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's posts only, newest first.", body = Vec<PostView>),
        (status = 401, response = service_kit::openapi::MissingToken),
        (status = 403, response = service_kit::openapi::InvalidToken),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
async fn list(
    Authenticated(caller): Authenticated,
    State(store): State<Arc<dyn PostStore>>,
) -> Result<Json<Vec<PostView>>> {
    let posts = store.list_for_user(&caller.sub).await?;
    Ok(render(posts))
}

/// The answer of `GET /posts` for `posts` (also the benchmark ceiling's, [`crate::ceiling_app`]).
pub(crate) fn render(posts: impl IntoIterator<Item = Post>) -> Json<Vec<PostView>> {
    Json(posts.into_iter().map(PostView::from).collect())
}

/// A new post, owned by the caller.
#[utoipa::path(
    post,
    path = "/posts",
    operation_id = "create_post",
    security(("bearer" = [])),
    request_body = PostInput,
    responses(
        (status = 201, description = "The created post.", body = PostView),
        (status = 400, description = "`invalid_post` (a title or body outside its limits) or `invalid_body` (not a \
            JSON object with both fields, or no `Content-Type: application/json`).",
            body = service_kit::openapi::ErrorBody),
        (status = 401, response = service_kit::openapi::MissingToken),
        (status = 403, response = service_kit::openapi::InvalidToken),
        (status = 413, response = service_kit::openapi::PayloadTooLarge),
        (status = 429, response = service_kit::openapi::TooManyRequests),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
async fn create(
    Authenticated(caller): Authenticated,
    State(store): State<Arc<dyn PostStore>>,
    State(limit): State<Arc<PostLimit>>,
    AppJson(input): AppJson<PostInput>,
) -> Result<(StatusCode, Json<PostView>)> {
    limit.check(&caller.sub)?;
    validate(&input)?;
    let post = store
        .create(NewPost {
            user_id: caller.sub,
            username: caller.name,
            title: input.title,
            body: input.body,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(post.into())))
}

/// Limits are in characters, not bytes, as a person counts them.
fn validate(input: &PostInput) -> Result<()> {
    if input.title.trim().is_empty() || input.title.chars().count() > TITLE_MAX_CHARS {
        return Err(invalid(format!(
            "title must be 1 to {TITLE_MAX_CHARS} characters and not only whitespace"
        )));
    }
    if input.body.chars().count() > BODY_MAX_CHARS {
        return Err(invalid(format!("body must be at most {BODY_MAX_CHARS} characters")));
    }
    Ok(())
}

fn invalid(message: String) -> ApiError {
    ApiError::new(crate::error::PostsError::InvalidPost, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, body: &str) -> PostInput {
        PostInput {
            title: title.to_owned(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(validate(&input(&"é".repeat(200), "")).is_ok());
        assert!(validate(&input(&"é".repeat(201), "")).is_err());
        assert!(validate(&input("t", &"é".repeat(10_000))).is_ok());
        assert!(validate(&input("t", &"é".repeat(10_001))).is_err());
    }

    #[test]
    fn refuses_blank_titles() {
        for title in ["", " ", "\t\n"] {
            let err = validate(&input(title, "body")).expect_err("blank title");
            assert_eq!(err.code(), "invalid_post");
        }
    }

    #[test]
    fn formats_created_at_in_utc_with_millis() {
        let post = Post {
            id: 1,
            user_id: "u".into(),
            username: "ann".into(),
            title: "t".into(),
            body: "b".into(),
            created_at: 1_700_000_000_123,
        };
        assert_eq!(PostView::from(post).created_at, "2023-11-14T22:13:20.123Z");
    }
}
