//! Slow and silent clients cannot take the server down: a flood of connections that send half a
//! request head and wait neither starves the accept loop nor stays forever, whether it is larger
//! than the open-files limit the server was started with or than its connection cap.

use std::time::Duration;

use test_support::ServerProcess;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::binary::POSTS_SERVER;
use crate::helpers::{TestDir, in_mode, start_binary, token_for};

/// The header timeout the servers of these tests run with.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection that sends half a request head, then waits; `None` if the server did not take
/// it within two seconds (a server that no longer accepts fills its backlog, and then a connect
/// waits for minutes).
async fn slow_client(server: &ServerProcess) -> Option<TcpStream> {
    let mut stream = timeout(Duration::from_secs(2), TcpStream::connect(server.addr()))
        .await
        .ok()?
        .ok()?;
    stream
        .write_all(b"GET /posts HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .ok()?;
    Some(stream)
}

/// Whether the server closes `stream` within `within` (end of stream or a reset).
async fn closed_within(mut stream: TcpStream, within: Duration) -> bool {
    let mut buf = [0_u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A `408` or the like may come first; the close is what counts.
            Ok(Ok(_)) => {}
        }
    }
}

/// Asks `GET /healthz` until it is answered (a refused or closed connection is tried again at
/// once, as a client would), and returns how long that took.
async fn time_to_serve(client: &reqwest::Client, server: &ServerProcess) -> Duration {
    let start = Instant::now();
    loop {
        let answer = client
            .get(server.url("/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if answer.is_ok_and(|answer| answer.status() == 200) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While the flood is held, a real client (a new connection each time) is served within `bound`
/// every time, over three header timeouts.
async fn assert_served_throughout(server: &ServerProcess, bound: Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let until = Instant::now() + HEADER_TIMEOUT * 3;
    let mut worst = Duration::ZERO;
    while Instant::now() < until {
        worst = worst.max(time_to_serve(&client, server).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(worst <= bound, "a real client waited {worst:?} to be served");
}

fn posts_server(dir: &TestDir, open_files: Option<u64>) -> tokio::process::Command {
    let mut command = match open_files {
        Some(limit) => POSTS_SERVER.command_with_open_files(dir.path(), limit),
        None => POSTS_SERVER.command(dir.path()),
    };
    in_mode(&mut command)
        .env("HTTP_HEADER_TIMEOUT", "2s")
        .env("RUST_LOG", "info");
    command
}

#[tokio::test]
async fn more_slow_clients_than_the_open_files_limit_neither_starve_nor_stay() {
    let dir = TestDir::new();
    // Started as with a shell's common soft limit, scaled down: 256 open files.
    let server = start_binary(&mut posts_server(&dir, Some(256))).await;
    let mut slow = Vec::new();
    for _ in 0..400 {
        slow.extend(slow_client(&server).await);
    }
    let opened = Instant::now();
    assert_served_throughout(&server, Duration::from_millis(1500)).await;
    for stream in slow {
        let left = (HEADER_TIMEOUT + Duration::from_secs(3)).saturating_sub(opened.elapsed());
        assert!(
            closed_within(stream, left).await,
            "a slow client was kept past the header timeout"
        );
    }
    let exit = server.terminate().await;
    assert!(exit.output.contains("open files limit raised"), "{}", exit.output);
}

#[tokio::test]
async fn a_flood_beyond_the_connection_cap_is_closed_at_once_and_real_clients_get_through() {
    let dir = TestDir::new();
    let mut command = posts_server(&dir, None);
    command.env("HTTP_MAX_CONNECTIONS", "20");
    let server = start_binary(&mut command).await;
    let mut slow = Vec::new();
    for _ in 0..100 {
        slow.extend(slow_client(&server).await);
    }
    let opened = Instant::now();
    // Past the cap, a connection is closed as soon as it is accepted.
    let mut beyond = slow.split_off(20);
    let closed_at_once = beyond.pop().expect("a connection beyond the cap");
    assert!(closed_within(closed_at_once, Duration::from_millis(500)).await);
    // A real client waits at most for the slow ones' header timeout.
    assert_served_throughout(&server, HEADER_TIMEOUT + Duration::from_secs(1)).await;
    for stream in slow {
        let left = (HEADER_TIMEOUT + Duration::from_secs(3)).saturating_sub(opened.elapsed());
        assert!(
            closed_within(stream, left).await,
            "a slow client was kept past the header timeout"
        );
    }
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("a text body");
    let refused = metrics
        .lines()
        .find_map(|line| line.strip_prefix("http_connections_refused_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or_default();
    assert!(refused >= 79.0, "{metrics}");
    server.terminate().await;
}

#[tokio::test]
async fn a_client_that_sends_nothing_more_is_closed_after_the_idle_timeout() {
    let dir = TestDir::new();
    let mut command = posts_server(&dir, None);
    // A body that never comes: the head is complete, so only the idle timeout applies.
    command.env("HTTP_IDLE_TIMEOUT", "1s");
    let server = start_binary(&mut command).await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let head = format!(
        "POST /posts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        token_for("user-1", "ann")
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    assert!(
        closed_within(stream, Duration::from_secs(4)).await,
        "kept past the idle timeout"
    );
    server.terminate().await;
}
