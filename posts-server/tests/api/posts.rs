//! `GET /posts` and `POST /posts`: each caller's own posts, validated.

use serde_json::{Value, json};

use crate::helpers::{assert_error, json, spawn_app, token_for};

#[tokio::test]
async fn created_post_is_returned_and_listed() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");

    let post = app.created_post(&token, "Hello", "First post").await;
    assert!(post["id"].is_i64(), "{post}");
    assert_eq!(post["username"], "ann");
    assert_eq!(post["title"], "Hello");
    assert_eq!(post["body"], "First post");
    let created_at = post["createdAt"].as_str().expect("createdAt is a string");
    humantime::parse_rfc3339(created_at).expect("createdAt is RFC 3339");
    assert!(created_at.ends_with('Z') && created_at.len() == "2024-01-01T00:00:00.000Z".len());

    let response = app.get_posts(&token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await, json!([post]));
}

#[tokio::test]
async fn each_caller_sees_only_their_posts_newest_first() {
    let app = spawn_app().await;
    let ann = token_for("user-1", "ann");
    let bob = token_for("user-2", "bob");
    for (token, title) in [(&ann, "a1"), (&bob, "b1"), (&ann, "a2"), (&bob, "b2"), (&ann, "a3")] {
        app.created_post(token, title, "").await;
    }

    let titles = |posts: Value| -> Vec<String> {
        posts
            .as_array()
            .expect("an array")
            .iter()
            .map(|p| p["title"].as_str().expect("a title").to_owned())
            .collect()
    };
    assert_eq!(titles(json(app.get_posts(&ann).await).await), ["a3", "a2", "a1"]);
    assert_eq!(titles(json(app.get_posts(&bob).await).await), ["b2", "b1"]);
    assert_eq!(json(app.get_posts(&token_for("user-3", "cy")).await).await, json!([]));
}

#[tokio::test]
async fn owner_comes_from_the_token_not_the_body() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let body = json!({ "title": "t", "body": "b", "username": "mallory", "userId": "user-2", "id": 7 });
    let response = app.create_post(&token, &body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(json(response).await["username"], "ann");
    assert_eq!(json(app.get_posts(&token_for("user-2", "bob")).await).await, json!([]));
}

#[tokio::test]
async fn limits_are_counted_in_characters() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let title = "é".repeat(200);
    let body = "b".repeat(10_000);
    let post = app.created_post(&token, &title, &body).await;
    assert_eq!(post["title"], title.as_str());
    assert_eq!(post["body"].as_str().map(str::len), Some(10_000));
}

#[tokio::test]
async fn invalid_posts_are_400() {
    let app = spawn_app().await;
    let token = token_for("user-1", "ann");
    let cases = [
        (json!({ "body": "b" }), "invalid_body", "title"),
        (json!({ "title": "t" }), "invalid_body", "body"),
        (json!({ "title": 5, "body": "b" }), "invalid_body", "title"),
        (json!({ "title": "", "body": "b" }), "invalid_post", "title"),
        (json!({ "title": " \t ", "body": "b" }), "invalid_post", "title"),
        (json!({ "title": "x".repeat(201), "body": "b" }), "invalid_post", "200"),
        (
            json!({ "title": "t", "body": "x".repeat(10_001) }),
            "invalid_post",
            "10000",
        ),
    ];
    for (body, code, mentions) in cases {
        let error = assert_error(app.create_post(&token, &body).await, 400, code).await;
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(mentions), "{message} should mention {mentions}");
    }
    assert_eq!(json(app.get_posts(&token).await).await, json!([]));
}

#[tokio::test]
async fn non_json_body_is_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("POST /posts");
    assert_error(response, 400, "invalid_body").await;
}

#[tokio::test]
async fn missing_content_type_is_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/posts"))
        .bearer_auth(token_for("user-1", "ann"))
        .body(r#"{"title":"t","body":"b"}"#)
        .send()
        .await
        .expect("POST /posts");
    assert_error(response, 400, "invalid_body").await;
}

/// Reads that run while a user writes never hide a write from the next read:
/// each `201` is followed by a list that holds the new post, however many
/// lists were being read (and kept in memory) around it.
#[tokio::test]
async fn every_write_is_in_the_next_read_while_others_read() {
    let app = std::sync::Arc::new(spawn_app().await);
    let token = token_for("user-1", "ann");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (app, token, stop) = (std::sync::Arc::clone(&app), token.clone(), std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(app.get_posts(&token).await.status(), 200);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut written: Vec<Value> = Vec::new();
    for n in 0..25 {
        let post = app.created_post(&token, &format!("post {n}"), "body").await;
        written.insert(0, post);
        assert_eq!(
            json(app.get_posts(&token).await).await,
            json!(written),
            "after write {n}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.expect("a reader") > 0);
    }
}
