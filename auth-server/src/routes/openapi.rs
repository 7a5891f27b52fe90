//! `GET /openapi.json`: the OpenAPI 3.1 description of this server, generated from
//! the same route list as the router itself ([`crate::api`]).

use std::sync::LazyLock;

use axum::Json;
use service_kit::openapi::SharedComponents;
use utoipa::openapi::OpenApi;

/// The document's frame: `info` from this crate's `Cargo.toml`, the shared components, and
/// the route the shared middleware stack adds (`/metrics`); [`crate::api`] adds the others.
#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&SharedComponents), paths(service_kit::metrics::render))]
pub struct ApiDoc;

static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
    let mut document = crate::api().into_openapi();
    service_kit::openapi::list_error_codes(&mut document, error_codes());
    document
});

/// Every error code this server answers: those of both servers, then its own.
pub fn error_codes() -> impl Iterator<Item = &'static str> {
    service_kit::error::codes::<service_kit::Common>().chain(service_kit::error::codes::<crate::error::AuthError>())
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
