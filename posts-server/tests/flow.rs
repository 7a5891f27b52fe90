//! The whole tutorial flow across both servers: register, log in, read and
//! write posts, refresh, log out; both servers real, on port 0, each with its
//! own SQLite file, sharing only the access secret.

use std::net::SocketAddr;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use test_support::TestDir;
use tokio::sync::oneshot;

const ACCESS_SECRET: &str = "flow-test-access-secret-0123456789abcdef";
const REFRESH_SECRET: &str = "flow-test-refresh-secret-0123456789abcdef";

/// Both servers, stopped and their files removed on drop.
struct Pair {
    auth: String,
    posts: String,
    client: Client,
    /// Access tokens with the posts-server's keys and settings.
    access: jwt_tokens::AccessTokens,
    stops: Vec<oneshot::Sender<()>>,
    /// Dropped after `drop` has stopped both servers.
    _dir: TestDir,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

fn spawn<F>(serve: F) -> oneshot::Sender<()>
where
    F: FnOnce(oneshot::Receiver<()>) -> tokio::task::JoinHandle<std::io::Result<()>>,
{
    let (stop, stopped) = oneshot::channel();
    serve(stopped);
    stop
}

async fn start_pair(access_ttl: &str) -> Pair {
    let dir = TestDir::new();
    let db = |name: &str| dir.sqlite_url(name);

    let auth_config = <auth_server::Config as clap::Parser>::try_parse_from([
        "auth-server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db("auth.db"),
        "--access-token-secret",
        ACCESS_SECRET,
        "--refresh-token-secret",
        REFRESH_SECRET,
        "--access-token-ttl",
        access_ttl,
        "--jwt-leeway",
        "0s",
    ])
    .expect("auth settings");
    let posts_config = <posts_server::Config as clap::Parser>::try_parse_from([
        "posts-server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db("posts.db"),
        "--access-token-secret",
        ACCESS_SECRET,
        "--jwt-leeway",
        "0s",
    ])
    .expect("posts settings");
    let access = jwt_tokens::AccessTokens::new(
        posts_config.tokens.access_keys().expect("the access keys"),
        &posts_config.tokens.settings(),
    );

    let auth = auth_server::Application::build(auth_config).await.expect("auth starts");
    let posts = posts_server::Application::build(posts_config)
        .await
        .expect("posts starts");
    let (auth_addr, posts_addr): (SocketAddr, SocketAddr) = (auth.local_addr(), posts.local_addr());
    let stops = vec![
        spawn(|stopped| {
            tokio::spawn(auth.run_with_shutdown(async {
                let _ = stopped.await;
            }))
        }),
        spawn(|stopped| {
            tokio::spawn(posts.run_with_shutdown(async {
                let _ = stopped.await;
            }))
        }),
    ];
    Pair {
        auth: format!("http://{auth_addr}"),
        posts: format!("http://{posts_addr}"),
        client: Client::new(),
        access,
        stops,
        _dir: dir,
    }
}

impl Pair {
    async fn post_json(&self, url: String, body: Value) -> (StatusCode, Value) {
        let response = self.client.post(url).json(&body).send().await.expect("request");
        read(response).await
    }

    async fn get_posts(&self, access: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}/posts", self.posts))
            .bearer_auth(access)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    async fn create_post(&self, access: &str, title: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/posts", self.posts))
            .bearer_auth(access)
            .json(&json!({ "title": title, "body": format!("{title}, from the flow test") }))
            .send()
            .await
            .expect("request");
        read(response).await
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.post_json(
            format!("{}/login", self.auth),
            json!({ "username": username, "password": password }),
        )
        .await
    }

    async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        self.post_json(format!("{}/token", self.auth), json!({ "token": token }))
            .await
    }

    async fn logout(&self, token: &str) -> StatusCode {
        self.client
            .delete(format!("{}/logout", self.auth))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("request")
            .status()
    }
}

