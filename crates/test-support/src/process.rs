//! A server binary run as an operator runs it: in its own directory, configured by its environment,
//! announcing `<name> listening on http://ADDR` on stdout, or refusing to start with one line
//! `<name>: …` on stderr; stopped by a signal.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Every environment variable the servers read: none leaks in from the test's environment.
pub const CONTRACT_VARIABLES: &[&str] = &[
    "AUTH_ADDR",
    "POSTS_ADDR",
    "AUTH_DATABASE_URL",
    "POSTS_DATABASE_URL",
    "ACCESS_TOKEN_SECRET",
    "REFRESH_TOKEN_SECRET",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "REFRESH_REUSE_GRACE",
    "REFRESH_COOKIE_SAMESITE",
    "SESSION_PURGE_INTERVAL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY",
    "CORS_ALLOWED_ORIGINS",
    "RATE_LIMITS",
    "RUST_LOG",
    // The servers' own settings beyond the contract's.
    "ACCESS_TOKEN_PREVIOUS_SECRETS",
    "REFRESH_TOKEN_PREVIOUS_SECRETS",
    "LOGIN_RATE_PER_USERNAME",
    "LOGIN_RATE_PER_ADDRESS",
    "REGISTER_RATE_PER_ADDRESS",
    "TOKEN_RATE_PER_ADDRESS",
    "POST_RATE_PER_USER",
    "TRUSTED_PROXY_HEADER",
    "LOG_FORMAT",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_ACQUIRE_TIMEOUT",
    "DATABASE_STATEMENT_TIMEOUT",
    "DATABASE_STARTUP_TIMEOUT",
    "REGISTRATION",
    "HTTP_HEADER_TIMEOUT",
    "HTTP_IDLE_TIMEOUT",
    "HTTP_MAX_CONNECTIONS",
    "METRICS_ADDR",
    "POSTS_CACHE_MIB",
    "ACCESS_TOKEN_SECRET_FILE",
    "ACCESS_TOKEN_PREVIOUS_SECRETS_FILE",
    "REFRESH_TOKEN_SECRET_FILE",
    "REFRESH_TOKEN_PREVIOUS_SECRETS_FILE",
    // Ended sessions: the auth server's feed and the posts servers that follow it.
    "SESSION_FEED_MAX_WAITING",
    "SESSION_FEED_MAX_LAG",
    "SESSION_FEED_FAIL",
    // EdDSA access tokens and the auth server's published keys.
    "ACCESS_TOKEN_ALG",
    "ACCESS_TOKEN_PRIVATE_KEY_FILE",
    "ACCESS_TOKEN_PUBLIC_KEYS_FILE",
    "AUTH_URL",
    "AUTH_KEYS_REFRESH",
    "VERIFIED_TOKEN_CACHE",
];

/// A server binary: the name it prints its lines with, where it is, the variables every start
/// sets, and how long a start or a stop may take.
///
/// ```
/// use test_support::ServerBinary;
///
/// // In the server's own tests, the path is `env!("CARGO_BIN_EXE_auth-server")`.
/// const AUTH_SERVER: ServerBinary = ServerBinary::new("auth-server", "target/debug/auth-server")
///     .envs(&[("AUTH_ADDR", "127.0.0.1:0"), ("RUST_LOG", "warn")]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ServerBinary {
    name: &'static str,
    path: &'static str,
    envs: &'static [(&'static str, &'static str)],
    patience: Duration,
}

impl ServerBinary {
    /// `path` is the binary, `env!("CARGO_BIN_EXE_<name>")` in the server's own tests.
    /// A start or a stop may take 30 seconds unless [`ServerBinary::patience`] says otherwise.
    pub const fn new(name: &'static str, path: &'static str) -> Self {
        Self {
            name,
            path,
            envs: &[],
            patience: Duration::from_secs(30),
        }
    }

    /// Variables every [`ServerBinary::command`] sets (a test may still override them).
    pub const fn envs(self, envs: &'static [(&'static str, &'static str)]) -> Self {
        Self { envs, ..self }
    }

    /// How long a start or a stop may take before the test fails.
    pub const fn patience(self, patience: Duration) -> Self {
        Self { patience, ..self }
    }

