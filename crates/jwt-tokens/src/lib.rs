//! Access and refresh tokens: what they claim, which keys sign them, and how strictly they are checked.
//!
//! The verifier stands alone: any axum service that shares the access secret can protect its
//! routes with [`Authenticated`], which needs only an `Arc<AccessTokens>` reachable from the
//! router's state. A request without a usable `Authorization: Bearer` header is answered `401`,
//! one whose token fails verification `403`, both with the JSON error body and
//! `WWW-Authenticate` ([`Rejection`]); the handler runs only for a valid token.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use axum::{Json, Router, routing::get};
//! use jwt_tokens::{AccessTokens, Authenticated, KeySet, Secret, TokenSettings};
//! use tower::ServiceExt as _;
//!
//! async fn me(Authenticated(claims): Authenticated) -> Json<String> {
//!     Json(format!("hello, {}", claims.name))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let settings = TokenSettings {
//!     issuer: "auth-server".into(),
//!     audience: "posts-server".into(),
//!     leeway: Duration::from_secs(5),
//! };
//! let secret = Secret::new("the ACCESS_TOKEN_SECRET auth-server signs with");
//! let tokens = Arc::new(AccessTokens::new(KeySet::single(&secret).unwrap(), &settings));
//! let app: Router = Router::new().route("/me", get(me)).with_state(Arc::clone(&tokens));
//!
//! // A token as auth-server issues it at `/login` (here issued with the same secret).
//! let token = tokens.issue("user-id", "Kyle", "session-id", Duration::from_secs(900)).unwrap();
//! let request = |authorization: &str| {
//!     axum::http::Request::get("/me")
//!         .header("authorization", authorization)
//!         .body(axum::body::Body::empty())
//!         .unwrap()
//! };
//! let ok = app.clone().oneshot(request(&format!("Bearer {token}"))).await.unwrap();
//! assert_eq!(ok.status(), 200);
//! let refused = app.oneshot(request("Bearer not.a.token")).await.unwrap();
//! assert_eq!(refused.status(), 403);
//! assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod cache;
mod claims;
mod codec;
pub mod config;
pub mod ended;
pub mod extract;
mod fast;
#[cfg(feature = "follow")]
pub mod follow;
mod keys;
mod secret;

pub use claims::{AccessClaims, RefreshClaims};
pub use codec::{
    AccessTokens, DEFAULT_VERIFIED_CACHE, IssueError, RefreshTokens, TokenKind, TokenSettings, VerifyError,
    VerifyReason,
};
pub use extract::{AuthHeaderError, Authenticated, Rejection, bearer_token};
pub use keys::{Ed25519PrivateKey, Ed25519PublicKey, KeyError, KeySet, MIN_SECRET_BYTES, TokenAlgorithm, key_id};
pub use secret::Secret;

/// The system clock, the one place the servers read it: milliseconds since the Unix epoch, as
/// they stamp what they store. (What decides a session is the database's clock; what decides a
/// token's `exp` and `nbf` on the library path is `jsonwebtoken`'s own reading of this clock.)
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch, as JWT times are written: [`now_unix_ms`] in whole seconds.
pub fn now_unix() -> u64 {
    u64::try_from(now_unix_ms() / 1000).unwrap_or_default()
}
