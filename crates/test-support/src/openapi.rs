//! Checks of a server's `/openapi.json` against the router it describes: the same paths, the
//! same methods, and every operation answering with one of its documented statuses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use reqwest::Method;
use serde_json::Value;

/// The document at `base` (`http://host:port`) as a client gets it: `200`, JSON.
pub async fn document(client: &reqwest::Client, base: &str) -> Value {
    let response = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").expect("a Content-Type").clone();
    assert_eq!(content_type, "application/json");
    response.json().await.expect("the document is JSON")
}

/// An OpenAPI 3.1 document titled `name` at `version` (the crate's own, from `env!`), whose
/// references all resolve.
pub fn assert_3_1_named(doc: &Value, name: &str, version: &str) {
    let openapi = doc["openapi"].as_str().expect("an `openapi` version");
    assert!(openapi.starts_with("3.1."), "{openapi}");
    assert_eq!(doc["info"]["title"], name);
    assert_eq!(doc["info"]["version"], version);
    assert_refs_resolve(doc);
}

/// The document's `ErrorBody` schema requires the `error` and `message` of every error answer.
pub fn assert_error_body(doc: &Value) {
    let schema = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(schema["required"], serde_json::json!(["error", "message"]), "{schema}");
}

/// The property names of the component schema `schema`.
pub fn properties<'a>(doc: &'a Value, schema: &str) -> BTreeSet<&'a str> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The paths a router serves, read from its `Debug` form (axum prints each route's path as
/// `RouteId(n): "/path"`, then its `fallback_router`, which is no route of the API). This is
/// the router itself, so a route added anywhere (a handler's module, the server's `app`, the
/// shared middleware stack) is seen.
pub fn served_paths(router: &impl Debug) -> BTreeSet<String> {
    let printed = format!("{router:?}");
    let routes = printed.split("fallback_router:").next().unwrap_or_default();
    let mut paths = BTreeSet::new();
    let mut rest = routes;
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at + "RouteId(".len()..];
        let Some(after_id) = rest.find(')').map(|end| &rest[end + 1..]) else {
            break;
        };
        if let Some(quoted) = after_id.strip_prefix(": \"")
            && let Some(end) = quoted.find('"')
        {
            let path = &quoted[..end];
            // The fallback's catch-all, not a route of the API.
            if !path.contains("__private__axum") {
                paths.insert(path.to_owned());
            }
        }
        rest = after_id;
    }
    assert!(
        !paths.is_empty(),
        "no route found in the router's Debug form; has axum changed how it prints routers?\n{printed}"
    );
    paths
}

/// The documented operations: path to upper-case methods.
pub fn operations(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let paths = doc["paths"].as_object().expect("the document has `paths`");
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item")
                .keys()
                .filter(|key| HTTP_METHODS.contains(&key.as_str()))
                .map(|method| method.to_ascii_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The operation object of `method` (lower case) at `path`.
pub fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let operation = &doc["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not documented");
    operation
}

/// A documented response, following a `$ref` to `components/responses`.
pub fn documented_response<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let response = &operation(doc, path, method)["responses"][status];
    resolve(doc, response)
}

/// The documented header `name` of a response, if any.
pub fn header_of<'a>(doc: &'a Value, path: &str, method: &str, status: &str, name: &str) -> Option<&'a Value> {
    documented_response(doc, path, method, status)["headers"]
        .as_object()?
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => pointer(doc, reference).unwrap_or_else(|| panic!("{reference} does not resolve")),
        None => value,
    }
}