    /// The binary, run in `dir` (so that no `.env` of the repository is read) with no contract
    /// variable set but its [`ServerBinary::envs`], stdin closed, stdout and stderr piped,
    /// and killed if dropped while running.
    pub fn command(&self, dir: &Path) -> Command {
        self.prepared(Command::new(self.path), dir)
    }

    /// [`ServerBinary::command`], started with a soft limit of `open_files` open files (the
    /// hard limit unchanged), as a shell's `ulimit -Sn` would start it (util-linux `prlimit`).
    pub fn command_with_open_files(&self, dir: &Path, open_files: u64) -> Command {
        let mut command = Command::new("prlimit");
        command.arg(format!("--nofile={open_files}:")).arg("--").arg(self.path);
        self.prepared(command, dir)
    }

    fn prepared(&self, mut command: Command, dir: &Path) -> Command {
        for variable in CONTRACT_VARIABLES {
            command.env_remove(variable);
        }
        command
            .envs(self.envs.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts `command` and waits for its listening line (never for a fixed time).
    /// Panics if the server exits first, or announces no `http://IP:PORT` with a real port in time.
    pub async fn start(&self, command: &mut Command) -> ServerProcess {
        let mut child = command.spawn().expect("start the binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let listening = self.listening();
        let (announce, announced) = oneshot::channel::<String>();
        // Stdout is read to the end (the server must never block on a full pipe) and kept.
        let stdout = tokio::spawn(async move {
            let mut announce = Some(announce);
            let mut lines = BufReader::new(stdout).lines();
            let mut all = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(base) = line.strip_prefix(&listening)
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
        let base = match timeout(self.patience, announced).await {
            Ok(Ok(base)) => base,
            Ok(Err(_)) => {
                let stderr = stderr.await.expect("the stderr reader did not panic");
                panic!("{} exited without its listening line; stderr: {stderr}", self.name)
            }
            Err(_) => panic!("{}: no listening line within {:?}", self.name, self.patience),
        };
        let addr: SocketAddr = base
            .strip_prefix("http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("an http://IP:PORT address: {base}"));
        assert_ne!(addr.port(), 0, "a real port: {base}");
        ServerProcess {
            binary: *self,
            child,
            addr,
            base,
            stdout,
            stderr,
        }
    }

    /// Runs a start that must fail: it exits in time, unsuccessfully, without a listening line.
    pub async fn refused_start(&self, command: &mut Command) -> Refusal {
        let output = timeout(self.patience, command.output())
            .await
            .expect("the server should refuse to start, not keep running")
            .expect("run the binary");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains(&self.listening()), "it started: {stdout}");
        assert!(!output.status.success(), "exit status {:?}", output.status);
        assert_ne!(output.status.code(), Some(0));
        Refusal {
            name: self.name,
            status: output.status,
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }

    /// The listening line's prefix, followed by the base URL.
    fn listening(&self) -> String {
        format!("{} listening on ", self.name)
    }
}

async fn read_all(mut stream: impl AsyncRead + Unpin) -> String {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A start that failed, as [`ServerBinary::refused_start`] saw it.
#[derive(Debug)]
pub struct Refusal {
    name: &'static str,
    pub status: ExitStatus,
    pub stderr: String,
}

impl Refusal {
    /// Exactly one line on stderr, `<name>: …`, naming `variable`.
    pub fn assert_one_line_naming(&self, variable: &str) {
        let stderr = &self.stderr;
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
        assert!(stderr.ends_with('\n'), "{stderr:?}");
        assert!(stderr.starts_with(&format!("{}: ", self.name)), "{stderr:?}");
        assert!(stderr.contains(variable), "names {variable}: {stderr:?}");
    }
}

/// A running server binary, the address it announced, and its output so far.
#[derive(Debug)]
pub struct ServerProcess {
    binary: ServerBinary,
    child: Child,
    addr: SocketAddr,
    base: String,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// How a server process ended, and everything it printed (stdout, then stderr).
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    pub output: String,
}

impl ServerProcess {
    /// The base URL it announced, `http://IP:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The address it announced.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `path` on this server: `http://IP:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn terminate(self) -> Exit {
        self.stop_with("-TERM").await
    }

    /// Sends SIGINT (Ctrl-C) and waits for the process to exit.
    pub async fn interrupt(self) -> Exit {
        self.stop_with("-INT").await
    }

    /// Sends SIGKILL (`kill -9`: no chance to clean up) and waits for the process to exit.
    pub async fn kill(self) -> Exit {
        self.stop_with("-KILL").await
    }

    /// Sends `signal` with `kill` and waits, at most the binary's patience, for the process to exit.
    async fn stop_with(mut self, signal: &str) -> Exit {
        let pid = self.child.id().expect("a running child has a pid").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} {pid}");
        let status = timeout(self.binary.patience, self.child.wait())
            .await
            .expect("the server stops in time")
            .expect("wait for the server");
        let stdout = self.stdout.await.expect("the stdout reader did not panic");
        let stderr = self.stderr.await.expect("the stderr reader did not panic");
        Exit {
            status,
            output: stdout + &stderr,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::time::Duration;

    use super::{CONTRACT_VARIABLES, ServerBinary};
    use crate::TestDir;

    /// `sh` playing a server called `fake`.
    const FAKE: ServerBinary = ServerBinary::new("fake", "/bin/sh")
        .envs(&[("RUST_LOG", "warn")])
        .patience(Duration::from_secs(10));

    /// A fake server that announces itself, then runs until a signal (SIGTERM: exit code 0).
    const RUNS: &str = r#"trap 'exit 0' TERM
echo "to stderr" >&2
echo "fake listening on http://127.0.0.1:4321"
while :; do sleep 0.1; done"#;

    #[test]
    fn the_command_runs_in_the_dir_with_only_its_own_contract_variables() {
        let dir = TestDir::new();
        let command = FAKE.command(dir.path());
        let command = command.as_std();
        assert_eq!(command.get_current_dir(), Some(dir.path()));
        let removed: Vec<&OsStr> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| key)
            .collect();
        for variable in CONTRACT_VARIABLES.iter().filter(|variable| **variable != "RUST_LOG") {
            assert!(removed.contains(&OsStr::new(variable)), "{variable} is removed");
        }
        let log = command.get_envs().find(|(key, _)| *key == "RUST_LOG");
        assert_eq!(log, Some((OsStr::new("RUST_LOG"), Some(OsStr::new("warn")))));
    }

    #[tokio::test]
    async fn reads_the_base_url_and_terminates() {
        let dir = TestDir::new();
        let server = FAKE.start(FAKE.command(dir.path()).args(["-c", RUNS])).await;
        assert_eq!(server.base(), "http://127.0.0.1:4321");
        assert_eq!(server.addr().port(), 4321);
        assert_eq!(server.url("/healthz"), "http://127.0.0.1:4321/healthz");

        let exit = server.terminate().await;

        assert_eq!(exit.status.code(), Some(0), "{exit:?}");
        assert_eq!(exit.output, "fake listening on http://127.0.0.1:4321\nto stderr\n");
    }

    #[tokio::test]
    async fn kill_is_sigkill() {
        use std::os::unix::process::ExitStatusExt as _;

        let dir = TestDir::new();
        let server = FAKE.start(FAKE.command(dir.path()).args(["-c", RUNS])).await;

        let exit = server.kill().await;

        assert_eq!(exit.status.signal(), Some(9), "{exit:?}");
    }

    #[tokio::test]
    #[should_panic(expected = "exited without its listening line")]
    async fn a_server_that_exits_before_listening_is_a_failure() {
        let dir = TestDir::new();
        FAKE.start(FAKE.command(dir.path()).args(["-c", "echo 'fake: oops' >&2; exit 1"]))
            .await;
    }

    #[tokio::test]
    async fn a_refused_start_names_the_variable_on_one_line() {
        let dir = TestDir::new();
        let script = "echo 'fake: SOME_VARIABLE is missing' >&2; exit 2";

        let refusal = FAKE.refused_start(FAKE.command(dir.path()).args(["-c", script])).await;

        assert_eq!(refusal.status.code(), Some(2));
        refusal.assert_one_line_naming("SOME_VARIABLE");
    }

    #[tokio::test]
    #[should_panic(expected = "one line")]
    async fn two_lines_are_not_one() {
        let dir = TestDir::new();
        let script = "printf 'fake: SOME_VARIABLE\\nand more\\n' >&2; exit 2";

        let refusal = FAKE.refused_start(FAKE.command(dir.path()).args(["-c", script])).await;

        refusal.assert_one_line_naming("SOME_VARIABLE");
    }
}
