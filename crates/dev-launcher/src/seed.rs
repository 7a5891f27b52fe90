//! Demo users and posts, created through the public API exactly as a client would.

use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::Result;

/// The demo users: Kyle, as in the tutorial, and Jason.
pub const DEMO_USERS: [&str; 2] = ["Jason", "Kyle"];
/// Development only: documented in the README and printed in the banner on purpose.
pub const DEMO_PASSWORD: &str = "demo-password";

/// A few friendly posts per demo user, in the order of `DEMO_USERS`.
const DEMO_POSTS: [&[(&str, &str)]; 2] = [
    &[
        (
            "Hello from Jason",
            "My first post. The development start created it for me.",
        ),
        (
            "Weekend plans",
            "Hiking if the weather holds, a good book if it does not.",
        ),
        (
            "Today I learned",
            "Access tokens are short-lived on purpose: POST /token trades a refresh token for a new pair.",
        ),
    ],
    &[
        (
            "Hello from Kyle",
            "Kyle here. Log in as me and GET /posts to see only my posts.",
        ),
        (
            "Coffee count",
            "Three cups so far, and the servers are still faster than me.",
        ),
    ],
];

/// Per request: the servers are local, so anything slower than this is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// For `/register` and `/login`, which hash a password: auth-server hashes on threads that run
/// only when no other thread of the machine wants the core (`SCHED_IDLE`), so on a machine busy
/// compiling (the first start, a test run beside it) one hash can wait much longer than
/// [`REQUEST_TIMEOUT`] without anything being stuck.
const HASHING_PATIENCE: Duration = Duration::from_secs(180);

/// The HTTP client for readiness checks and seeding.
pub fn client() -> Result<Client> {
    Client::builder()
        // The servers are on this machine; an HTTP_PROXY meant for the internet must not catch them.
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}").into())
}

/// Registers each demo user; a newly created one also gets its demo posts.
///
/// Seeding is a convenience: a failure is reported and the servers keep running.
pub async fn demo_data(client: &Client, auth_url: &str, posts_url: &str) {
    for (username, posts) in DEMO_USERS.into_iter().zip(DEMO_POSTS) {
        match seed_user(client, auth_url, posts_url, username, posts).await {
            Ok(Seeded::Created) => {
                println!("[dev] created demo user {username} with {} posts", posts.len());
            }
            Ok(Seeded::AlreadyThere) => {
                println!("[dev] demo user {username} already exists; left as it is");
            }
            Err(error) => eprintln!("[dev] could not seed demo user {username}: {error}"),
        }
    }
}

enum Seeded {
    Created,
    AlreadyThere,
}

#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct NewPost<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tokens {
    access_token: String,
}

async fn seed_user(
    client: &Client,
    auth_url: &str,
    posts_url: &str,
    username: &str,
    posts: &[(&str, &str)],
) -> Result<Seeded> {
    let credentials = Credentials {
        username,
        password: DEMO_PASSWORD,
    };
    let registered = client
        .post(format!("{auth_url}/register"))
        .timeout(HASHING_PATIENCE)
        .json(&credentials)
        .send()
        .await?;
    match registered.status() {
        StatusCode::CREATED => {}
        // Registered on an earlier run: its posts are there already (or were changed on purpose).
        StatusCode::CONFLICT => return Ok(Seeded::AlreadyThere),
        _ => return Err(unexpected("POST /register", registered).await.into()),
    }

    let login = client
        .post(format!("{auth_url}/login"))
        .timeout(HASHING_PATIENCE)
        .json(&credentials)
        .send()
        .await?;
    if login.status() != StatusCode::OK {
        return Err(unexpected("POST /login", login).await.into());
    }
    let tokens: Tokens = login.json().await?;

    for &(title, body) in posts {
        let created = client
            .post(format!("{posts_url}/posts"))
            .bearer_auth(&tokens.access_token)
            .json(&NewPost { title, body })
            .send()
            .await?;
        if created.status() != StatusCode::CREATED {
            return Err(unexpected("POST /posts", created).await.into());
        }
    }
    Ok(Seeded::Created)
}

/// Describes an unexpected answer by its status and (shortened) JSON error body.
async fn unexpected(request: &str, response: Response) -> String {
    const MAX_BODY_CHARS: usize = 200;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(MAX_BODY_CHARS).collect();
    format!("{request} answered {status}: {body}")
}
