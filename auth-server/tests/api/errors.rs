//! Routing and body errors: always the contract's JSON body, never the framework's plain text.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn an_unknown_route_is_404_json() {
    let app = spawn_app().await;
    for path in ["/", "/nope", "/login/extra", "/posts"] {
        let response = app.get(path).await;
        assert_error(response, 404, "not_found").await;
    }
    let response = app.post_json("/nope", &json!({})).await;
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_405_json_with_allow() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::GET, "/login", "POST"),
        (reqwest::Method::GET, "/register", "POST"),
        (reqwest::Method::GET, "/token", "POST"),
        (reqwest::Method::POST, "/logout", "DELETE"),
        (reqwest::Method::DELETE, "/healthz", "GET"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("send");
        let allow = response
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("an Allow header on {method} {path}"))
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{method} {path}: Allow: {allow}"
        );
        assert_error(response, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn a_20_kb_body_is_413_json() {
    let app = spawn_app().await;
    let big = "x".repeat(20 * 1024);
    for path in ["/register", "/login", "/token"] {
        let body = json!({ "username": "alice", "password": big, "token": big });
        let response = app.post_json(path, &body).await;
        assert_error(response, 413, "payload_too_large").await;
    }
    let response = app.delete_json("/logout", &json!({ "token": big })).await;
    assert_error(response, 413, "payload_too_large").await;
}

/// Without a Content-Length the limit must hold while the body streams in.
#[tokio::test]
async fn a_20_kb_chunked_body_is_413_json() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.expect("connect");
    let head = format!(
        "POST /register HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send the head");
    let body = format!(r#"{{"username": "alice", "password": "{}"}}"#, "x".repeat(20 * 1024));
    for chunk in body.as_bytes().chunks(1024) {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        // The server may answer and close before the whole body is sent.
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);

    let (head, body) = response.split_once("\r\n\r\n").expect("a response head and body");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-type: application/json"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["error"], "payload_too_large", "{body}");
    crate::helpers::assert_error_shape(&body);
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let app = spawn_app().await;
    // 16 KiB of JSON in all, with a token that is nonsense: read, then refused.
    let filler = "x".repeat(16 * 1024 - 20);
    let body = json!({ "token": filler }).to_string();
    assert!(body.len() <= 16 * 1024);
    let response = app.post_raw("/token", body).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_non_utf8_body_is_400() {
    let app = spawn_app().await;
    // Invalid UTF-8 inside the field each route reads.
    let invalid = |field: &str| {
        let mut body = format!(r#"{{"password": "{PASSWORD}", "{field}": "al"#).into_bytes();
        body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
        body.extend_from_slice(br#"ice"}"#);
        body
    };
    for (path, field) in [("/register", "username"), ("/login", "username"), ("/token", "token")] {
        let response = app.post_raw(path, invalid(field)).await;
        assert_error(response, 400, "invalid_body").await;
    }
    let response = app
        .client
        .delete(app.url("/logout"))
        .header("content-type", "application/json")
        .body(invalid("token"))
        .send()
        .await
        .expect("DELETE /logout");
    assert_error(response, 400, "invalid_body").await;
}

/// The contract's bodies are JSON objects with named fields. serde's derived
/// `Deserialize` also takes a JSON array, field by field in declaration order,
/// so `["name", "password"]` would register a user: refused here.
#[tokio::test]
async fn a_json_array_instead_of_an_object_is_400() {
    let app = spawn_app().await;
    let cases = [
        ("/register", json!(["arrayuser", PASSWORD])),
        ("/login", json!(["arrayuser", PASSWORD])),
        ("/token", json!(["not-a-token"])),
    ];
    for (path, body) in &cases {
        let response = app.post_json(path, body).await;
        assert_error(response, 400, "invalid_body").await;
    }
    let response = app.delete_json("/logout", &json!(["not-a-token", "global"])).await;
    assert_error(response, 400, "invalid_body").await;
}

#[tokio::test]
async fn every_error_has_exactly_error_and_message() {
    let app = spawn_app().await;
    app.registered("alice", PASSWORD).await;

    // assert_error checks the JSON content type and the two keys for each status.
    assert_error(app.register("a", PASSWORD).await, 400, "invalid_username").await;
    assert_error(app.register("bob", "short").await, 400, "invalid_password").await;
    assert_error(app.post_raw("/register", "nope").await, 400, "invalid_body").await;
    assert_error(app.login("alice", "wrong password").await, 401, "invalid_credentials").await;
    assert_error(app.post_json("/token", &json!({})).await, 401, "invalid_request").await;
    assert_error(app.refresh("garbage").await, 403, "invalid_grant").await;
    assert_error(app.get("/missing").await, 404, "not_found").await;
    assert_error(app.get("/login").await, 405, "method_not_allowed").await;
    assert_error(app.register("ALICE", PASSWORD).await, 409, "username_taken").await;
    let big = "x".repeat(20 * 1024);
    assert_error(app.register("alice", &big).await, 413, "payload_too_large").await;
}
