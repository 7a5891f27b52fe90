//! `GET /healthz` and `GET /readyz`, and what every route answers when the database is gone.

use std::sync::Arc;
use std::time::Duration;

use auth_server::password::Hasher;
use auth_server::{AppState, Lifetimes, Limits, app, open_store};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use jwt_tokens::{KeySet, RefreshClaims, RefreshTokens, Secret, now_unix};
use serde_json::{Value, json};
use service_kit::rate_limit::AddressSource;
use tower::ServiceExt as _;

use crate::helpers::{
    ISSUER, REFRESH_SECRET, TestData, access_tokens, assert_error_shape, config, default_settings, json, spawn_app,
    test_data,
};

#[tokio::test]
async fn healthz_is_200() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ok");
}

#[tokio::test]
async fn readyz_is_200_when_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ready");
}

/// The app, as `main` builds it, over a store whose connections have been closed.
async fn app_with_a_closed_store(data: &TestData) -> (axum::Router, RefreshTokens) {
    let config = config(data);
    let store = open_store(
        &config.database_url,
        &config.server.database,
        database::sqlite::Access::Server,
    )
    .await
    .expect("open the store");
    store.close().await;
    let keys = |secret: &str| KeySet::single(&Secret::new(secret)).expect("a valid secret");
    let state = AppState {
        access: Arc::new(access_tokens(&config)),
        refresh: Arc::new(RefreshTokens::new(keys(REFRESH_SECRET), &default_settings())),
        store: Arc::clone(&store),
        hasher: Arc::new(Hasher::new().await.expect("a hasher")),
        settings: Lifetimes {
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(3600),
            reuse_grace: Duration::from_secs(10),
        },
        limits: Arc::new(Limits::from_config(&config)),
        addresses: AddressSource::default(),
        registration: config.registration,
        clock: config.clock,
        feed: auth_server::feed::Feed::new(Arc::clone(&store), 256, Duration::from_secs(30)),
    };
    (
        app(state, &Default::default()),
        RefreshTokens::new(keys(REFRESH_SECRET), &default_settings()),
    )
}

async fn call(
    router: &axum::Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    // As `serve` does: the peer address, which the rate limits key on.
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 50_000));
    let mut request = Request::builder().method(method).uri(uri).extension(ConnectInfo(peer));
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII").to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let body = serde_json::from_slice(&bytes).expect("a JSON body");
    (status, content_type, body)
}

fn assert_unavailable((status, content_type, body): (StatusCode, Option<String>, Value)) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_error_shape(&body);
    let text = body.to_string().to_lowercase();
    for internal in ["sql", "pool", "auth.db", "/tmp"] {
        assert!(!text.contains(internal), "the error leaks `{internal}`: {body}");
    }
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let data = test_data().await;
    let (router, _) = app_with_a_closed_store(&data).await;

    assert_unavailable(call(&router, Method::GET, "/readyz", None).await);

    // The process itself is still up.
    let (status, _, _) = call(&router, Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn login_against_a_database_that_is_gone_is_503_not_500() {
    let data = test_data().await;
    let (router, _) = app_with_a_closed_store(&data).await;
    let credentials = json!({ "username": "alice", "password": "a good password" });

    assert_unavailable(call(&router, Method::POST, "/login", Some(credentials)).await);
}

#[tokio::test]
async fn register_refresh_and_logout_against_a_database_that_is_gone_are_503() {
    let data = test_data().await;
    let (router, refresh) = app_with_a_closed_store(&data).await;
    let credentials = json!({ "username": "alice", "password": "a good password" });
    let token = refresh
        .sign(&RefreshClaims {
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            sub: "user".into(),
            iat: now_unix(),
            exp: now_unix() + 3600,
            jti: "jti".into(),
            sid: "session".into(),
        })
        .expect("sign");

    assert_unavailable(call(&router, Method::POST, "/register", Some(credentials)).await);
    assert_unavailable(call(&router, Method::POST, "/token", Some(json!({ "token": token }))).await);
    assert_unavailable(call(&router, Method::DELETE, "/logout", Some(json!({ "token": token }))).await);
}
