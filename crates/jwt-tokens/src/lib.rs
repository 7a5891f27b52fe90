//! Access and refresh tokens: what they claim, which keys sign them, and how strictly they are checked.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod claims;
mod codec;
pub mod config;
pub mod extract;
mod fast;
mod keys;
mod secret;

pub use claims::{AccessClaims, RefreshClaims};
pub use codec::{AccessTokens, IssueError, RefreshTokens, TokenKind, TokenSettings, VerifyError, VerifyReason};
pub use extract::{AuthHeaderError, Authenticated, bearer_token};
pub use keys::{KeyError, KeySet, MIN_SECRET_BYTES, key_id};
pub use secret::Secret;

/// Seconds since the Unix epoch, as JWT times are written.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
