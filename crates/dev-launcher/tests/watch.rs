//! `cargo dev --watch` in a temporary copy of the tree, as a developer uses it: a saved change to
//! a posts-server source restarts posts-server alone, which keeps its data, the secrets and the
//! demo users; a change that does not compile prints the compiler's error and leaves the last
//! good server answering; undoing the change restarts it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use test_support::TestDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

mod launcher;

/// The first build compiles the copy's own crates (the dependencies are those of this test's
/// target directory), possibly waiting for a build running elsewhere.
const FIRST_BUILD_PATIENCE: Duration = Duration::from_secs(900);
/// A rebuild after one edit of posts-server.
const REBUILD_PATIENCE: Duration = Duration::from_secs(600);

/// The file the test edits, and a text of it that `GET /openapi.json` shows.
const EDITED: &str = "posts-server/src/routes/posts.rs";
const ORIGINAL: &str = "The caller's posts only, newest first.";
const CHANGED: &str = "The caller's posts only, newest first, as edited while watched.";

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_change_restarts_the_server_it_changes_and_a_broken_one_keeps_the_last_good_build() {
    let copy = TestDir::new();
    copy_tree(&workspace(), copy.path());
    let edited = copy.path().join(EDITED);
    let original = std::fs::read_to_string(&edited).expect("read the file to edit");
    assert!(original.contains(ORIGINAL), "{EDITED} still says {ORIGINAL:?}");

    let mut dev = Watched::start(copy.path());
    let banner = dev.line_with("==> Both servers are ready", FIRST_BUILD_PATIENCE).await;
    let auth = dev.line_with("auth-server    http://", Duration::from_secs(5)).await;
    let posts = dev.line_with("posts-server   http://", Duration::from_secs(5)).await;
    assert!(!banner.is_empty());
    let auth = url_in(&auth);
    let mut posts = url_in(&posts);
    dev.line_with(
        "[dev] watching auth-server/, posts-server/, crates/ for changes",
        Duration::from_secs(5),
    )
    .await;

    let client = reqwest::Client::builder().no_proxy().build().expect("an HTTP client");
    let token = log_in_as_kyle(&client, &auth).await;
    let before = kyles_posts(&client, &posts, &token).await;
    assert!(!before.is_empty(), "the demo user has posts");
    assert!(openapi(&client, &posts).await.contains(ORIGINAL));

    // A saved change: posts-server alone restarts, on the same data with the same secrets.
    std::fs::write(&edited, original.replace(ORIGINAL, CHANGED)).expect("edit the file");
    let restarted = dev.line_with("[dev] restarted posts-server", REBUILD_PATIENCE).await;
    assert!(
        restarted.ends_with(&format!("after a change to {EDITED}")),
        "{restarted}"
    );
    posts = url_in(&restarted);
    assert!(
        openapi(&client, &posts).await.contains(CHANGED),
        "the new build answers"
    );
    assert_eq!(
        kyles_posts(&client, &posts, &token).await,
        before,
        "the same posts, and the access token from before the restart still works"
    );

    // A change that does not compile: the compiler's error, and the last good build goes on.
    std::fs::write(
        &edited,
        format!("{}\nfn unfinished( {{\n", original.replace(ORIGINAL, CHANGED)),
    )
    .expect("break the file");
    let refused = dev
        .line_with("the servers keep running their last good build", REBUILD_PATIENCE)
        .await;
    assert!(refused.contains(EDITED), "{refused}");
    assert!(
        dev.output.contains("error"),
        "the compiler's error is shown:\n{}",
        dev.output
    );
    assert!(
        openapi(&client, &posts).await.contains(CHANGED),
        "the last good build still answers"
    );

    // Undone: restarted again, as it was.
    std::fs::write(&edited, &original).expect("restore the file");
    let restarted = dev.line_with("[dev] restarted posts-server", REBUILD_PATIENCE).await;
    posts = url_in(&restarted);
    assert!(openapi(&client, &posts).await.contains(ORIGINAL));
    assert_eq!(kyles_posts(&client, &posts, &token).await, before);

    let output = dev.stop().await;
    assert!(
        !output.contains("[dev] restarted auth-server"),
        "auth-server did not change, so it was not restarted:\n{output}"
    );
    assert_eq!(
        output.matches("[dev] restarted posts-server").count(),
        2,
        "one line per restart:\n{output}"
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the launcher binary in a target directory of this test's own, beside the tests'
/// (and kept, like theirs, between runs). The launcher builds into the target directory it runs
/// from: the copied tree's crates have the same names and relative paths as the real ones, so
/// in the tests' directory their builds, edits included, would take the place of the builds
/// that every other test runs.
fn launcher_with_own_target_dir() -> PathBuf {
    let launcher = Path::new(launcher::LAUNCHER);
    // <target>/<profile>/dev-launcher
    let profile_dir = launcher.parent().expect("the launcher's directory");
    let target_dir = profile_dir.parent().expect("a target directory");
    let profile = profile_dir.file_name().expect("a profile's name");
    let own = target_dir.join("dev-watch-test").join(profile);
    std::fs::create_dir_all(&own).expect("create the test's target directory");
    let copy = own.join("dev-launcher");
    std::fs::copy(launcher, &copy).expect("copy the launcher");
    copy
}

/// The files git knows of (committed or not, unless ignored): the tree without `target/`,
/// `data/` or `node_modules/`.
fn copy_tree(from: &Path, to: &Path) {
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(from)
        .output()
        .expect("run git ls-files");
    assert!(
        listed.status.success(),
        "git ls-files: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for name in listed.stdout.split(|&byte| byte == 0).filter(|name| !name.is_empty()) {
        let name = std::str::from_utf8(name).expect("a UTF-8 file name");
        let source = from.join(name);
        // Listed but deleted in the working tree.
        if !source.is_file() {
            continue;
        }
        let target = to.join(name);
        std::fs::create_dir_all(target.parent().expect("a file's directory")).expect("create a directory");
        std::fs::copy(&source, &target).unwrap_or_else(|error| panic!("copy {name}: {error}"));
    }
}

/// The launcher under `--watch`, started in `dir` as `cargo run` starts it there
/// (`CARGO_MANIFEST_DIR` names the tree it builds and watches), on any free ports.
struct Watched {
    child: Option<Child>,
    lines: mpsc::UnboundedReceiver<String>,
    output: String,
}

impl Watched {
    fn start(dir: &Path) -> Self {
        let mut command = launcher::command(&launcher_with_own_target_dir(), dir);
        command
            .arg("--watch")
            .env("CARGO_MANIFEST_DIR", dir.join("crates/dev-launcher"))
            .env("AUTH_ADDR", "127.0.0.1:0")
            .env("POSTS_ADDR", "127.0.0.1:0");
        let mut child = Command::from(command).spawn().expect("start the dev launcher");
        let (sender, lines) = mpsc::unbounded_channel();
        forward(child.stdout.take().expect("piped stdout"), sender.clone());
        forward(child.stderr.take().expect("piped stderr"), sender);
        Self {
            child: Some(child),
            lines,
            output: String::new(),
        }
    }

    /// The next line that contains `text`, within `patience`; every line is kept in `output`.
    async fn line_with(&mut self, text: &str, patience: Duration) -> String {
        let found = tokio::time::timeout(patience, async {
            while let Some(line) = self.lines.recv().await {
                self.output.push_str(&line);
                self.output.push('\n');
                if line.contains(text) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the launcher ended before printing {text:?}:\n{}", self.output),
            Err(_) => panic!("no line with {text:?} within {patience:?}:\n{}", self.output),
        }
    }

    /// SIGTERM, as Ctrl-C: both servers stop and the launcher exits 0. Returns all it printed.
    async fn stop(mut self) -> String {
        let mut child = self.child.take().expect("the launcher is running");
        terminate(&child);
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the launcher stops within 30 s")
            .expect("the launcher's status");
        while let Some(line) = self.lines.recv().await {
            self.output.push_str(&line);
            self.output.push('\n');
        }
        assert!(status.success(), "the launcher ended with {status}:\n{}", self.output);
        std::mem::take(&mut self.output)
    }
}

impl Drop for Watched {
    /// A failed test still stops the launcher, which stops its servers.
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            terminate(child);
        }
    }
}

fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
}

fn forward(stream: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

/// The first `http://…` in `line`, up to a space or a closing parenthesis.
fn url_in(line: &str) -> String {
    let start = line.find("http://").unwrap_or_else(|| panic!("no URL in {line:?}"));
    line[start..].split([' ', ')']).next().expect("a URL").to_owned()
}

async fn log_in_as_kyle(client: &reqwest::Client, auth: &str) -> String {
    let response = client
        .post(format!("{auth}/login"))
        .json(&serde_json::json!({"username": "Kyle", "password": "demo-password"}))
        .send()
        .await
        .expect("POST /login");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("a JSON body");
    body["accessToken"].as_str().expect("an access token").to_owned()
}

async fn kyles_posts(client: &reqwest::Client, posts: &str, token: &str) -> Vec<Value> {
    let response = client
        .get(format!("{posts}/posts"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /posts");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON array")
}

async fn openapi(client: &reqwest::Client, posts: &str) -> String {
    let response = client
        .get(format!("{posts}/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    response.text().await.expect("the document")
}
