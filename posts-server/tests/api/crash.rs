//! `kill -9` in the middle of a stream of writes: every post acknowledged with a `201` before the
//! kill is there after the restart.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::binary::POSTS_SERVER;
use crate::helpers::{TestData, in_mode, json, start_binary, test_data, token_for};

fn on(data: &TestData) -> tokio::process::Command {
    let mut command = POSTS_SERVER.command(data.dir().path());
    in_mode(&mut command)
        .env("POSTS_DATABASE_URL", data.database_url())
        .env("RATE_LIMITS", "off");
    command
}

#[tokio::test]
async fn every_post_acknowledged_before_a_kill_is_there_after_the_restart() {
    let data = test_data().await;
    let server = start_binary(&mut on(&data)).await;
    let token = token_for("user-1", "ann");
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (url, token, acknowledged) = (server.url("/posts"), token.clone(), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0.. {
                    let title = format!("{writer}-{n}");
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "title": title, "body": "a stream of writes" }))
                        .send()
                        .await;
                    match sent {
                        Ok(answer) if answer.status() == 201 => {
                            acknowledged.lock().expect("not poisoned").insert(title);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // Let the stream run until enough writes are acknowledged, then kill it mid-stream.
    let start = Instant::now();
    while acknowledged.lock().expect("not poisoned").len() < 40 {
        assert!(start.elapsed() < Duration::from_secs(30), "the writes do not flow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await;
    for writer in writers {
        writer.await.expect("the writer did not panic");
    }

    let server = start_binary(&mut on(&data)).await;
    let listed = json(
        reqwest::Client::new()
            .get(server.url("/posts"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET /posts"),
    )
    .await;
    let stored: BTreeSet<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|post| post["title"].as_str().expect("a title").to_owned())
        .collect();
    let acknowledged = acknowledged.lock().expect("not poisoned").clone();
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    server.terminate().await;
}
