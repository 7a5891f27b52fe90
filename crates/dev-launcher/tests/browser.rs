//! The demo frontend in a real browser: Debian's headless Chromium, driven by `playwright-core`
//! (`frontend/tests/browser.mjs`), against the real server binaries and the launcher's static
//! file server. The page uses the cookie mode (the refresh token in an `HttpOnly` cookie).
//!
//! `CORS_ALLOWED_ORIGINS` lists the frontend's exact origin, as a deployment would, so that the
//! script's page on another port of 127.0.0.1 (the same site: the browser sends it the cookie)
//! is an origin the servers must refuse. No reuse grace (`REFRESH_REUSE_GRACE=0s`): a refresh
//! token spent by that page would end the session, and the real page would see it. The access
//! token lives 3 s, so it expires during the run and the page must refresh it from the cookie by
//! itself. posts-server follows auth-server's ended sessions (`AUTH_URL`, as under `cargo dev`),
//! so after "Log out everywhere" in one browser context, the other context's access token is
//! refused at once, long before it expires; so is it after a password change in the other
//! context, and after the other context ended it from its sessions list. Needs `node` and
//! `/usr/bin/chromium` (`CHROMIUM_PATH` for another); `npm ci` runs in `frontend/tests` when its
//! `node_modules` is missing. Without them the test fails, saying
//! which is missing: it is never skipped.
//!
//! `UPDATE_DEMO_SCREENSHOT=1` copies the screenshot of the page with its posts, its two sessions
//! and its log to `docs/demo.png`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;
use test_support::{ServerBinary, TestDir};
use tokio::net::TcpListener;

const ACCESS_SECRET: &str = "browser-test-access-secret-0123456789-abcdefgh";
const REFRESH_SECRET: &str = "browser-test-refresh-secret-0123456789-abcdefg";
const USER: &str = "Kyle";
const PASSWORD: &str = "demo-password";
/// Short enough for the access token to expire during the run.
const ACCESS_TOKEN_TTL_SECONDS: u64 = 3;
/// The whole browser run (start, about 5 s of waiting for the token to expire, every step).
const BROWSER_RUN_LIMIT: Duration = Duration::from_secs(180);
/// How long posts-server gets to catch up with auth-server's ended sessions (`GET /readyz` 200).
const READY_LIMIT: Duration = Duration::from_secs(30);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// A test that cannot run here fails, saying why: it is never skipped.
fn unavailable(why: &str) -> ! {
    test_support::cannot_run(&format!("the browser test: {why}"))
}

fn run(command: &mut Command) -> std::io::Result<Output> {
    command.stdin(Stdio::null()).output()
}

