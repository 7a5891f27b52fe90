//! The `auth-server` binary: refusing bad settings, reporting its port, stopping, surviving a crash, keeping secrets.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::helpers::{ACCESS_SECRET, PASSWORD, REFRESH_SECRET, TestDir};

/// How long a start or a stop may take (the binary hashes a dummy password at start).
const PATIENCE: Duration = Duration::from_secs(30);

/// The listening line's prefix, followed by the base URL.
const LISTENING: &str = "auth-server listening on ";

/// The binary, run in `dir` (so that no `.env` of ours is read) with an empty
/// environment but for any free port and a database in `dir`.
fn auth_server(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    command
        .env_clear()
        .current_dir(dir)
        .env("AUTH_ADDR", "127.0.0.1:0")
        .env("AUTH_DATABASE_URL", "sqlite://auth.db")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The binary with both test secrets set.
fn configured(dir: &Path) -> Command {
    let mut command = auth_server(dir);
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET);
    command
}

/// Runs a start that must fail; returns its exit status and stderr.
async fn refused_start(command: &mut Command) -> (ExitStatus, String) {
    let output = timeout(PATIENCE, command.output())
        .await
        .expect("the server should refuse to start, not keep running")
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains(LISTENING), "it started: {stdout}");
    (output.status, String::from_utf8(output.stderr).expect("UTF-8 stderr"))
}

/// Exactly one line on stderr, naming `variable`, and no secret in it.
fn assert_refused_naming((status, stderr): &(ExitStatus, String), variable: &str, secrets: &[&str]) {
    assert!(!status.success(), "exit status {status:?}");
    assert_ne!(status.code(), Some(0));
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert!(stderr.starts_with("auth-server: "), "{stderr:?}");
    assert!(stderr.contains(variable), "names {variable}: {stderr:?}");
    for secret in secrets.iter().chain([&ACCESS_SECRET, &REFRESH_SECRET]) {
        assert!(!stderr.contains(secret), "the secret is printed: {stderr:?}");
    }
}

#[tokio::test]
async fn refuses_to_start_without_the_access_secret() {
    let dir = TestDir::new();
    let mut command = auth_server(dir.path());
    command.env("REFRESH_TOKEN_SECRET", REFRESH_SECRET);
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[]);
    assert!(!dir.path().join("auth.db").exists(), "no database for a refused start");
}

#[tokio::test]
async fn refuses_to_start_without_the_refresh_secret() {
    let dir = TestDir::new();
    let mut command = auth_server(dir.path());
    command.env("ACCESS_TOKEN_SECRET", ACCESS_SECRET);
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_an_empty_secret() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("ACCESS_TOKEN_SECRET", "");
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_a_31_byte_secret_without_printing_it() {
    let short = "0123456789abcdefghijklmnopqrstu";
    assert_eq!(short.len(), 31);

    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("ACCESS_TOKEN_SECRET", short);
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[short]);

    let mut command = configured(dir.path());
    command.env("REFRESH_TOKEN_SECRET", short);
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[short]);
}

#[tokio::test]
async fn refuses_equal_secrets_without_printing_them() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("REFRESH_TOKEN_SECRET", ACCESS_SECRET);
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_a_ttl_that_is_not_a_duration() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("ACCESS_TOKEN_TTL", "abc");
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_TTL", &[]);
    assert!(!dir.path().join("auth.db").exists(), "no database for a refused start");
}

#[tokio::test]
async fn refuses_a_database_url_that_is_not_sqlite() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("AUTH_DATABASE_URL", "mysql://x");
    assert_refused_naming(&refused_start(&mut command).await, "AUTH_DATABASE_URL", &[]);
}

