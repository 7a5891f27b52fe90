//! `GET /openapi.json`: the OpenAPI 3.1 description of this server, generated from
//! the same route list as the router itself ([`crate::api`]).

use std::sync::LazyLock;

use axum::Json;
use service_kit::openapi::{BearerScheme, SharedComponents};
use utoipa::openapi::OpenApi;

/// The document's frame: `info` from this crate's `Cargo.toml`, the shared components, the
/// bearer scheme (of the account routes), and the route the shared middleware stack adds
/// (`/metrics`); [`crate::api`] adds the others.
#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&SharedComponents, &BearerScheme), paths(service_kit::metrics::render))]
pub struct ApiDoc;

static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
    let mut document = crate::api().into_openapi();
    service_kit::openapi::list_error_codes(&mut document, error_codes());
    document
});

/// Every error code this server answers: those of both servers, then its own, each once (one
/// code may be answered with two statuses: `invalid_credentials` is `401` at login, `403` for a
/// wrong current password).
pub fn error_codes() -> impl Iterator<Item = &'static str> {
    let mut seen = std::collections::HashSet::new();
    service_kit::error::codes::<service_kit::Common>()
        .chain(service_kit::error::codes::<crate::error::AuthError>())
        .filter(move |code| seen.insert(*code))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this server.", content_type = "application/json",
            body = Object),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
pub async fn openapi_json() -> Json<&'static OpenApi> {
    Json(&DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_lists_exactly_the_codes_of_the_error_enums() {
        let document = serde_json::to_value(&*DOCUMENT).expect("the document serializes");
        let listed = &document["components"]["schemas"]["ErrorBody"]["properties"]["error"]["enum"];
        let codes: Vec<&str> = error_codes().collect();
        assert_eq!(listed, &serde_json::json!(codes));
    }
}
