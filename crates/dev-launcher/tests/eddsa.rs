//! `cargo dev --eddsa`: the pair signs access tokens with an Ed25519 key generated once into
//! `data/`, posts-server verifies them with the keys auth-server publishes, and a second start
//! keeps the key.

mod launcher;

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use test_support::TestDir;
use test_support::jose::{b64url_decode, parts};

/// The launcher builds both servers first, possibly waiting for a build running elsewhere.
const START_PATIENCE: Duration = Duration::from_secs(900);

/// A free local port (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The launcher with `--eddsa` in `dir`, once it has printed its banner; and all it printed.
fn start(dir: &Path, auth: u16, posts: u16) -> (Child, String) {
    let mut child = launcher::command(Path::new(launcher::LAUNCHER), dir)
        .arg("--eddsa")
        .env("AUTH_ADDR", format!("127.0.0.1:{auth}"))
        .env("POSTS_ADDR", format!("127.0.0.1:{posts}"))
        .spawn()
        .expect("start the dev launcher");
    let (lines, received) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let mut output = String::new();
    let deadline = std::time::Instant::now() + START_PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                output.push_str(&line);
                output.push('\n');
                if line.contains("==> Both servers are ready") {
                    // The rest of the banner.
                    while let Ok(line) = received.recv_timeout(Duration::from_millis(300)) {
                        output.push_str(&line);
                        output.push('\n');
                    }
                    return (child, output);
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the development start was not ready:\n{output}");
            }
        }
    }
}

fn stop(mut child: Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn login(auth: u16) -> String {
    let answer = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"username":"Kyle","password":"demo-password"}"#,
        ])
        .arg(format!("http://127.0.0.1:{auth}/login"))
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&answer.stdout).expect("a JSON answer to /login");
    body["accessToken"].as_str().expect("an access token").to_owned()
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut command = std::process::Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let answer = command.arg(url).output().expect("curl");
    let text = String::from_utf8_lossy(&answer.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("a status line");
    (status.trim().parse().expect("a status"), body.to_owned())
}

#[test]
fn the_pair_signs_with_a_generated_ed25519_key_and_keeps_it() {
    let dir = TestDir::new();
    let (auth, posts) = (free_port(), free_port());
    let (child, output) = start(dir.path(), auth, posts);
    assert!(
        output.contains("generated a new Ed25519 access token key in data/access-ed25519.pem"),
        "{output}"
    );
    assert!(
        output.contains("access tokens EdDSA"),
        "the banner says how tokens are signed:\n{output}"
    );
    let key_file = dir.path().join("data/access-ed25519.pem");
    let mode = std::fs::metadata(&key_file).expect("the key file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
    let key = std::fs::read_to_string(&key_file).expect("the key file");
    assert!(
        !output.contains(key.lines().nth(1).expect("the key's base64 line")),
        "the key was printed"
    );

    let (status, jwks) = get(&format!("http://127.0.0.1:{auth}/.well-known/jwks.json"), None);
    assert_eq!(status, 200);
    let jwks: Value = serde_json::from_str(&jwks).expect("a JWK Set");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    let kid = keys[0]["kid"].as_str().expect("a kid").to_owned();

    let token = login(auth);
    let header: Value = serde_json::from_slice(&b64url_decode(&parts(&token)[0])).expect("a JSON header");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], kid.as_str());
    let (status, body) = get(&format!("http://127.0.0.1:{posts}/posts"), Some(&token));
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).expect("a JSON list");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "Kyle's demo posts: {body}");
    stop(child);

    // A second start keeps the key: the same kid, and the token of the first still works.
    let (child, output) = start(dir.path(), auth, posts);
    assert!(!output.contains("generated a new Ed25519"), "{output}");
    let (_, jwks) = get(&format!("http://127.0.0.1:{auth}/.well-known/jwks.json"), None);
    assert!(jwks.contains(&kid), "{jwks}");
    let (status, body) = get(&format!("http://127.0.0.1:{posts}/posts"), Some(&token));
    assert_eq!(status, 200, "{body}");
    stop(child);
}
