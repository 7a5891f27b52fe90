//! One server child process: its output forwarded with a prefix, its address read from its start-up line, its stop.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Result;

/// How long a server gets to shut down gracefully after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Pause between two `GET /readyz` attempts.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// What both servers print on stdout once they listen, followed by their address.
const LISTENING_MARKER: &str = "listening on http://";

/// A running server and the tasks that forward its output.
pub struct Server {
    name: &'static str,
    child: Child,
    address: watch::Receiver<Option<SocketAddr>>,
    forwarders: Vec<JoinHandle<()>>,
}

impl Server {
    /// Spawns `command`, forwarding each line it prints with `prefix`.
    pub fn spawn(name: &'static str, prefix: &'static str, mut command: Command) -> Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A safety net: if the launcher fails before stopping a server, dropping it
            // kills the server rather than leaving it holding the port.
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start {name}: {error}"))?;

        let (address_tx, address) = watch::channel(None);
        let stdout = child
            .stdout
            .take()
            .expect("stdout is piped, so the child has a handle for it");
        let stderr = child
            .stderr
            .take()
            .expect("stderr is piped, so the child has a handle for it");
        let forwarders = vec![
            tokio::spawn(forward(stdout, prefix, Stream::Stdout, Some(address_tx))),
            tokio::spawn(forward(stderr, prefix, Stream::Stderr, None)),
        ];
        Ok(Self {
            name,
            child,
            address,
            forwarders,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The address the server reports once it listens (`None` until then).
    pub fn address(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.address.clone()
    }

    /// Waits for the server to exit; cancel-safe, so it can sit in a `select!`.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Sends SIGTERM, waits for a graceful exit (killing the server after a grace period),
    /// then lets its last lines of output through.
    pub async fn stop(&mut self) -> io::Result<ExitStatus> {
        let status = match self.child.try_wait()? {
            Some(status) => status,
            None => {
                self.terminate();
                match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
                    Ok(status) => status?,
                    Err(_) => {
                        eprintln!(
                            "[dev] {} did not stop within {} s; killing it",
                            self.name,
                            STOP_GRACE.as_secs()
                        );
                        self.child.kill().await?;
                        self.child.wait().await?
                    }
                }
            }
        };
        for forwarder in self.forwarders.drain(..) {
            // A forwarder only fails if it panicked; its output is lost either way.
            let _ = forwarder.await;
        }
        Ok(status)
    }

    /// Asks the server to shut down gracefully. `kill` does it without a signal crate.
    fn terminate(&mut self) {
        // `id()` is `None` once the child has been reaped, so a recycled pid is never hit.
        let Some(pid) = self.child.id() else { return };
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !sent.is_ok_and(|status| status.success()) {
            eprintln!("[dev] could not send SIGTERM to {}; killing it", self.name);
            // The status is collected by the caller's `wait`.
            let _ = self.child.start_kill();
        }
    }
}

/// Waits for the server's address, then polls `GET /readyz` until it answers 200; returns its base URL.
pub async fn wait_ready(
    client: &reqwest::Client,
    name: &str,
    mut address: watch::Receiver<Option<SocketAddr>>,
) -> Result<String> {
    let Ok(reported) = address.wait_for(Option::is_some).await.map(|addr| *addr) else {
        // The server closed its stdout, so it has most likely exited: the supervisor
        // reports that exit with its status, which says more than an error here would.
        return std::future::pending().await;
    };
    let address = reported.ok_or_else(|| format!("{name} reported no address"))?;
    let base = format!("http://{}", reachable(address));
    let readyz = format!("{base}/readyz");
    loop {
        if let Ok(response) = client.get(&readyz).send().await
            && response.status() == reqwest::StatusCode::OK
        {
            return Ok(base);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Copies `reader` line by line to the launcher's own stdout or stderr, each line after `prefix`.
///
/// Works on bytes, so a line that is not UTF-8 is passed on instead of ending the forwarding.
async fn forward(
    reader: impl AsyncRead + Unpin,
    prefix: &'static str,
    stream: Stream,
    address: Option<watch::Sender<Option<SocketAddr>>>,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(sender) = &address
            && let Some(reported) = listening_address(&String::from_utf8_lossy(&line))
        {
            sender.send_replace(Some(reported));
        }

        let mut out = Vec::with_capacity(prefix.len() + 1 + line.len() + 1);
        out.extend_from_slice(prefix.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&line);
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        // One write per line under the lock keeps lines of the two servers whole.
        // A closed terminal is no reason to stop draining the pipe (the server would block).
        let _ = match stream {
            Stream::Stdout => io::stdout().lock().write_all(&out),
            Stream::Stderr => io::stderr().lock().write_all(&out),
        };
    }
}

/// Finds the address in a line like `auth-server listening on http://127.0.0.1:4000`,
/// also inside a log line with timestamps or colours around it.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once(LISTENING_MARKER)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A server listening on every interface is reached through loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_from_the_start_up_line() {
        assert_eq!(
            listening_address("auth-server listening on http://127.0.0.1:4000\n"),
            Some(SocketAddr::from(([127, 0, 0, 1], 4000)))
        );
        assert_eq!(
            listening_address(
                "2025-01-01T00:00:00Z  INFO posts_server: posts-server listening on http://[::1]:3000\x1b[0m"
            ),
            Some(SocketAddr::from((Ipv6Addr::LOCALHOST, 3000)))
        );
        assert_eq!(listening_address("auth-server starting"), None);
    }

    #[test]
    fn unspecified_addresses_are_reached_through_loopback() {
        assert_eq!(
            reachable(SocketAddr::from(([0, 0, 0, 0], 4000))),
            SocketAddr::from(([127, 0, 0, 1], 4000))
        );
        assert_eq!(
            reachable(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 3000))),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 3000))
        );
    }
}
