//! The ways the documentation tells people to call the servers, run by the real tools:
//! `requests.http` top to bottom by httpyac, and every shell block of README.md and `docs/*.md`
//! that uses curl, by bash, exactly as written. The README's walk-through runs against a
//! development start in a temporary directory (the launcher binary, as `cargo dev` runs it, on
//! the fixed ports 4000 and 3000 the files use); the "Running several instances" block builds a
//! release binary and uses PostgreSQL.
//!
//! Every curl command in those blocks is followed by a `# → STATUS …` comment line: the status it
//! must get, and the JSON it must show (`"key"`: that key is in the answer; `"key":"value"` or
//! `"key":123`: that member is). Where node, npm, PostgreSQL or the fixed ports are not available,
//! the test fails, saying which: it is never skipped.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use launcher::NO_PROXY;
use test_support::{CONTRACT_VARIABLES, TestDir};

mod launcher;

const CARGO: &str = env!("CARGO");
/// What the launcher prints once both servers are ready and seeded.
const READY_BANNER: &str = "==> Both servers are ready";
/// The launcher builds both servers first, possibly waiting for a build running elsewhere.
const START_PATIENCE: Duration = Duration::from_secs(900);
/// For one shell block or one httpyac run (the several-instances block builds a release binary).
const RUN_PATIENCE: Duration = Duration::from_secs(900);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn requests_http_and_the_readme_walk_through_pass_against_the_development_start() {
    let _ports = PortsLock::acquire("auth-posts-dev-ports-4000-3000");
    if let Some(busy) = busy_port(&[4000, 3000]) {
        cannot_run(&format!("port {busy} is in use (is `cargo dev` running?)"));
    }
    let blocks = documented_curl_blocks();
    let walk: Vec<&String> = blocks.iter().filter(|block| uses_development_ports(block)).collect();
    assert!(!walk.is_empty(), "README.md has curl blocks for the development start");
    // Logout means logout: the walk-through (the block that logs out) ends with the logged-out
    // session's access token, not yet expired, refused by posts-server (which `cargo dev` has
    // follow auth-server).
    let last = walk
        .iter()
        .find(|block| block.contains("localhost:4000/logout"))
        .and_then(|block| expectations(block).pop());
    let refused = |last: &Expected| {
        let invalid_token = last
            .contains
            .iter()
            .any(|member| member == r#""error":"invalid_token""#);
        last.command.contains("localhost:3000/posts") && last.status == 403 && invalid_token
    };
    assert!(
        last.as_ref().is_some_and(refused),
        "the README's walk-through ends with GET /posts refused with 403 invalid_token after the logout: {last:?}"
    );
    for block in &blocks {
        assert!(
            uses_development_ports(block) || is_several_instances(block),
            "a curl block of the documentation that no test runs:\n{block}"
        );
    }

    let dir = TestDir::new();
    let dev = DevStart::start(dir.path());
    // requests.http logs in as Kyle and expects his posts: say so at once if seeding failed.
    let started = dev.output();
    for user in ["Jason", "Kyle"] {
        assert!(
            started.contains(&format!("[dev] created demo user {user} with")),
            "the development start did not seed {user}:\n{started}"
        );
    }

    run_requests_http(dir.path());
    for block in walk {
        run_curl_block(block, dir.path(), &workspace(), &[]);
    }

    let output = dev.stop();
    assert!(
        !output.contains("[dev] error"),
        "the development start reported an error:\n{output}"
    );
}

#[test]
fn the_documented_several_instances_block_passes_as_written() {
    let _ports = PortsLock::acquire("auth-posts-readme-ports-4001-4002");
    let blocks = documented_curl_blocks();
    let several: Vec<&String> = blocks.iter().filter(|block| is_several_instances(block)).collect();
    assert_eq!(several.len(), 1, "the documentation has one several-instances block");
    if !postgres_reachable() {
        cannot_run("PostgreSQL is not reachable at 127.0.0.1:5432 (the several-instances block)");
    }
    for (tool, version) in [("psql", "--version"), ("openssl", "version")] {
        if !tool_runs(tool, version) {
            cannot_run(&format!("{tool} is not installed (the several-instances block)"));
        }
    }
    if let Some(busy) = busy_port(&[4001, 4002]) {
        cannot_run(&format!("port {busy} is in use (the several-instances block)"));
    }
    // A database left by an interrupted run would make the block's CREATE DATABASE fail.
    let dropped = Command::new("psql")
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            "DROP DATABASE IF EXISTS auth_demo",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run psql");
    assert!(dropped.success(), "drop a leftover auth_demo database");

    let dir = TestDir::new();
    // "From the repository root", with the `target/` it builds into.
    run_curl_block(
        several[0],
        dir.path(),
        &workspace(),
        &["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"],
    );
}

// ---------------------------------------------------------------------------------------------
// The development start.

/// The launcher binary, run in its own working directory (so `data/` and any `.env` are the
/// test's), as `cargo dev` runs it: it builds both servers, starts them, seeds the demo users.
struct DevStart {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl DevStart {
    fn start(dir: &Path) -> Self {
        let mut child = launcher::command(Path::new(launcher::LAUNCHER), dir)
            .spawn()
            .expect("start the dev launcher");
        let output = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![
            collect_lines(stdout, Arc::clone(&output), Some(ready_tx)),
            collect_lines(stderr, Arc::clone(&output), None),
        ];
        let dev = Self {
            child: Some(child),
            output,
            readers,
        };
        match ready.recv_timeout(START_PATIENCE) {
            Ok(()) => dev,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the development start ended before it was ready:\n{}", dev.output())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the development start was not ready within {START_PATIENCE:?}:\n{}",
                dev.output()
            ),
        }
    }

    fn output(&self) -> String {
        self.output.lock().expect("the output lock").clone()
    }

    /// Ctrl-C's signal's sibling, SIGTERM: the launcher stops both servers and exits 0.
    fn stop(mut self) -> String {
        let status = self.terminate().expect("the launcher was running");
        for reader in self.readers.drain(..) {
            reader.join().expect("an output reader did not panic");
        }
        let output = self.output();
        assert!(status.success(), "the development start ended with {status}:\n{output}");
        output
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        match wait_with_deadline(&mut child, Duration::from_secs(30)) {
            Some(status) => Some(status),
            None => {
                let _ = child.kill();
                child.wait().ok()
            }
        }
    }
}

impl Drop for DevStart {
    /// A failed test still stops the servers, so they never keep holding the ports.
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<()>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut ready = ready;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if line.contains(READY_BANNER)
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
            let mut output = output.lock().expect("the output lock");
            output.push_str(&line);
            output.push('\n');
        }
    })
}

