//! The contract's error body, `{"error": code, "message": text}`, for every failure.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwt_tokens::extract::{ErrorBody as Body, bearer_challenge as challenge};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// What an error code stands for: the status it is answered with and, for a `401` or `403`,
/// the RFC 6750 `error` of its `WWW-Authenticate` challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    /// The body's `error`.
    pub code: &'static str,
    pub challenge: Option<&'static str>,
}

/// The error codes of a server: each one variant, whose [`Answer`] comes from one `match`.
/// [`Common`] has those of both servers; each server adds an enum of its own.
pub trait ErrorCode: Copy + 'static {
    /// Every code, for the documentation and the tests that hold it to the code.
    const ALL: &'static [Self];

    fn answer(self) -> Answer;
}

/// The codes of an error enum, in its order.
pub fn codes<E: ErrorCode>() -> impl Iterator<Item = &'static str> {
    E::ALL.iter().map(|code| code.answer().code)
}

/// The error codes both servers answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Common {
    /// `400`: not JSON, no `Content-Type: application/json`, missing or mistyped fields.
    InvalidBody,
    /// `401`: no token where one is needed.
    InvalidRequest,
    /// `403`: an access token that fails verification.
    InvalidToken,
    NotFound,
    MethodNotAllowed,
    Timeout,
    PayloadTooLarge,
    RateLimited,
    Internal,
    /// `503`: the database does not answer.
    Unavailable,
    /// `503`: the disk under the database is full.
    StorageFull,
}

impl ErrorCode for Common {
    const ALL: &'static [Self] = &[
        Self::InvalidBody,
        Self::InvalidRequest,
        Self::InvalidToken,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Timeout,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
        Self::StorageFull,
    ];

    fn answer(self) -> Answer {
        let (status, code, challenge) = match self {
            Self::InvalidBody => (StatusCode::BAD_REQUEST, "invalid_body", None),
            Self::InvalidRequest => (StatusCode::UNAUTHORIZED, "invalid_request", Some("invalid_request")),
            Self::InvalidToken => (StatusCode::FORBIDDEN, "invalid_token", Some("invalid_token")),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", None),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            Self::StorageFull => (StatusCode::SERVICE_UNAVAILABLE, "storage_full", None),
        };
        Answer {
            status,
            code,
            challenge,
        }
    }
}

/// The `Retry-After` of a `storage_full` answer, in seconds: freeing disk space takes an operator.
const STORAGE_FULL_RETRY_AFTER: u64 = 30;

/// An error as a client sees it. Server faults carry a `cause` that is logged
/// (by [`crate::middleware::json_errors`]) and never sent.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    challenge: Option<&'static str>,
    retry_after: Option<u64>,
    cause: Option<String>,
}

/// The logged cause of a server fault, handed from the response to the logging middleware.
#[derive(Clone, Debug)]
pub struct ErrorCause {
    pub cause: String,
    /// The error's code: faults of one code that come in a burst are logged once.
    pub code: &'static str,
}

impl ApiError {
    /// The error `code`, with its status and challenge, and a message for people.
    pub fn new(code: impl ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let Answer {
            status,
            code,
            challenge,
        } = code.answer();
        Self {
            status,
            code,
            message: message.into(),
            challenge,
            retry_after: None,
            cause: None,
        }
    }

    /// `429` with `Retry-After: seconds` (at least 1).
    pub fn too_many_requests(message: impl Into<Cow<'static, str>>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(Common::RateLimited, message)
        }
    }

    /// The same error, answered with `Retry-After: seconds` (at least 1).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// `500` with an opaque body; `cause` is logged, never sent.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(Common::Internal, "the server failed to handle this request")
        }
    }

    /// `503`: a dependency (the database) is not answering; `cause` is logged.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                Common::Unavailable,
                "the service is temporarily unavailable, try again shortly",
            )
        }
    }

    /// `503` `storage_full`: the disk under the database is full, so nothing was
    /// written; reads still work. `cause` is logged.
    pub fn storage_full(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            retry_after: Some(STORAGE_FULL_RETRY_AFTER),
            ..Self::new(
                Common::StorageFull,
                "the server's storage is full: nothing was changed, try again later",
            )
        }
    }

    /// The JSON error that stands for a bare status (used for responses that
    /// the framework or a middleware produced without a body of ours).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => (Common::InvalidBody, "the request could not be read"),
            StatusCode::NOT_FOUND => (Common::NotFound, "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (Common::MethodNotAllowed, "this route does not take that method"),
            StatusCode::REQUEST_TIMEOUT => (Common::Timeout, "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => (Common::PayloadTooLarge, "the request body is larger than 16 KiB"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (Common::InvalidBody, "expected Content-Type: application/json"),
            StatusCode::TOO_MANY_REQUESTS => (Common::RateLimited, "too many requests, try again later"),
            StatusCode::SERVICE_UNAVAILABLE => (Common::Unavailable, "the service is temporarily unavailable"),
            s if s.is_server_error() => (Common::Internal, "the server failed to handle this request"),
            _ => (Common::InvalidRequest, "the request was refused"),
        };
        // The status the framework chose stays, and so does the challenge of a 401 or 403 alone.
        Self {
            status,
            challenge: None,
            ..Self::new(code, message)
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            message: &self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        // Every 401 and 403 challenges (RFC 6750), even one built without saying how.
        let challenged =
            matches!(self.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN).then_some("invalid_request");
        if let Some(value) = self
            .challenge
            .or(challenged)
            .and_then(|code| challenge(code, &self.message))
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(ErrorCause { cause, code: self.code });
        }
        response
    }
}

/// A failed database call answers `503` (try again later: unavailable, or the disk is full)
/// or `500`; the cause is logged, never sent.
impl From<database::DbError> for ApiError {
    fn from(err: database::DbError) -> Self {
        match err {
            database::DbError::Unavailable(cause) => ApiError::unavailable(cause),
            database::DbError::StorageFull(cause) => ApiError::storage_full(cause),
            database::DbError::Failed(cause) => ApiError::internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_names_the_error_and_strips_quotes() {
        let value = challenge("invalid_token", "the \"token\" expired").expect("a header value");
        assert_eq!(
            value.to_str().expect("ascii"),
            r#"Bearer error="invalid_token", error_description="the token expired""#
        );
    }

    #[test]
    fn every_401_and_403_challenges() {
        let framework = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].map(ApiError::from_status);
        let coded = Common::ALL.iter().map(|code| ApiError::new(*code, "refused"));
        for error in framework.into_iter().chain(coded) {
            let (status, code) = (error.status(), error.code());
            let response = error.into_response();
            let value = response.headers().get(header::WWW_AUTHENTICATE);
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                let value = value.expect("a challenge");
                assert!(
                    value.to_str().expect("ascii").starts_with("Bearer error=\""),
                    "{code}: {value:?}"
                );
            } else {
                assert!(value.is_none(), "{code}: {value:?}");
            }
        }
        let response = ApiError::from_status(StatusCode::CONFLICT).into_response();
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn internal_errors_do_not_expose_their_cause() {
        let response = ApiError::internal("SELECT secret FROM users").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = response
            .extensions()
            .get::<ErrorCause>()
            .expect("cause kept for the log");
        assert_eq!(cause.cause, "SELECT secret FROM users");
        assert_eq!(cause.code, "internal");
    }
}