async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("every body is JSON")
    };
    (status, body)
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` in {body}"))
        .to_owned()
}

#[tokio::test]
async fn the_whole_flow_across_both_servers() {
    let pair = start_pair("15m").await;

    // Register two users; each will see only their own posts.
    for name in ["Kyle", "Jim"] {
        let (status, body) = pair
            .post_json(
                format!("{}/register", pair.auth),
                json!({ "username": name, "password": "correct horse battery" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["username"], name);
    }

    let (status, tokens) = pair.login("Kyle", "correct horse battery").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["tokenType"], "Bearer");
    assert_eq!(tokens["expiresIn"], 900);
    let access = field(&tokens, "accessToken");
    let refresh = field(&tokens, "refreshToken");

    // The posts server verifies the auth server's token offline.
    let (status, posts) = pair.get_posts(&access).await;
    assert_eq!((status, posts), (StatusCode::OK, json!([])));
    let (status, created) = pair.create_post(&access, "Post 1").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["username"], "Kyle");
    let (_, jim) = pair.login("Jim", "correct horse battery").await;
    let (status, _) = pair.create_post(&field(&jim, "accessToken"), "Jim's post").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, posts) = pair.get_posts(&access).await;
    assert_eq!(status, StatusCode::OK);
    let titles: Vec<&str> = posts
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(titles, ["Post 1"], "Kyle sees only his own post");

    // A refresh token is not an access token, and the other way round.
    let (status, body) = pair.get_posts(&refresh).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = pair.refresh(&access).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Refresh: a new pair; the new access token works on the posts server.
    let (status, next) = pair.refresh(&refresh).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let next_access = field(&next, "accessToken");
    let next_refresh = field(&next, "refreshToken");
    assert_ne!(next_access, access);
    assert_ne!(next_refresh, refresh);
    let (status, posts) = pair.get_posts(&next_access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(posts.as_array().map(Vec::len), Some(1));

    // Logout ends the session: its refresh token is refused from then on.
    assert_eq!(pair.logout(&next_refresh).await, StatusCode::NO_CONTENT);
    let (status, body) = pair.refresh(&next_refresh).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "invalid_grant");

    // An access token cannot be revoked: it works until it expires.
    let (status, _) = pair.get_posts(&next_access).await;
    assert_eq!(status, StatusCode::OK);

    // Jim's session was not touched by Kyle's logout.
    let (status, body) = pair.refresh(&field(&jim, "refreshToken")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_expired_access_token_is_refused_and_a_refresh_brings_access_back() {
    let pair = start_pair("1s").await;
    let (status, _) = pair
        .post_json(
            format!("{}/register", pair.auth),
            json!({ "username": "Kyle", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, tokens) = pair.login("Kyle", "correct horse battery").await;
    assert_eq!(tokens["expiresIn"], 1);
    let access = field(&tokens, "accessToken");
    let (status, _) = pair.get_posts(&access).await;
    assert_eq!(status, StatusCode::OK);

    // The same token two seconds on, issued and ending two seconds earlier: past its end
    // (`exp` has whole-second resolution; leeway 0s).
    let claims = pair.access.verify(&access).expect("a valid access token");
    let later = pair
        .access
        .sign(&jwt_tokens::AccessClaims {
            iat: claims.iat - 2,
            nbf: claims.nbf - 2,
            exp: claims.exp - 2,
            ..claims
        })
        .expect("sign the token as it is two seconds on");
    let response = pair
        .client
        .get(format!("{}/posts", pair.posts))
        .bearer_auth(&later)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.starts_with(r#"Bearer error="invalid_token""#), "{challenge}");
    let (_, body) = read(response).await;
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["message"], "the access token has expired");

    // What a client does on 403: refresh, then retry.
    let (status, next) = pair.refresh(&field(&tokens, "refreshToken")).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let (status, _) = pair.get_posts(&field(&next, "accessToken")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The error table of `docs/api.md` lists exactly the codes of the servers' error enums, each
/// with the status it is answered with: no code is undocumented, none documented is gone.
#[test]
fn the_documented_error_table_is_exactly_the_error_enums() {
    use service_kit::error::{ErrorCode, codes};
    use std::collections::BTreeSet;

    fn answers<E: ErrorCode>() -> impl Iterator<Item = (u16, &'static str)> {
        E::ALL.iter().map(|code| {
            let answer = code.answer();
            (answer.status.as_u16(), answer.code)
        })
    }
    let enums: BTreeSet<(u16, String)> = answers::<service_kit::Common>()
        .chain(answers::<auth_server::error::AuthError>())
        .chain(answers::<posts_server::error::PostsError>())
        .map(|(status, code)| (status, code.to_owned()))
        .collect();
    assert_eq!(
        enums.len(),
        codes::<service_kit::Common>().count()
            + codes::<auth_server::error::AuthError>().count()
            + codes::<posts_server::error::PostsError>().count(),
        "no code is in two enums"
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
    let text = std::fs::read_to_string(path).expect("docs/api.md");
    let table = text
        .split("| status | `error` | when |")
        .nth(1)
        .expect("docs/api.md has the error table");
    let documented: BTreeSet<(u16, String)> = table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .flat_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let status: u16 = cells[1].parse().unwrap_or_else(|_| panic!("a status: {line}"));
            cells[2]
                .split(',')
                .map(|code| code.trim().trim_matches('`').to_owned())
                .map(move |code| (status, code))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(documented, enums, "docs/api.md's error table against the error enums");
}
