//! A TCP relay a test can take down (every relayed connection cut, and nothing listening on
//! its port, as when a host goes away) and bring back up on the same port, while the servers
//! under test keep running: in front of a database, or between a posts-server and the auth
//! server whose feed it follows.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A relay to an upstream address, up until taken down.
#[derive(Debug)]
pub struct TcpRelay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    listening: watch::Receiver<bool>,
    /// How many connections are being relayed.
    relayed: watch::Sender<usize>,
    task: JoinHandle<()>,
}

impl TcpRelay {
    /// Starts relaying to `upstream`, up, on a free port of 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        Self::serve(listener, upstream)
    }

    /// Starts relaying to `upstream`, up, on a [`quiet_port`]: one that nothing else takes
    /// while the relay is down, however long.
    pub async fn start_quiet(upstream: SocketAddr) -> Self {
        let listener = rebind(SocketAddr::from(([127, 0, 0, 1], quiet_port()))).await;
        Self::serve(listener, upstream)
    }

    fn serve(listener: TcpListener, upstream: SocketAddr) -> Self {
        let addr = listener.local_addr().expect("the relay's address");
        let (up, up_seen) = watch::channel(true);
        let (listening_tx, listening) = watch::channel(true);
        let relayed = watch::Sender::new(0);
        let task = tokio::spawn(relay(listener, addr, upstream, up_seen, listening_tx, relayed.clone()));
        Self {
            addr,
            up,
            listening,
            relayed,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every relayed connection and stops listening; returns once both are done.
    pub async fn take_down(&mut self) {
        self.up.send_replace(false);
        self.listening
            .wait_for(|listening| !*listening)
            .await
            .expect("the relay is running");
        self.relayed
            .subscribe()
            .wait_for(|relayed| *relayed == 0)
            .await
            .expect("the relay holds the sender");
    }

    /// Listens again, on the same port.
    pub async fn bring_up(&mut self) {
        self.up.send_replace(true);
        self.listening
            .wait_for(|listening| *listening)
            .await
            .expect("the relay is running");
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        // Cuts the relayed connections, then stops listening.
        self.up.send_replace(false);
        self.task.abort();
    }
}

/// A port below the range the kernel hands out for port 0 and outgoing connections, so that
/// nothing else takes it while a server or relay that listens on it is down; never the same
/// twice in this process.
pub fn quiet_port() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (first, last) = (low.saturating_sub(12_000).max(10_000), low.saturating_sub(1));
    assert!(first < last, "an ephemeral port range that starts above 10000: {low}");
    let span = u64::from(last - first) + 1;
    let start = RandomState::new().hash_one(std::process::id()) % span;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(offset < span, "no free port below the ephemeral range");
        let port = first + u16::try_from((start + offset) % span).expect("within the span");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Accepts and relays while up; while down, does not listen at all.
async fn relay(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut up: watch::Receiver<bool>,
    listening: watch::Sender<bool>,
    relayed: watch::Sender<usize>,
) {
    let for_relays = up.clone();
    loop {
        loop {
            tokio::select! {
                biased;
                _ = up.wait_for(|up| !*up) => break,
                accepted = listener.accept() => {
                    if let Ok((client, _)) = accepted {
                        // Counted before the task runs, so that `take_down` cannot miss it.
                        let counted = Relayed::count(&relayed);
                        tokio::spawn(relay_one(client, upstream, for_relays.clone(), counted));
                    }
                }
            }
        }
        drop(listener);
        listening.send_replace(false);
        if up.wait_for(|up| *up).await.is_err() {
            return;
        }
        listener = rebind(addr).await;
        listening.send_replace(true);
    }
}

/// Listens on `addr` again; the port was just released, so this may take a few tries.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) if tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("listen on {addr} again ({e})"),
        }
    }
}

/// One relayed connection, counted until it ends (or its task is dropped).
struct Relayed(watch::Sender<usize>);

impl Relayed {
    fn count(relayed: &watch::Sender<usize>) -> Self {
        relayed.send_modify(|n| *n += 1);
        Self(relayed.clone())
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Relays until either side closes or the proxy goes down; then both sockets are closed.
async fn relay_one(mut client: TcpStream, upstream: SocketAddr, mut up: watch::Receiver<bool>, counted: Relayed) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        tokio::select! {
            biased;
            _ = up.wait_for(|up| !*up) => {}
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        }
    }
    drop(client);
    drop(counted);
}