fn pointer<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` in the document points to something in it.
pub fn assert_refs_resolve(doc: &Value) {
    fn walk(doc: &Value, value: &Value, broken: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && pointer(doc, reference).is_none()
                {
                    broken.push(reference.clone());
                }
                map.values().for_each(|v| walk(doc, v, broken));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, broken)),
            _ => {}
        }
    }
    let mut broken = Vec::new();
    walk(doc, doc, &mut broken);
    assert!(broken.is_empty(), "references to nothing: {broken:?}");
}

/// The router serves exactly the documented paths, each with exactly the documented methods.
/// The methods are asked of the running server at `base` (`http://host:port`): a method a path
/// does not take is `405`, whose `Allow` lists those it does.
pub async fn assert_routes_match(router: &impl Debug, doc: &Value, base: &str) {
    let served = served_paths(router);
    let documented = operations(doc);
    let undocumented: Vec<&String> = served.iter().filter(|p| !documented.contains_key(*p)).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in /openapi.json: {undocumented:?}. Give the handler a `#[utoipa::path]` and register \
         it with `routes!(…)` in the server's `api()`; a route that the shared middleware stack adds goes in the \
         `paths(…)` of the server's `ApiDoc` instead"
    );
    let unserved: Vec<&String> = documented.keys().filter(|p| !served.contains(*p)).collect();
    assert!(unserved.is_empty(), "in /openapi.json but not served: {unserved:?}");

    let client = reqwest::Client::new();
    for (path, methods) in &documented {
        let probe = ["PATCH", "PUT", "DELETE", "POST", "GET"]
            .into_iter()
            .find(|m| !methods.contains(*m))
            .expect("a method the path does not take");
        let method = Method::from_bytes(probe.as_bytes()).expect("a method");
        let response = client
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 405, "{probe} {path}");
        let allow = response
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("405 without Allow for {probe} {path}"))
            .to_str()
            .expect("an ASCII Allow");
        let mut allowed: BTreeSet<String> = allow.split(',').map(|m| m.trim().to_owned()).collect();
        // axum answers HEAD wherever it answers GET; HEAD is part of GET in the document.
        if allowed.contains("GET") && !methods.contains("HEAD") {
            allowed.remove("HEAD");
        }
        assert_eq!(
            &allowed, methods,
            "methods served at {path} (Allow: {allow}) and documented"
        );
    }
}

/// Every documented operation, called with no body and no credentials, answers with one of its
/// documented statuses (`default` aside), with the documented content type and headers, and with
/// the JSON error body if it is an error.
pub async fn assert_operations_answer(doc: &Value, base: &str) {
    let client = reqwest::Client::new();
    for (path, methods) in operations(doc) {
        for method in methods {
            let lower = method.to_ascii_lowercase();
            let request = Method::from_bytes(method.as_bytes()).expect("a method");
            let response = client
                .request(request, format!("{base}{path}"))
                .send()
                .await
                .expect("the server answers");
            let status = response.status().as_u16().to_string();
            let responses = operation(doc, &path, &lower)["responses"]
                .as_object()
                .expect("responses");
            assert!(
                responses.contains_key(&status),
                "{method} {path} answered {status}, documented: {:?}",
                responses.keys().collect::<Vec<_>>()
            );
            let documented = documented_response(doc, &path, &lower, &status);
            for header in documented["headers"].as_object().into_iter().flat_map(|h| h.keys()) {
                assert!(
                    response.headers().contains_key(header.as_str()),
                    "{method} {path} answered {status} without its documented {header}"
                );
            }
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().expect("an ASCII Content-Type").to_owned());
            let bytes = response.bytes().await.expect("a body");
            match documented["content"].as_object() {
                Some(content) => {
                    let actual = content_type.unwrap_or_default();
                    assert!(
                        content.keys().any(|documented| actual.starts_with(documented.as_str())),
                        "{method} {path} answered {status} as {actual:?}, documented as {:?}",
                        content.keys().collect::<Vec<_>>()
                    );
                }
                None => assert!(
                    bytes.is_empty(),
                    "{method} {path} answered {status} with an undocumented body"
                ),
            }
            if status.starts_with('4') || status.starts_with('5') {
                let body: Value = serde_json::from_slice(&bytes).expect("a JSON error body");
                assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
            }
        }
    }
}
