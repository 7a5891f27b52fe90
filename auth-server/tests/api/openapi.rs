//! `GET /openapi.json`: an OpenAPI 3.1 document of exactly the routes the router serves,
//! each answering at its documented path with one of its documented statuses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use auth_server::password::Hasher;
use auth_server::{AppState, Lifetimes, Limits, app, open_store};
use jwt_tokens::{KeySet, RefreshTokens, Secret};
use serde_json::Value;
use service_kit::rate_limit::AddressSource;
use test_support::openapi;

use crate::helpers::{REFRESH_SECRET, TestApp, access_tokens, config, default_settings, spawn_app, test_data};

/// The document as a client gets it.
async fn document(app: &TestApp) -> Value {
    openapi::document(&app.client, &app.address).await
}

/// The router that `main` serves, built from a state of its own.
async fn router() -> axum::Router {
    let data = test_data().await;
    let config = config(&data);
    let store = open_store(
        &config.database_url,
        &config.server.database,
        database::sqlite::Access::Server,
    )
    .await
    .expect("open the store");
    let keys = |secret: &str| KeySet::single(&Secret::new(secret)).expect("a valid secret");
    app(
        AppState {
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
        },
        &Default::default(),
    )
}

#[tokio::test]
async fn is_openapi_3_1_named_after_this_crate() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    openapi::assert_3_1_named(&doc, env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn describes_every_route_the_router_serves_and_no_other() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    openapi::assert_routes_match(&router().await, &doc, &app.address).await;
}

#[tokio::test]
async fn every_operation_answers_a_trivial_request_with_a_documented_status() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    openapi::assert_operations_answer(&doc, &app.address).await;
}

#[tokio::test]
async fn documents_the_contracts_errors() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    openapi::assert_error_body(&doc);
    let limited = openapi::header_of(&doc, "/login", "post", "429", "Retry-After");
    assert!(limited.is_some(), "429 of /login without Retry-After");
    for (path, status) in [
        ("/login", "401"),
        ("/token", "401"),
        ("/token", "403"),
        ("/register", "403"),
    ] {
        let challenge = openapi::header_of(&doc, path, "post", status, "WWW-Authenticate");
        assert!(challenge.is_some(), "{status} of {path} without WWW-Authenticate");
    }
    let statuses: BTreeMap<&str, Vec<&str>> = [
        (
            "/register",
            vec!["201", "400", "403", "409", "413", "429", "503", "default"],
        ),
        ("/login", vec!["200", "400", "401", "413", "429", "503", "default"]),
        (
            "/token",
            vec!["200", "400", "401", "403", "413", "429", "503", "default"],
        ),
    ]
    .into_iter()
    .collect();
    for (path, expected) in statuses {
        let documented: Vec<&str> = openapi::operation(&doc, path, "post")["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(documented, expected, "{path}");
    }
    assert_eq!(
        openapi::properties(&doc, "TokenPair"),
        BTreeSet::from(["accessToken", "refreshToken", "tokenType", "expiresIn"])
    );
}
