//! `/healthz` and `/readyz`, including a database that has gone away.

use std::sync::Arc;

use database::postgres::DatabaseArgs;
use posts_server::{AppState, app};
use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::{assert_error, json, spawn_app, test_data, token_for, tokens};

#[tokio::test]
async fn healthz_is_200() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.expect("GET /healthz");
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await, json!({ "status": "ok" }));
}

#[tokio::test]
async fn readyz_is_200_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.expect("GET /readyz");
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await, json!({ "status": "ready" }));
}

#[tokio::test]
async fn database_gone_is_503() {
    let data = test_data().await;
    let store = posts_server::store::connect(&data.database_url(), &DatabaseArgs::default(), 1 << 20)
        .await
        .expect("open the store");
    let state = AppState::new(Arc::new(tokens()), Arc::clone(&store));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(service_kit::serve::serve(
        listener,
        app(state, &Default::default()),
        service_kit::serve::HttpArgs::default(),
        std::future::pending::<()>(),
    ));
    let client = reqwest::Client::new();

    let ready = client.get(format!("{base}/readyz")).send().await.expect("GET /readyz");
    assert_eq!(ready.status(), 200);

    store.close().await;

    let ready = client.get(format!("{base}/readyz")).send().await.expect("GET /readyz");
    assert_error(ready, 503, "unavailable").await;
    let posts = client
        .get(format!("{base}/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .send()
        .await
        .expect("GET /posts");
    let body = assert_error(posts, 503, "unavailable").await;
    assert!(!body.to_string().contains("posts.db"), "{body}");
    assert!(!body.to_string().contains("test_"), "{body}");
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
}
