//! `/healthz` (the process is up) and `/readyz` (and its database answers).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use service_kit::{ApiError, Result};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::store::PostStore;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(health)).routes(routes!(ready))
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, description = "`{\"status\": \"ok\"}` while the process is up.",
            body = service_kit::openapi::Status),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`: the database answers.",
            body = service_kit::openapi::Status),
        (status = 503, response = service_kit::openapi::Unavailable),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
async fn ready(State(store): State<Arc<dyn PostStore>>) -> Result<Json<Value>> {
    store.ping().await.map_err(ApiError::unavailable)?;
    Ok(Json(json!({ "status": "ready" })))
}
