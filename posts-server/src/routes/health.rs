//! `/healthz` (the process is up) and `/readyz` (and its database answers).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use service_kit::{ApiError, Result};

use crate::AppState;
use crate::store::PostStore;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(store): State<Arc<dyn PostStore>>) -> Result<Json<Value>> {
    store.ping().await.map_err(ApiError::unavailable)?;
    Ok(Json(json!({ "status": "ready" })))
}
