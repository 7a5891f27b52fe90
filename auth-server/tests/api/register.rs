//! `POST /register`: usernames and passwords by the contract's rules.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_bearer_error, assert_error, json, spawn_app, spawn_app_with};

#[tokio::test]
async fn register_returns_201_with_id_and_the_username_as_given() {
    let app = spawn_app().await;

    let response = app.register("MiXeD.Case_name-1", PASSWORD).await;

    assert_eq!(response.status(), 201);
    let body = json(response).await;
    assert_eq!(crate::helpers::sorted_keys(&body), ["id", "username"], "{body}");
    assert_eq!(body["username"], "MiXeD.Case_name-1");
    assert!(!body["id"].as_str().expect("a string id").is_empty());
}

#[tokio::test]
async fn two_users_get_different_ids() {
    let app = spawn_app().await;
    let first = app.registered("first", PASSWORD).await;
    let second = app.registered("second", PASSWORD).await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_username_taken_in_another_case_is_409() {
    let app = spawn_app().await;
    app.registered("Kyle", PASSWORD).await;

    for name in ["kyle", "KYLE", "Kyle"] {
        let response = app.register(name, "another password").await;
        assert_error(response, 409, "username_taken").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_name_give_one_201_and_409s() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for name in ["Race", "race", "RACE", "rAcE"] {
        let request = app
            .client
            .post(app.url("/register"))
            .json(&json!({ "username": name, "password": PASSWORD }));
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.expect("POST /register");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("a JSON body");
            (status, body)
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, body) = task.await.expect("the request task did not panic");
        if status == 409 {
            assert_eq!(body["error"], "username_taken", "{body}");
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409]);
}

#[tokio::test]
async fn invalid_usernames_are_400() {
    let app = spawn_app().await;
    let too_long = "x".repeat(65);
    for username in ["ab", too_long.as_str(), "with space", "Kylé", "Kуle", "a/b", ""] {
        let response = app.register(username, PASSWORD).await;
        let body = assert_error(response, 400, "invalid_username").await;
        assert!(!body["message"].as_str().expect("message").is_empty());
    }
}

#[tokio::test]
async fn usernames_of_3_and_64_characters_are_accepted() {
    let app = spawn_app().await;
    let longest = "y".repeat(64);
    for username in ["abc", longest.as_str(), "a.b_c-D9"] {
        let response = app.register(username, PASSWORD).await;
        assert_eq!(response.status(), 201, "{username}");
        assert_eq!(json(response).await["username"], username);
    }
}

#[tokio::test]
async fn passwords_of_7_and_1025_characters_are_400() {
    let app = spawn_app().await;
    for password in ["1234567".to_owned(), "p".repeat(1025)] {
        let response = app.register("passwordless", &password).await;
        assert_error(response, 400, "invalid_password").await;
    }
}

#[tokio::test]
async fn passwords_of_8_and_1024_characters_are_accepted() {
    let app = spawn_app().await;
    // Characters, not bytes: 1024 two-byte characters are a valid password too.
    let cases = [
        ("eight", "12345678".to_owned()),
        ("long", "p".repeat(1024)),
        ("unicode", "ü".repeat(1024)),
    ];
    for (username, password) in &cases {
        let response = app.register(username, password).await;
        assert_eq!(response.status(), 201, "{username}");
        let login = app.login(username, password).await;
        assert_eq!(login.status(), 200, "{username} logs in with that password");
    }
}

#[tokio::test]
async fn malformed_bodies_are_400_invalid_body() {
    let app = spawn_app().await;
    let bodies = [
        json!({ "username": "someone" }),
        json!({ "password": PASSWORD }),
        json!({}),
        json!({ "username": 42, "password": PASSWORD }),
        json!({ "username": "someone", "password": 12_345_678 }),
        json!({ "username": null, "password": PASSWORD }),
        json!("someone"),
    ];
    for body in &bodies {
        let response = app.post_json("/register", body).await;
        assert_error(response, 400, "invalid_body").await;
    }

    let response = app
        .post_raw("/register", r#"{"username": "someone", "password": "#)
        .await;
    assert_error(response, 400, "invalid_body").await;

    let response = app.post_raw("/register", "").await;
    assert_error(response, 400, "invalid_body").await;
}

#[tokio::test]
async fn a_body_without_json_content_type_is_400_invalid_body() {
    let app = spawn_app().await;
    let body = json!({ "username": "someone", "password": PASSWORD }).to_string();

    let response = app
        .client
        .post(app.url("/register"))
        .body(body.clone())
        .send()
        .await
        .expect("POST /register");
    assert_error(response, 400, "invalid_body").await;

    let response = app
        .client
        .post(app.url("/register"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("POST /register");
    assert_error(response, 400, "invalid_body").await;

    // Nothing was created by those attempts.
    assert_eq!(app.register("someone", PASSWORD).await.status(), 201);
}

#[tokio::test]
async fn a_closed_registration_is_403_with_a_bearer_challenge() {
    let app = spawn_app_with(|config| config.registration = auth_server::config::Registration::Closed).await;

    let response = app.register("alice", PASSWORD).await;

    assert_bearer_error(response, 403, "registration_closed").await;
}
