//! `kill -9` in the middle of a stream of rotations: every refresh token a client received a
//! `200` for works after the restart, and no session was revoked by the crash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::binary::{AUTH_SERVER, configured_on, post, start, tokens};
use crate::helpers::{PASSWORD, test_data};

/// Sessions rotating at once.
const SESSIONS: usize = 6;

#[tokio::test]
async fn every_refresh_token_acknowledged_before_a_kill_works_after_the_restart() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("RATE_LIMITS", "off");
    let server = start(&mut command).await;
    // Each session's newest refresh token that a `200` handed out.
    let mut newest = Vec::new();
    for n in 0..SESSIONS {
        let credentials = json!({ "username": format!("user{n}"), "password": PASSWORD });
        assert_eq!(post(&server, "/register", &credentials).await.status(), 201);
        let body = tokens(&server, "/login", &credentials).await;
        newest.push(body["refreshToken"].as_str().expect("a refresh token").to_owned());
    }
    let newest = Arc::new(Mutex::new(newest));
    let rotations = Arc::new(Mutex::new(0_usize));
    let rotators: Vec<_> = (0..SESSIONS)
        .map(|session| {
            let (url, newest, rotations) = (server.url("/token"), Arc::clone(&newest), Arc::clone(&rotations));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                loop {
                    let token = newest.lock().expect("not poisoned")[session].clone();
                    let sent = client.post(&url).json(&json!({ "token": token })).send().await;
                    let Ok(answer) = sent else { return };
                    assert_eq!(answer.status(), 200, "rotation refused while the server ran");
                    let Ok(body) = answer.json::<serde_json::Value>().await else {
                        return;
                    };
                    let next = body["refreshToken"].as_str().expect("a refresh token").to_owned();
                    newest.lock().expect("not poisoned")[session] = next;
                    *rotations.lock().expect("not poisoned") += 1;
                }
            })
        })
        .collect();
    let start_time = Instant::now();
    while *rotations.lock().expect("not poisoned") < 60 {
        assert!(
            start_time.elapsed() < Duration::from_secs(30),
            "the rotations do not flow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await;
    for rotator in rotators {
        rotator.await.expect("the rotator did not panic");
    }

    // Within the reuse grace (10 s by default), so that a rotation the kill cut off after its
    // commit but before its answer is not mistaken for theft: the client never saw it.
    let server = AUTH_SERVER.start(&mut configured_on(&data)).await;
    let newest = newest.lock().expect("not poisoned").clone();
    for token in newest {
        let answer = post(&server, "/token", &json!({ "token": token })).await;
        assert_eq!(
            answer.status(),
            200,
            "an acknowledged refresh token is refused after the restart"
        );
    }
    server.terminate().await;
}
