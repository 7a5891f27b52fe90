//! The contract's error body, `{"error": code, "message": text}`, for every failure.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwt_tokens::extract::{ErrorBody as Body, bearer_challenge as challenge};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

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
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
            cause: None,
        }
    }

    /// `429` with `Retry-After: seconds` (at least 1).
    pub fn too_many_requests(message: impl Into<Cow<'static, str>>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// `400`: the request is not what this route takes.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A `401` or `403` that carries `WWW-Authenticate: Bearer error="…"` (RFC 6750).
    pub fn bearer(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            challenge: Some(code),
            ..Self::new(status, code, message)
        }
    }

    /// The same error, challenging with another RFC 6750 `error` value than its code.
    pub fn with_challenge(mut self, error: &'static str) -> Self {
        self.challenge = Some(error);
        self
    }

    /// `500` with an opaque body; `cause` is logged, never sent.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed to handle this request",
            )
        }
    }

    /// `503`: a dependency (the database) is not answering; `cause` is logged.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
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
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_full",
                "the server's storage is full: nothing was changed, try again later",
            )
        }
    }

    /// The JSON error that stands for a bare status (used for responses that
    /// the framework or a middleware produced without a body of ours).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("invalid_body", "the request could not be read"),
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is larger than 16 KiB"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_body", "expected Content-Type: application/json"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests, try again later"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is temporarily unavailable"),
            s if s.is_server_error() => ("internal", "the server failed to handle this request"),
            _ => ("invalid_request", "the request was refused"),
        };
        Self::new(status, code, message)
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
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
            let response = ApiError::new(status, "some_code", "refused").into_response();
            let value = response.headers().get(header::WWW_AUTHENTICATE).expect("a challenge");
            assert!(
                value.to_str().expect("ascii").starts_with("Bearer error=\""),
                "{value:?}"
            );
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