// ---------------------------------------------------------------------------------------------
// requests.http by httpyac.

/// Runs a copy of requests.http, its `# ?? …` assertions uncommented, with
/// `npx httpyac send --all --bail`: every request is sent in order and every assertion must hold.
fn run_requests_http(dir: &Path) {
    if !tool_runs("node", "--version") || !tool_runs("npm", "--version") {
        cannot_run("node and npm are needed to run requests.http with httpyac");
    }
    let e2e = workspace().join("e2e/http");
    if !e2e.join("node_modules/httpyac").is_dir() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&e2e)
            .status()
            .expect("run npm ci");
        assert!(installed.success(), "npm ci in e2e/http failed ({installed})");
    }

    let text = std::fs::read_to_string(workspace().join("requests.http")).expect("read requests.http");
    let requests = request_count(&text);
    assert!(
        requests >= 8,
        "requests.http has the whole tutorial flow ({requests} requests)"
    );
    let runnable = uncomment_assertions(&text);
    for (index, region) in runnable.split("\n###").skip(1).enumerate() {
        assert!(
            region.contains("\n?? status == "),
            "request {} of requests.http asserts no status:\n{region}",
            index + 1
        );
    }
    // Logout means logout: the last request lists the posts with the logged-out session's access
    // token, and expects it refused.
    let last = runnable.rsplit("\n###").next().unwrap_or_default();
    assert!(
        last.contains("\nGET {{posts}}/posts")
            && last.contains("\n?? status == 403\n")
            && last.contains("\n?? js response.parsedBody.error == invalid_token\n"),
        "requests.http ends with GET /posts refused with 403 invalid_token after the logout:\n{last}"
    );
    let file = dir.join("requests.http");
    std::fs::write(&file, runnable).expect("write the runnable copy of requests.http");

    // httpyac only sends files below its working directory: it runs in `dir`, from e2e/http's install.
    let mut command = Command::new("npx");
    command
        .arg("--prefix")
        .arg(&e2e)
        .args(["--no", "--", "httpyac", "send", "requests.http"])
        .args(["--all", "--bail", "--no-color", "--output", "short"])
        .current_dir(dir)
        .env("NO_PROXY", NO_PROXY)
        .env("no_proxy", NO_PROXY);
    let (status, stdout, stderr) = run(&mut command);
    let report = format!("httpyac ended with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(status.success(), "{report}");
    // httpyac names failed, errored or skipped requests in this summary whenever there are any.
    let summary = format!("{requests} requests processed ({requests} succeeded)");
    assert!(stdout.contains(&summary), "expected `{summary}`; {report}");
}

