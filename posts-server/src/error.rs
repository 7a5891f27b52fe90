//! The error codes only posts-server answers; [`service_kit::Common`] has those of both servers.

use axum::http::StatusCode;
use service_kit::error::{Answer, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostsError {
    /// `400`: a title or body outside its rules.
    InvalidPost,
}

impl ErrorCode for PostsError {
    const ALL: &'static [Self] = &[Self::InvalidPost];

    fn answer(self) -> Answer {
        let (status, code, challenge) = match self {
            Self::InvalidPost => (StatusCode::BAD_REQUEST, "invalid_post", None),
        };
        Answer {
            status,
            code,
            challenge,
        }
    }
}
