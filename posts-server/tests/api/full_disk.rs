//! A full disk under the SQLite file: `POST /posts` either stores the post or answers
//! `503 storage_full`; `GET /posts` keeps working; every acknowledged post is there afterwards,
//! and writes work again once space is freed, without a restart.

use std::sync::Arc;

use serde_json::{Value, json};
use test_support::SmallDisk;

use crate::helpers::{assert_error, json, spawn_app_configured, test_data, token_for};

/// The titles of a list of posts, newest first.
fn titles(posts: &Value) -> Vec<String> {
    posts
        .as_array()
        .expect("a list")
        .iter()
        .map(|post| post["title"].as_str().expect("a title").to_owned())
        .collect()
}

#[tokio::test]
async fn a_full_disk_refuses_posts_cleanly_and_loses_none_it_acknowledged() {
    let disk = SmallDisk::mount(4 * 1024 * 1024);
    let url = disk.sqlite_url("posts.db");
    let data = Arc::new(test_data().await);
    let on_disk = |config: &mut posts_server::Config| config.database_url = url.clone();
    let app = spawn_app_configured(Arc::clone(&data), on_disk).await;
    let token = token_for("user-1", "ann");
    app.created_post(&token, "before", "the disk filled up").await;
    // Read once, so that the list is also held in memory.
    assert_eq!(titles(&json(app.get_posts(&token).await).await), ["before"]);

    disk.empty_sqlite_log(&url).await;
    assert!(disk.fill() > 0);

    let mut acknowledged = vec!["before".to_owned()];
    let mut refused = 0;
    for n in 0..6 {
        let title = format!("on a full disk {n}");
        let response = app.create_post(&token, &json!({ "title": title, "body": "?" })).await;
        if response.status() == 201 {
            acknowledged.insert(0, title);
            continue;
        }
        assert!(response.headers().contains_key("retry-after"));
        let body = assert_error(response, 503, "storage_full").await;
        assert!(body["message"].as_str().unwrap_or_default().contains("storage is full"));
        refused += 1;
        // Reads keep working, and show exactly what was acknowledged.
        let listed = app.get_posts(&token).await;
        assert_eq!(listed.status(), 200);
        assert_eq!(titles(&json(listed).await), acknowledged);
    }
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );

    // Space again: what was acknowledged is there (a post acknowledged but not stored would be
    // missing), and writes work at once, on the same server.
    disk.free();
    assert_eq!(titles(&json(app.get_posts(&token).await).await), acknowledged);
    app.created_post(&token, "after", "space was freed").await;
    acknowledged.insert(0, "after".to_owned());
    assert!(refused > 0, "a full disk refused no post: the test filled nothing");

    // And after a restart, from the file itself.
    let data = app.stop().await;
    let app = spawn_app_configured(data, on_disk).await;
    assert_eq!(titles(&json(app.get_posts(&token).await).await), acknowledged);
}