/// The requests of an `.http` file: its regions after the header that have a request line.
fn request_count(text: &str) -> usize {
    text.split("\n###")
        .skip(1)
        .filter(|region| {
            region.lines().any(|line| {
                ["GET ", "POST ", "PUT ", "PATCH ", "DELETE "]
                    .iter()
                    .any(|method| line.starts_with(method))
            })
        })
        .count()
}

/// `# ?? status == 200` becomes httpyac's `?? status == 200`.
fn uncomment_assertions(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.strip_prefix("# ")
                .filter(|rest| rest.starts_with("?? "))
                .unwrap_or(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

// ---------------------------------------------------------------------------------------------
// The documentation's curl blocks by bash.

/// Observes every curl the block runs: curl itself runs as written (its output passed on byte for
/// byte), and each answer's status (from the headers curl dumps) and output (headers too with
/// `-i`) are appended as one line to `$CURL_LOG`.
const CURL_WRAPPER: &str = r#"set -euo pipefail
curl() {
    local headers output status=0
    headers=$(mktemp) output=$(mktemp)
    command curl --dump-header "$headers" "$@" > "$output" || status=$?
    cat "$output"
    if [ "$status" -eq 0 ]; then
        printf '%s %s\n' "$(sed -n 's/^HTTP\/[^ ]* \([0-9]*\).*/\1/p' "$headers" | tail -n 1)" \
            "$(tr '\r\n' '  ' < "$output")" >> "$CURL_LOG"
    fi
    rm -f "$headers" "$output"
    return "$status"
}
"#;

/// The documentation: README.md, then every `docs/*.md` in name order.
fn documentation() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(workspace().join("docs"))
        .expect("read docs/")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    pages.sort();
    pages.insert(0, workspace().join("README.md"));
    pages
}

/// The shell blocks of the documentation that use curl.
fn documented_curl_blocks() -> Vec<String> {
    let text = documentation()
        .iter()
        .map(|page| std::fs::read_to_string(page).unwrap_or_else(|err| panic!("read {}: {err}", page.display())))
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if ["```sh", "```bash", "```shell"].contains(&line.trim_end()) => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => {
                let block = current.take().expect("inside a block");
                if block.contains("curl ") {
                    blocks.push(block);
                }
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

fn uses_development_ports(block: &str) -> bool {
    block.contains("localhost:4000") || block.contains("localhost:3000")
}

fn is_several_instances(block: &str) -> bool {
    block.contains("target/release/auth-server")
}

/// What one curl command must answer, from the `# → …` line after it.
#[derive(Debug)]
struct Expected {
    command: String,
    status: u16,
    /// Text the answer must contain: `"key":` for a bare key, the member itself otherwise.
    contains: Vec<String>,
}

/// The curl commands of a block in order, each with the `# → STATUS …` line that follows it.
fn expectations(block: &str) -> Vec<Expected> {
    let lines: Vec<&str> = block.lines().collect();
    let mut expected = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        if line.trim_start().starts_with('#') || !line.contains("curl ") {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') && index < lines.len() {
            command.push('\n');
            command.push_str(lines[index]);
            index += 1;
        }
        let outcome = lines
            .get(index)
            .and_then(|next| next.trim_start().strip_prefix("# → "))
            .unwrap_or_else(|| panic!("no `# → STATUS …` line after this documented curl command:\n{command}"));
        let status = outcome
            .get(..3)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("`# → {outcome}` does not start with a status, after:\n{command}"));
        expected.push(Expected {
            command,
            status,
            contains: json_members(&outcome[3..]),
        });
    }
    expected
}

/// `{"id","username":"alice","n":1}` → `"id":`, `"username":"alice"`, `"n":1`.
fn json_members(text: &str) -> Vec<String> {
    let mut members = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        let key = &after[..end];
        rest = &after[end + 1..];
        if let Some(value) = rest.strip_prefix(':') {
            let length = if let Some(string) = value.strip_prefix('"') {
                string.find('"').map_or(value.len(), |end| end + 2)
            } else {
                value.find([',', '}', ']', ' ']).unwrap_or(value.len())
            };
            members.push(format!("\"{key}\":{}", &value[..length]));
            rest = &value[length..];
        } else {
            members.push(format!("\"{key}\":"));
        }
    }
    members
}

