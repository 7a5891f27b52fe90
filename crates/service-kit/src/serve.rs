//! Serving a router until SIGTERM or Ctrl-C, finishing in-flight requests, without letting slow
//! or idle clients hold the server: a time limit on each request's head, on silence, and a cap
//! on connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use clap::Args;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::duration::parse_positive_duration;

/// How both servers keep their connections.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct HttpArgs {
    /// How long a client may take to send a request's head (request line and headers), counted
    /// from when the server waits for it: on a new connection, and after each answer on a
    /// kept-alive one. A slower client is disconnected, and so is a kept-alive connection that
    /// sends no new request within this time.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub http_header_timeout: Duration,

    /// A connection on which no byte moves either way for this long is closed: a request body
    /// that stalls, or a client that stops reading its answer.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub http_idle_timeout: Duration,

    /// Most connections served at once; a connection beyond them is closed as soon as it is
    /// accepted, so the server keeps accepting. Default: three quarters of the open-files limit
    /// (which the server raises to its hard limit at start), at most 10000.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_connections: Option<u32>,
}

impl Default for HttpArgs {
    /// The same values as the command line's defaults.
    fn default() -> Self {
        Self {
            http_header_timeout: Duration::from_secs(10),
            http_idle_timeout: Duration::from_secs(30),
            http_max_connections: None,
        }
    }
}

impl HttpArgs {
    /// The connection cap: the setting, or the default from the open-files limit.
    fn max_connections(&self) -> usize {
        match self.http_max_connections {
            Some(cap) => cap as usize,
            None => default_max_connections(open_files_limit()),
        }
    }
}

/// The most connections served by default: room is left for the database, the log and the
/// listener, and memory stays bounded whatever the limit.
fn default_max_connections(open_files: u64) -> usize {
    usize::try_from(open_files / 4 * 3)
        .unwrap_or(usize::MAX)
        .clamp(1, 10_000)
}

/// Raises this process's soft limit on open files to its hard limit (as Go's runtime and nginx's
/// `worker_rlimit_nofile` do: the common soft default of 1,024 is a few hundred idle clients),
/// once per process, logging the figure; returns the limit in force.
pub fn open_files_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open files limit raised to the hard limit");
            limit
        }
        Err(err) => {
            let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
            tracing::warn!(%err, limit, "cannot raise the open files limit");
            limit
        }
    })
}

/// Serves until `shutdown` resolves, then stops accepting, closes idle connections and lets the
/// requests in flight finish (each is bounded by the request timeout).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: HttpArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // The recorder is in place before the first request is accepted, or that request would
    // be counted by no one.
    crate::metrics::install();
    let upkeep = tokio::spawn(crate::metrics::upkeep());
    let cap = http.max_connections();
    tracing::info!(
        max_connections = cap,
        header_timeout = %crate::duration::format_duration(http.http_header_timeout),
        idle_timeout = %crate::duration::format_duration(http.http_idle_timeout),
        "serving"
    );
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(http.http_header_timeout);
    let mut refusals = Throttle::default();
    // Every handler made into its route (with the middleware around it) once, now, as
    // `axum::serve` does through `into_make_service`: a `Router<()>` served as it is does that
    // again for every request.
    let router: Router = router.with_state(());
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin, and go on.
                    if refusals.due() {
                        tracing::warn!(%err, "accepting a connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics::counter!(crate::metrics::HTTP_CONNECTIONS_REFUSED).increment(1);
            if refusals.due() {
                tracing::warn!(max_connections = cap, "connection cap reached: closing new connections");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let io = TokioIo::new(Watched {
            io: stream,
            activity: Arc::clone(&activity),
        });
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        let connection = graceful.watch(builder.serve_connection(io, TowerToHyperService::new(service)));
        let idle = http.http_idle_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            metrics::gauge!(crate::metrics::HTTP_CONNECTIONS_OPEN).increment(1.0);
            tokio::select! {
                served = connection => if let Err(err) = served {
                    tracing::debug!(%err, %remote, "connection ended with an error");
                },
                () = activity.silent_for(idle) => tracing::debug!(%remote, "silent connection closed"),
            }
            metrics::gauge!(crate::metrics::HTTP_CONNECTIONS_OPEN).decrement(1.0);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    upkeep.abort();
    Ok(())
}

/// At most one line per [`crate::middleware::BURST_WINDOW`] about a condition that repeats.
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        let due = self
            .0
            .is_none_or(|last| now.duration_since(last) >= crate::middleware::BURST_WINDOW);
        if due {
            self.0 = Some(now);
        }
        due
    }
}

/// When a byte last moved on a connection, in milliseconds since it was accepted.
struct Activity {
    accepted: tokio::time::Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            accepted: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(elapsed, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `quiet`.
    async fn silent_for(&self, quiet: Duration) {
        loop {
            let last = self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + quiet;
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A connection that notes in its [`Activity`] every read or write that moved bytes.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled, so a signal that
/// arrives any time after start-up stops the server gracefully instead of
/// killing it: call it before announcing the port.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => std::future::pending::<()>().await,
            }
            tracing::info!("shutdown signal received, finishing in-flight requests");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received, finishing in-flight requests");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_below_the_open_files_limit_and_is_bounded() {
        assert_eq!(default_max_connections(1024), 768);
        assert_eq!(default_max_connections(4096), 3072);
        assert_eq!(default_max_connections(1 << 20), 10_000);
        assert_eq!(default_max_connections(0), 1);
    }

    #[tokio::test]
    async fn silence_is_measured_from_the_last_byte_that_moved() {
        let activity = Activity::new();
        let quiet = Duration::from_millis(400);
        tokio::time::sleep(Duration::from_millis(250)).await;
        activity.touch();
        let silent = tokio::time::timeout(Duration::from_millis(300), activity.silent_for(quiet)).await;
        assert!(silent.is_err(), "a byte 250 ms in: not silent for 400 ms 300 ms later");
        tokio::time::timeout(Duration::from_millis(500), activity.silent_for(quiet))
            .await
            .expect("silent 400 ms after the last byte");
    }
}
