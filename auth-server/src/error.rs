//! The error codes only auth-server answers; [`service_kit::Common`] has those of both servers.

use axum::http::StatusCode;
use service_kit::error::{Answer, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// `400`: a username outside its rules.
    InvalidUsername,
    /// `400`: a password outside its rules.
    InvalidPassword,
    /// `401`: wrong username or password (one answer for both).
    InvalidCredentials,
    /// `403`: `POST /password` with a wrong current password. The same code as a failed login,
    /// but the bearer token was good: the request lacks the proof it needs, not authentication.
    WrongCurrentPassword,
    /// `403`: a refresh token that fails verification or whose session has ended.
    InvalidGrant,
    /// `403`: `POST /register` with `REGISTRATION=closed`.
    RegistrationClosed,
    /// `409`.
    UsernameTaken,
    /// `400`: a query parameter outside its rules (`GET /sessions/ended`).
    InvalidQuery,
    /// `403`: a request that uses the refresh cookie from an origin `CORS_ALLOWED_ORIGINS` does
    /// not list (or with no `Origin`): a possible cross-site request forgery; nothing is spent.
    InvalidOrigin,
}

impl ErrorCode for AuthError {
    const ALL: &'static [Self] = &[
        Self::InvalidUsername,
        Self::InvalidPassword,
        Self::InvalidCredentials,
        Self::WrongCurrentPassword,
        Self::InvalidGrant,
        Self::RegistrationClosed,
        Self::UsernameTaken,
        Self::InvalidQuery,
        Self::InvalidOrigin,
    ];

    fn answer(self) -> Answer {
        let (status, code, challenge) = match self {
            Self::InvalidUsername => (StatusCode::BAD_REQUEST, "invalid_username", None),
            Self::InvalidPassword => (StatusCode::BAD_REQUEST, "invalid_password", None),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials", Some("invalid_request")),
            // RFC 6750's `insufficient_scope`: the access token alone does not change a password.
            Self::WrongCurrentPassword => (StatusCode::FORBIDDEN, "invalid_credentials", Some("insufficient_scope")),
            Self::InvalidGrant => (StatusCode::FORBIDDEN, "invalid_grant", Some("invalid_token")),
            // RFC 6750's `insufficient_scope`: adding users takes more than this request has.
            Self::RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed", Some("insufficient_scope")),
            Self::UsernameTaken => (StatusCode::CONFLICT, "username_taken", None),
            Self::InvalidQuery => (StatusCode::BAD_REQUEST, "invalid_query", None),
            // RFC 6750's `invalid_request`: the cookie is fine, the request that carries it is not.
            Self::InvalidOrigin => (StatusCode::FORBIDDEN, "invalid_origin", Some("invalid_request")),
        };
        Answer {
            status,
            code,
            challenge,
        }
    }
}