/// Runs `block` with bash in `cwd` (with `set -euo pipefail`), and checks it ends with 0 and
/// that each of its curl commands got the answer its `# → …` line says.
fn run_curl_block(block: &str, scratch: &Path, cwd: &Path, unset: &[&str]) {
    let expected = expectations(block);
    assert!(!expected.is_empty(), "a curl block with curl commands:\n{block}");
    let log = scratch.join("curl.log");
    let _ = std::fs::remove_file(&log);

    let mut command = Command::new("bash");
    command.arg("-c").arg(format!("{CURL_WRAPPER}{block}"));
    for variable in CONTRACT_VARIABLES.iter().chain(unset) {
        command.env_remove(variable);
    }
    command
        .current_dir(cwd)
        .env("CURL_LOG", &log)
        .env("NO_PROXY", NO_PROXY)
        .env("no_proxy", NO_PROXY)
        .env("PATH", path_with_cargo());
    let (status, stdout, stderr) = run(&mut command);
    let answers = std::fs::read_to_string(&log).unwrap_or_default();
    let report = format!(
        "the documented block\n{block}\nended with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}\ncurl answers:\n{answers}"
    );
    assert!(status.success(), "{report}");

    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), expected.len(), "one answer per curl command; {report}");
    for (want, answer) in expected.iter().zip(&answers) {
        let (status, output) = answer.split_once(' ').unwrap_or((answer, ""));
        assert_eq!(
            status,
            want.status.to_string(),
            "status of\n{}\nanswer: {output}\n{report}",
            want.command
        );
        for member in &want.contains {
            assert!(
                output.contains(member.as_str()),
                "the answer to\n{}\nlacks {member}: {output}\n{report}",
                want.command
            );
        }
    }
}

/// `cargo` for the blocks that build: the one running these tests, first on the PATH.
fn path_with_cargo() -> String {
    let cargo_dir = Path::new(CARGO).parent().expect("cargo's directory");
    match std::env::var("PATH") {
        Ok(path) => format!("{}:{path}", cargo_dir.display()),
        Err(_) => cargo_dir.display().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// Runs `command` to its end (at most `RUN_PATIENCE`), returning its status, stdout and stderr.
fn run(command: &mut Command) -> (ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let read = |stream: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = read(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let stderr = read(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let status = wait_with_deadline(&mut child, RUN_PATIENCE).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} did not end within {RUN_PATIENCE:?}")
    });
    (
        status,
        stdout.join().expect("the stdout reader did not panic"),
        stderr.join().expect("the stderr reader did not panic"),
    )
}

fn wait_with_deadline(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + patience;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn tool_runs(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn postgres_reachable() -> bool {
    let address = "127.0.0.1:5432".parse().expect("a socket address");
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3)).is_ok()
}

/// The first of `ports` that another process listens on.
fn busy_port(ports: &[u16]) -> Option<u16> {
    ports
        .iter()
        .copied()
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_err())
}

/// A test that cannot run here fails, saying why: none is ever skipped.
fn cannot_run(reason: &str) -> ! {
    test_support::cannot_run(reason)
}

/// Holds fixed ports for one test at a time, across processes: an abstract Unix socket of that
/// name, which the kernel frees when its holder exits, however it exits.
struct PortsLock(#[allow(dead_code)] UnixListener);

impl PortsLock {
    fn acquire(name: &str) -> Self {
        let address = UnixAddr::from_abstract_name(name.as_bytes()).expect("an abstract socket name");
        let deadline = Instant::now() + Duration::from_secs(1200);
        loop {
            match UnixListener::bind_addr(&address) {
                Ok(listener) => return Self(listener),
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(200)),
                Err(error) => panic!("another test has held {name} for 20 minutes ({error})"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_members_name_keys_and_members() {
        assert_eq!(
            json_members(r#" {"id","username":"alice","n":12,…}"#),
            [r#""id":"#, r#""username":"alice""#, r#""n":12"#]
        );
        assert_eq!(json_members(" [{\"id\"}]"), [r#""id":"#]);
        assert!(json_members(", with the post above").is_empty());
    }

    #[test]
    fn expectations_follow_each_curl_command() {
        let block = "# a comment with curl in it\nX=$(curl -s a \\\n  -d '{}')\n# → 201 {\"id\"}\necho \"$X\"\ncurl -s -i b\n# → 403 {\"error\":\"invalid_grant\"}\n";
        let expected = expectations(block);
        assert_eq!(expected.len(), 2);
        assert_eq!(expected[0].command, "X=$(curl -s a \\\n  -d '{}')");
        assert_eq!(
            (expected[0].status, expected[0].contains.clone()),
            (201, vec![r#""id":"#.to_owned()])
        );
        assert_eq!(expected[1].status, 403);
        assert_eq!(expected[1].contains, [r#""error":"invalid_grant""#]);
    }

    #[test]
    fn assertions_are_uncommented_and_nothing_else() {
        assert_eq!(
            uncomment_assertions("# ?? status == 200\n# a comment\n#?? no\n"),
            "?? status == 200\n# a comment\n#?? no\n"
        );
    }
}