/// Builds both server binaries into the target directory and profile of this test, like `cargo dev`.
fn build_servers(repository: &Path) -> (PathBuf, PathBuf) {
    let test_support::build::TestTarget {
        target_dir,
        profile_dir,
        profile,
    } = test_support::build::test_target();
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(repository)
        .args(dev_launcher::BUILD_SERVERS)
        .args(["--quiet", "--target-dir"])
        .arg(&target_dir);
    if profile != "debug" {
        command.args(["--profile", &profile]);
    }
    let built = run(&mut command).expect("run cargo build");
    assert!(
        built.status.success(),
        "building the servers failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    (profile_dir.join("auth-server"), profile_dir.join("posts-server"))
}

fn leak(path: &Path) -> &'static str {
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

#[tokio::test]
async fn the_frontend_stays_logged_in_with_its_cookie_refuses_other_origins_and_manages_sessions_in_chromium() {
    let repository = repository();
    let tests_dir = repository.join("frontend/tests");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        unavailable(&format!("no Chromium at {chromium} (apt-get install chromium)"));
    }
    if !run(Command::new("node").arg("--version")).is_ok_and(|output| output.status.success()) {
        unavailable("node is not installed (apt-get install nodejs npm)");
    }
    if !tests_dir.join("node_modules/playwright-core").is_dir() {
        let installed = run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(&tests_dir));
        match installed {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let first = stderr.lines().next().unwrap_or("no message");
                unavailable(&format!("npm ci in frontend/tests failed: {first}"));
            }
            Err(error) => unavailable(&format!("npm cannot run: {error}")),
        }
    }

    let (auth_path, posts_path) = build_servers(&repository);
    // The frontend's port first: its exact origin is the one the servers allow.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the frontend port");
    let frontend = format!("http://{}", listener.local_addr().expect("the frontend address"));
    let ttl = format!("{ACCESS_TOKEN_TTL_SECONDS}s");
    let common: [(&str, &str); 5] = [
        ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
        // No leeway: the access token is refused as soon as it expires.
        ("JWT_LEEWAY", "0s"),
        ("RATE_LIMITS", "off"),
        ("CORS_ALLOWED_ORIGINS", frontend.as_str()),
        ("RUST_LOG", "warn"),
    ];

    let auth_dir = TestDir::new();
    let auth_binary = ServerBinary::new("auth-server", leak(&auth_path));
    let auth = auth_binary
        .start(
            auth_binary
                .command(auth_dir.path())
                .envs(common)
                .env("AUTH_ADDR", "127.0.0.1:0")
                .env("AUTH_DATABASE_URL", "sqlite://auth.db")
                .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
                .env("ACCESS_TOKEN_TTL", &ttl)
                .env("REFRESH_REUSE_GRACE", "0s"),
        )
        .await;
    let posts_dir = TestDir::new();
    let posts_binary = ServerBinary::new("posts-server", leak(&posts_path));
    let posts = posts_binary
        .start(
            posts_binary
                .command(posts_dir.path())
                .envs(common)
                .env("POSTS_ADDR", "127.0.0.1:0")
                .env("POSTS_DATABASE_URL", "sqlite://posts.db")
                // Follows auth-server's ended sessions, as `cargo dev` has it do.
                .env("AUTH_URL", auth.base()),
        )
        .await;
    wait_ready(posts.base()).await;

    let frontend_server = tokio::spawn(dev_launcher::frontend::serve(
        listener,
        dev_launcher::frontend::default_root(),
    ));

    seed(auth.base(), posts.base()).await;

    let screenshots = TestDir::new();
    let screenshot = screenshots.path().join("demo.png");
    let mut browser = tokio::process::Command::new("node");
    browser
        .arg(tests_dir.join("browser.mjs"))
        .args(["--frontend", &frontend, "--auth", auth.base(), "--posts", posts.base()])
        .args([
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--ttl",
            &ACCESS_TOKEN_TTL_SECONDS.to_string(),
        ])
        .arg("--screenshot")
        .arg(&screenshot)
        .args(["--chromium", &chromium])
        .current_dir(&tests_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BROWSER_RUN_LIMIT, browser.output())
        .await
        .expect("the browser run ends in time")
        .expect("run node");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));

    frontend_server.abort();
    let auth_exit = auth.terminate().await;
    let posts_exit = posts.terminate().await;
    assert!(
        output.status.success(),
        "the browser scenario failed ({}); auth-server said: {}; posts-server said: {}",
        output.status,
        auth_exit.output,
        posts_exit.output
    );

    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is a PNG");
    if std::env::var("UPDATE_DEMO_SCREENSHOT").as_deref() == Ok("1") {
        std::fs::write(repository.join("docs/demo.png"), &png).expect("write docs/demo.png");
    }
}

/// Waits until posts-server answers `GET /readyz` with 200: it has caught up with auth-server's
/// ended sessions.
async fn wait_ready(posts: &str) {
    let client = reqwest::Client::builder().no_proxy().build().expect("a client");
    let deadline = tokio::time::Instant::now() + READY_LIMIT;
    loop {
        let answer = client.get(format!("{posts}/readyz")).send().await;
        if answer.as_ref().is_ok_and(|answer| answer.status() == 200) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "posts-server was not ready (caught up with auth-server's ended sessions) within {READY_LIMIT:?}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The user and two posts of theirs, through the public API; the session that wrote them ends.
async fn seed(auth: &str, posts: &str) {
    let client = reqwest::Client::builder().no_proxy().build().expect("a client");
    let credentials = json!({ "username": USER, "password": PASSWORD });
    let registered = client
        .post(format!("{auth}/register"))
        .json(&credentials)
        .send()
        .await
        .expect("POST /register");
    assert_eq!(registered.status(), 201, "register the user");
    let login: serde_json::Value = client
        .post(format!("{auth}/login"))
        .json(&credentials)
        .send()
        .await
        .expect("POST /login")
        .json()
        .await
        .expect("the tokens");
    let access = login["accessToken"].as_str().expect("an access token");
    for (title, body) in [
        ("Hello from Kyle", "Kyle here. Only my own posts are listed."),
        ("Coffee count", "Three cups so far."),
    ] {
        let created = client
            .post(format!("{posts}/posts"))
            .bearer_auth(access)
            .json(&json!({ "title": title, "body": body }))
            .send()
            .await
            .expect("POST /posts");
        assert_eq!(created.status(), 201, "create a post");
    }
    // No session left but the browser's: the page's sessions list starts with its own only.
    let refresh = login["refreshToken"].as_str().expect("a refresh token");
    let logout = client
        .delete(format!("{auth}/logout"))
        .json(&json!({ "token": refresh }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204, "log the seeding session out");
}
