//! `GET /openapi.json`: an OpenAPI 3.1 document of exactly the routes the router serves,
//! each answering at its documented path with one of its documented statuses.

use std::collections::BTreeSet;
use std::sync::Arc;

use database::postgres::DatabaseArgs;
use posts_server::{AppState, app};
use serde_json::{Value, json};
use test_support::openapi;

use crate::helpers::{TestApp, spawn_app, test_data, tokens};

/// The document as a client gets it.
async fn document(app: &TestApp) -> Value {
    openapi::document(&app.client, &app.address).await
}

/// The router that `main` serves, built from a state of its own.
async fn router() -> axum::Router {
    let data = test_data().await;
    let store = posts_server::store::connect(&data.database_url(), &DatabaseArgs::default(), 1 << 20)
        .await
        .expect("open the store");
    app(AppState::new(Arc::new(tokens()), store), &Default::default())
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
async fn posts_take_a_bearer_jwt_and_nothing_else_does() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from the auth server's `/login` or `/token`."
        })
    );
    for (path, methods) in openapi::operations(&doc) {
        for method in methods {
            let method = method.to_ascii_lowercase();
            let security = &openapi::operation(&doc, &path, &method)["security"];
            if path == "/posts" {
                assert_eq!(security, &json!([{ "bearer": [] }]), "{method} {path}");
                for (status, header) in [("401", "WWW-Authenticate"), ("403", "WWW-Authenticate")] {
                    let documented = openapi::header_of(&doc, &path, &method, status, header);
                    assert!(documented.is_some(), "{status} of {method} {path} without {header}");
                }
            } else {
                assert!(security.is_null(), "{method} {path}: {security}");
            }
        }
    }
    assert!(openapi::header_of(&doc, "/posts", "post", "429", "Retry-After").is_some());
}

#[tokio::test]
async fn documents_posts_as_they_are_sent() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(
        openapi::properties(&doc, "Post"),
        BTreeSet::from(["id", "username", "title", "body", "createdAt"])
    );
    let list = &openapi::documented_response(&doc, "/posts", "get", "200")["content"]["application/json"]["schema"];
    assert_eq!(list["type"], "array", "{list}");
    assert_eq!(list["items"]["$ref"], "#/components/schemas/Post", "{list}");
    openapi::assert_error_body(&doc);
}
