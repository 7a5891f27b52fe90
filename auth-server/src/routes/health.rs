//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use service_kit::Result;

use crate::AppState;

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
pub async fn healthz() -> Json<Value> {
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
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
}
