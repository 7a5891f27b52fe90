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

static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| crate::api().into_openapi());

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