/// A running binary, the base URL it announced, and its output so far.
struct Running {
    child: Child,
    base: String,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

async fn read_all(stream: impl AsyncRead + Unpin) -> String {
    let mut stream = stream;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Starts the binary and waits for its listening line (never for a fixed time).
async fn start(mut command: Command) -> Running {
    let mut child = command.spawn().expect("start the binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (announce, announced) = oneshot::channel::<String>();
    // Stdout is read to the end (the server must never block on a full pipe) and kept.
    let stdout = tokio::spawn(async move {
        let mut announce = Some(announce);
        let mut lines = BufReader::new(stdout).lines();
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(base) = line.strip_prefix(LISTENING)
                && let Some(announce) = announce.take()
            {
                let _ = announce.send(base.to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let stderr = tokio::spawn(read_all(stderr));
    let base = match timeout(PATIENCE, announced).await {
        Ok(Ok(base)) => base,
        Ok(Err(_)) => {
            let stderr = stderr.await.expect("the stderr reader did not panic");
            panic!("the server exited without its listening line; stderr: {stderr}")
        }
        Err(_) => panic!("no listening line within {PATIENCE:?}"),
    };
    let port = base
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("an http://127.0.0.1:PORT address: {base}"));
    assert_ne!(port.parse::<u16>().expect("a port number"), 0);
    Running {
        child,
        base,
        stdout,
        stderr,
    }
}

impl Running {
    fn pid(&self) -> String {
        self.child.id().expect("a running child has a pid").to_string()
    }

    /// Sends `signal` with `kill` and waits for the process to exit; returns its status and output.
    async fn stop_with(mut self, signal: &str) -> (ExitStatus, String) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal}");
        let exit = timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server stops in time")
            .expect("wait for the server");
        let stdout = self.stdout.await.expect("the stdout reader did not panic");
        let stderr = self.stderr.await.expect("the stderr reader did not panic");
        (exit, stdout + &stderr)
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("send a POST")
    }

    async fn tokens(&self, path: &str, body: &Value) -> Value {
        let response = self.post(path, body).await;
        assert_eq!(response.status(), 200, "POST {path}");
        response.json().await.expect("a JSON body")
    }
}

fn credentials(password: &str) -> Value {
    json!({ "username": "alice", "password": password })
}

#[tokio::test]
async fn starts_on_port_0_and_reports_the_address() {
    let dir = TestDir::new();
    let server = start(configured(dir.path())).await;

    let response = reqwest::get(format!("{}/healthz", server.base))
        .await
        .expect("GET /healthz");
    assert_eq!(response.status(), 200);
    let response = reqwest::get(format!("{}/readyz", server.base))
        .await
        .expect("GET /readyz");
    assert_eq!(response.status(), 200);

    let (status, _) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn sigterm_stops_it_with_exit_code_0() {
    let dir = TestDir::new();
    let server = start(configured(dir.path())).await;
    assert_eq!(server.post("/register", &credentials(PASSWORD)).await.status(), 201);

    let (status, output) = server.stop_with("-TERM").await;

    assert_eq!(status.code(), Some(0), "{output}");
}

#[tokio::test]
async fn sigint_right_after_start_stops_it_with_exit_code_0() {
    let dir = TestDir::new();
    let server = start(configured(dir.path())).await;

    let (status, output) = server.stop_with("-INT").await;

    assert_eq!(status.code(), Some(0), "{output}");
}

#[tokio::test]
async fn flags_win_over_the_environment() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command
        .env("ACCESS_TOKEN_TTL", "15m")
        .args(["--access-token-ttl", "2m"]);
    let server = start(command).await;

    assert_eq!(server.post("/register", &credentials(PASSWORD)).await.status(), 201);
    let login = server.tokens("/login", &credentials(PASSWORD)).await;
    assert_eq!(login["expiresIn"], 120);

    let (status, _) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn data_survives_kill_9() {
    let dir = TestDir::new();
    let server = start(configured(dir.path())).await;
    assert_eq!(server.post("/register", &credentials(PASSWORD)).await.status(), 201);
    let login = server.tokens("/login", &credentials(PASSWORD)).await;

    let (status, _) = server.stop_with("-KILL").await;
    assert_ne!(status.code(), Some(0));

    let server = start(configured(dir.path())).await;
    server.tokens("/login", &credentials(PASSWORD)).await;
    let refresh = login["refreshToken"].as_str().expect("a refreshToken");
    let rotated = server.tokens("/token", &json!({ "token": refresh })).await;
    assert_ne!(rotated["refreshToken"], refresh);
    let (status, _) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_logs_never_contain_a_password_a_secret_or_a_token() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("RUST_LOG", "debug");
    let server = start(command).await;
    let wrong_password = "not-the-password-but-close";

    assert_eq!(server.post("/register", &credentials(PASSWORD)).await.status(), 201);
    assert_eq!(server.post("/login", &credentials(wrong_password)).await.status(), 401);
    let login = server.tokens("/login", &credentials(PASSWORD)).await;
    let refresh = login["refreshToken"].as_str().expect("a refreshToken").to_owned();
    let rotated = server.tokens("/token", &json!({ "token": refresh })).await;
    let reused = server.post("/token", &json!({ "token": refresh })).await;
    assert_eq!(reused.status(), 403);
    let logout = reqwest::Client::new()
        .delete(format!("{}/logout", server.base))
        .json(&json!({ "token": rotated["refreshToken"] }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    let (status, output) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));

    assert!(output.contains("DEBUG"), "debug logging was on: {output}");
    let mut never = vec![PASSWORD, wrong_password, ACCESS_SECRET, REFRESH_SECRET];
    let tokens: Vec<&str> = [&login, &rotated]
        .iter()
        .flat_map(|pair| [&pair["accessToken"], &pair["refreshToken"]])
        .map(|token| token.as_str().expect("a token"))
        .collect();
    never.extend(&tokens);
    // Not even the signature of a token, which is what makes it usable.
    never.extend(
        tokens
            .iter()
            .map(|token| token.rsplit('.').next().expect("a signature")),
    );
    for secret in never {
        assert!(!output.contains(secret), "the output contains {secret:?}:\n{output}");
    }
}

#[tokio::test]
async fn reads_a_dotenv_file_in_the_working_directory() {
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join(".env"),
        format!("ACCESS_TOKEN_SECRET={ACCESS_SECRET}\nREFRESH_TOKEN_SECRET={REFRESH_SECRET}\n"),
    )
    .expect("write .env");

    let server = start(auth_server(dir.path())).await;

    let (status, _) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_environment_wins_over_the_dotenv_file() {
    let dir = TestDir::new();
    std::fs::write(dir.path().join(".env"), "ACCESS_TOKEN_SECRET=too-short\n").expect("write .env");

    let server = start(configured(dir.path())).await;

    let (status, _) = server.stop_with("-TERM").await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn does_not_read_a_dotenv_file_of_a_parent_directory() {
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join(".env"),
        format!("ACCESS_TOKEN_SECRET={ACCESS_SECRET}\nREFRESH_TOKEN_SECRET={REFRESH_SECRET}\n"),
    )
    .expect("write .env");
    let child_dir = dir.path().join("elsewhere");
    std::fs::create_dir(&child_dir).expect("create a subdirectory");

    let refusal = refused_start(&mut auth_server(&child_dir)).await;

    assert_refused_naming(&refusal, "ACCESS_TOKEN_SECRET", &[]);
}
