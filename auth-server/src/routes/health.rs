//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use service_kit::Result;

use crate::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
}
