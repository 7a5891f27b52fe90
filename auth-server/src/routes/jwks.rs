//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// How long a client may keep the key set before asking again. A rotation publishes the next
/// key at least this long (plus the verifiers' refresh interval) before it signs.
pub const MAX_AGE_SECS: u64 = 300;

/// Every public key whose access tokens may still be live: the signing key's, the next key
/// published before it signs, and retired keys until their last token has expired. In
/// `HS256` mode an empty set: the access key is a secret and is never published.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    responses(
        (status = 200, description = "The RFC 7517 JWK Set of the Ed25519 public keys that verify access tokens \
            (`kty` `OKP`, `crv` `Ed25519`, `x`, `kid`, `alg` `EdDSA`, `use` `sig`); `{\"keys\":[]}` with \
            `ACCESS_TOKEN_ALG=HS256`. `Cache-Control: public, max-age=300`.", content_type = "application/json",
            body = Object),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CACHE_CONTROL, format!("public, max-age={MAX_AGE_SECS}")),
        ],
        state.access.jwks(),
    )
}
