//! The claims of the two kinds of token, as distinct types.

use serde::{Deserialize, Serialize};

/// What an access token says: who (`sub`, `name`), for whom (`aud`), by whom
/// (`iss`), when (`iat`, `nbf`, `exp`), and which session (`sid`) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The username, as the original tutorial's `name` claim.
    pub name: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    /// The session (login) this token was issued under.
    pub sid: String,
}

/// What a refresh token says. Its audience is the auth server itself, so it
/// is never accepted as an access token, and it is signed with another key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    /// Identifies this one token within its session's family.
    pub jti: String,
    pub sid: String,
}
