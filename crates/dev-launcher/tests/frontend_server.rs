//! The demo frontend's static file server, over real HTTP: what it serves and what it never does.

use std::path::Path;

use test_support::TestDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A frontend folder with a page, a script, a hidden file and a sub-folder, and a secret beside it.
async fn serve(dir: &Path) -> String {
    let root = dir.join("frontend");
    std::fs::create_dir_all(root.join("tests")).expect("create the folders");
    std::fs::write(root.join("index.html"), "<!doctype html><title>demo</title>").expect("write index.html");
    std::fs::write(root.join("app.js"), "console.log('hi');").expect("write app.js");
    std::fs::write(root.join(".env"), "SECRET=1").expect("write .env");
    std::fs::write(root.join("tests/browser.mjs"), "// test").expect("write the test");
    std::fs::write(dir.join("secret.txt"), "outside").expect("write the secret");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(dev_launcher::frontend::serve(listener, root));
    address.to_string()
}

/// Sends `target` as written (no client normalises it) and returns the status line and the whole answer.
async fn raw_get(address: &str, target: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    (status, answer)
}

#[tokio::test]
async fn serves_index_html_at_the_root_and_files_by_name() {
    let dir = TestDir::new();
    let address = serve(dir.path()).await;

    let (status, answer) = raw_get(&address, "/").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.contains("content-type: text/html; charset=utf-8"), "{answer}");
    assert!(answer.ends_with("<!doctype html><title>demo</title>"), "{answer}");

    let (status, answer) = raw_get(&address, "/app.js").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
    assert!(
        answer.contains("content-type: text/javascript; charset=utf-8"),
        "{answer}"
    );
    assert!(answer.contains("x-content-type-options: nosniff"), "{answer}");
}

#[tokio::test]
async fn unknown_files_are_404() {
    let dir = TestDir::new();
    let address = serve(dir.path()).await;

    for target in ["/missing.js", "/index.htm", "/favicon.ico"] {
        let (status, answer) = raw_get(&address, target).await;
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{target}: {answer}");
    }
}

#[tokio::test]
async fn nothing_outside_the_top_of_the_folder_is_served() {
    let dir = TestDir::new();
    let address = serve(dir.path()).await;

    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "//secret.txt",
        "/tests/browser.mjs",
        "/.env",
        "/./index.html",
    ] {
        let (status, answer) = raw_get(&address, target).await;
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{target}: {answer}");
        assert!(
            !answer.contains("outside") && !answer.contains("SECRET"),
            "{target}: {answer}"
        );
    }
}

#[tokio::test]
async fn only_get_and_head_are_answered() {
    let dir = TestDir::new();
    let address = serve(dir.path()).await;
    let client = reqwest::Client::builder().no_proxy().build().expect("a client");

    let head = client.head(format!("http://{address}/")).send().await.expect("HEAD /");
    assert_eq!(head.status(), 200);
    let post = client.post(format!("http://{address}/")).send().await.expect("POST /");
    assert_eq!(post.status(), 405);
    assert_eq!(
        post.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"GET, HEAD"[..])
    );
}
