//! What the OpenAPI documents of both servers share: the error body, the error
//! responses every route may give, and the bearer security scheme.
//!
//! The responses here are components: a server's `#[derive(OpenApi)]` adds them
//! all with `modifiers(&service_kit::openapi::SharedComponents)`, and its
//! `#[utoipa::path]` attributes refer to them with `response = …`.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi};
use utoipa::{Modify, ToResponse, ToSchema};

/// The name of the bearer security scheme, for `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// The body of every error response: what [`crate::ApiError`] is sent as.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "error": "invalid_token", "message": "the access token has expired" }))]
pub struct ErrorBody {
    /// A stable, machine-readable code (`invalid_body`, `invalid_token`, `rate_limited`, …).
    pub error: String,
    /// For people; never contains internals.
    pub message: String,
}

/// Lists `codes` as the `enum` of the error body's `error` in `openapi`: the document says
/// exactly which codes its server answers, taken from the server's error enums.
pub fn list_error_codes(openapi: &mut OpenApi, codes: impl IntoIterator<Item = &'static str>) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let body = openapi
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("ErrorBody"));
    if let Some(RefOr::T(Schema::Object(body))) = body
        && let Some(RefOr::T(Schema::Object(error))) = body.properties.get_mut("error")
    {
        error.enum_values = Some(codes.into_iter().map(serde_json::Value::from).collect());
    }
}

/// The body of `/healthz` (`ok`) and `/readyz` (`ready`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "status": "ok" }))]
pub struct Status {
    pub status: String,
}

/// `payload_too_large`: the request body is larger than 16 KiB.
#[derive(ToResponse)]
#[response(example = json!({ "error": "payload_too_large", "message": "the request body is larger than 16 KiB" }))]
pub struct PayloadTooLarge(pub ErrorBody);

/// `rate_limited`: too many requests from this client; try again after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again (at least 1).")),
    example = json!({ "error": "rate_limited", "message": "too many login attempts from this address" })
)]
pub struct TooManyRequests(pub ErrorBody);

/// `unavailable`: the database does not answer; try again shortly.
#[derive(ToResponse)]
#[response(
    example = json!({ "error": "unavailable", "message": "the service is temporarily unavailable, try again shortly" })
)]
pub struct Unavailable(pub ErrorBody);

/// Any other error, with the JSON error body: `404` `not_found` (no such route),
/// `405` `method_not_allowed` (the route exists with other methods, listed in
/// `Allow`), `408` `timeout` (the request took longer than 30 s), `500`
/// `internal` (a fault of the server's own, never described to the client).
#[derive(ToResponse)]
#[response(
    headers(("Allow" = String, description = "With `405`: the methods the route takes.")),
    example = json!({ "error": "not_found", "message": "no such route" })
)]
pub struct Error(pub ErrorBody);

/// Adds the schemas and responses of this module to a document's components.
#[derive(Debug, Clone, Copy)]
pub struct SharedComponents;

impl Modify for SharedComponents {
    fn modify(&self, openapi: &mut OpenApi) {
        let shared = ComponentsBuilder::new()
            .schema_from::<ErrorBody>()
            .schema_from::<Status>()
            .response_from::<PayloadTooLarge>()
            .response_from::<TooManyRequests>()
            .response_from::<Unavailable>()
            .response_from::<Error>()
            .build();
        match openapi.components.as_mut() {
            Some(components) => {
                components.schemas.extend(shared.schemas);
                components.responses.extend(shared.responses);
            }
            None => openapi.components = Some(shared),
        }
    }
}

/// `invalid_request`: no `Authorization: Bearer <token>` header, or a malformed one.
#[derive(ToResponse)]
#[response(
    headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_request\", error_description=\"…\"`")),
    example = json!({ "error": "invalid_request", "message": "the Authorization header is missing; send `Authorization: Bearer <access token>`" })
)]
pub struct MissingToken(pub ErrorBody);

/// `invalid_token`: the access token is invalid, expired, not yet valid, of the wrong issuer
/// or audience, or not an access token.
#[derive(ToResponse)]
#[response(
    headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\", error_description=\"…\"`")),
    example = json!({ "error": "invalid_token", "message": "the access token has expired" })
)]
pub struct InvalidToken(pub ErrorBody);

/// Adds the bearer security scheme (`Authorization: Bearer <JWT access token>`) as [`BEARER`],
/// and its refusals [`MissingToken`] (`401`) and [`InvalidToken`] (`403`).
#[derive(Debug, Clone, Copy)]
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("An access token from the auth server's `/login` or `/token`."))
                .build(),
        );
        let bearer = ComponentsBuilder::new()
            .security_scheme(BEARER, scheme)
            .response_from::<MissingToken>()
            .response_from::<InvalidToken>()
            .build();
        match openapi.components.as_mut() {
            Some(components) => {
                components.security_schemes.extend(bearer.security_schemes);
                components.responses.extend(bearer.responses);
            }
            None => openapi.components = Some(bearer),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::response::IntoResponse;

    use super::*;
    use crate::{ApiError, Common};

    #[tokio::test]
    async fn error_body_is_what_api_errors_send() {
        let response = ApiError::new(Common::InvalidBody, "the body must be a JSON object").into_response();
        let bytes = to_bytes(response.into_body(), 1024).await.expect("a body");
        let body: ErrorBody = serde_json::from_slice(&bytes).expect("exactly the fields of ErrorBody");
        assert_eq!(body.error, "invalid_body");
        assert_eq!(body.message, "the body must be a JSON object");
    }
}
