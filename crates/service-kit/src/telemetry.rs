//! Log set-up: a `RUST_LOG`-style filter, `info` by default; plain text or one JSON object per
//! line, written to stdout in batches by a thread of its own.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

mod plain;

/// How log lines are written (`LOG_FORMAT`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line per event, the span fields in front.
    #[default]
    Text,
    /// For log collectors: one JSON object per line, with the fields of every span the event is in.
    Json,
}

/// How long a line may wait for the writer thread: what arrives meanwhile goes out in one write.
const BATCH_TIME: Duration = Duration::from_millis(50);

/// A batch this large is written at once, without waiting for [`BATCH_TIME`].
const BATCH_BYTES: usize = 64 * 1024;

/// The most bytes waiting for the writer thread (some 5,000 access lines); a line that would
/// go beyond is dropped and counted.
const MAX_WAITING: usize = 1024 * 1024;

/// Installs the global subscriber once, writing text; later calls (tests) are no-ops. The
/// writer thread lives as long as the process, and nothing waits for its last lines at exit:
/// for tests, which never read them.
pub fn init(filter: &str) {
    static KEPT: OnceLock<LogGuard> = OnceLock::new();
    let guard = init_with(filter, LogFormat::Text);
    let _ = KEPT.set(guard);
}

/// Installs the global subscriber once, in `format`; later calls (tests) are no-ops.
/// An unparsable filter falls back to `info` rather than silencing the logs.
/// Colours only for text written to a terminal, so log files stay plain; plain text is written
/// by a formatter of our own ([`plain`]), the same lines at a fraction of the cost.
///
/// Keep the guard until the process ends: dropping it writes out the lines still waiting.
pub fn init_with(filter: &str, format: LogFormat) -> LogGuard {
    let ansi = std::io::stdout().is_terminal();
    let writer = BatchWriter::default();
    let registry = tracing_subscriber::registry().with(level_filter(filter));
    let installed = match format {
        LogFormat::Text if ansi => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(true)
                    .with_writer(writer.clone()),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(plain::PlainLine)
                    .fmt_fields(plain::PlainFields)
                    .with_ansi(false)
                    .with_writer(writer.clone()),
            )
            .try_init(),
        // `spans` lists every span the event is in, outermost first, each with its fields:
        // the request span's method, route, request id, status and latency among them.
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_target(false)
                    .with_writer(writer.clone()),
            )
            .try_init(),
    };
    if installed.is_err() {
        // Another subscriber was installed first: this writer has nothing to write.
        return LogGuard { thread: None, writer };
    }
    let _ = INSTALLED.set(writer.clone());
    let thread = {
        let writer = writer.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(&mut std::io::stdout()))
            .ok()
    };
    LogGuard { thread, writer }
}

/// The filter for `filter`: levels per target (`info`, `auth_server=debug,info`) with
/// [`Targets`], which decides once per call site; anything more (span or field directives) with
/// [`EnvFilter`], which also looks every span up in a table shared by all threads, under a
/// lock, each time a request's span is entered or left.
fn level_filter(filter: &str) -> Box<dyn Layer<Registry> + Send + Sync> {
    match targets(filter) {
        Some(targets) => Box::new(targets),
        None => Box::new(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"))),
    }
}

/// `filter` as levels per target, when that is all it says: every comma-separated part a
/// `level`, a `target=level` or a `target`, none empty (which [`EnvFilter`] would skip) and
/// none with a span or field directive (`[span{field=value}]`).
fn targets(filter: &str) -> Option<Targets> {
    let simple = filter
        .split(',')
        .all(|part| !part.trim().is_empty() && !part.contains(['[', ']', '{', '}']));
    if simple { filter.parse().ok() } else { None }
}

/// Log lines dropped so far because the writer thread had fallen [`MAX_WAITING`] behind.
pub fn dropped_lines() -> u64 {
    INSTALLED
        .get()
        .map_or(0, |writer| writer.shared.dropped.load(Ordering::Relaxed))
}

/// The writer of the installed subscriber.
static INSTALLED: OnceLock<BatchWriter> = OnceLock::new();

/// The log writer's thread: dropping the guard writes out every line still waiting, then ends
/// the thread. Hold it until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    thread: Option<JoinHandle<()>>,
    writer: BatchWriter,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.writer.lock().stopping = true;
        self.writer.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where the subscriber writes: each line is appended to a buffer under a lock, on the thread
/// that logs it, and a thread of its own writes the buffer out once [`BATCH_TIME`] has passed
/// since its first line, or once it holds [`BATCH_BYTES`]. A request's only cost is formatting
/// its line and copying it: no system call, and no wake-up of the writer per line (one per
/// batch), which matters at tens of thousands of lines a second on a few cores.
///
/// When the writer thread is [`MAX_WAITING`] behind (stdout blocked: a full pipe, a stalled
/// disk), new lines are dropped and counted ([`dropped_lines`], and `log_lines_dropped_total`
/// in `/metrics`) rather than made to wait or to grow memory: a server that slows every
/// request down, or runs out of memory, because its log reader stalls is worse than one that
/// loses some access lines and says how many.
#[derive(Clone, Default)]
struct BatchWriter {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// Signalled when the first line of a batch arrives, when a batch is full, and at the stop.
    wake: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    stopping: bool,
}

impl BatchWriter {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.shared.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `line` (one whole line: the subscriber writes each in one call) or drops it.
    fn append(&self, line: &[u8]) {
        let mut waiting = self.lock();
        let before = waiting.bytes.len();
        if before + line.len() > MAX_WAITING {
            drop(waiting);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        waiting.bytes.extend_from_slice(line);
        let after = waiting.bytes.len();
        drop(waiting);
        if before == 0 || (before < BATCH_BYTES && after >= BATCH_BYTES) {
            self.shared.wake.notify_one();
        }
    }

    /// The writer thread: waits for a first line, lets the batch fill for [`BATCH_TIME`] (or
    /// up to [`BATCH_BYTES`]), writes it out in one go, and again, until the guard is dropped.
    fn run(&self, out: &mut impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut waiting = self.lock();
            while waiting.bytes.is_empty() && !waiting.stopping {
                waiting = self.shared.wake.wait(waiting).unwrap_or_else(PoisonError::into_inner);
            }
            if !waiting.stopping && waiting.bytes.len() < BATCH_BYTES {
                waiting = self
                    .shared
                    .wake
                    .wait_timeout_while(waiting, BATCH_TIME, |w| w.bytes.len() < BATCH_BYTES && !w.stopping)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut waiting.bytes, &mut batch);
            let stopping = waiting.stopping;
            drop(waiting);
            // Nowhere to report a failed write to but the logs themselves: the lines are lost.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            if stopping && self.lock().bytes.is_empty() {
                return;
            }
        }
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = &'a BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Write for &BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn levels_per_target_are_filtered_without_env_filter_and_the_rest_with_it() {
        let per_target = targets("auth_server=debug,info").expect("levels per target");
        assert!(per_target.would_enable("auth_server::routes", &Level::DEBUG));
        assert!(!per_target.would_enable("sqlx::query", &Level::DEBUG));
        assert!(per_target.would_enable("sqlx::query", &Level::INFO));
        let warn = targets("warn").expect("a level");
        assert!(!warn.would_enable("service_kit::middleware", &Level::INFO));
        assert!(warn.would_enable("service_kit::middleware", &Level::WARN));
        for other in [
            "",
            " ",
            "info,",
            "[request]=debug",
            "info,[request{route=/posts}]=trace",
        ] {
            assert!(targets(other).is_none(), "{other:?} goes to EnvFilter");
        }
    }

    /// Everything written before the guard is dropped is written out, in order, once.
    #[test]
    fn every_line_is_written_once_in_order_by_the_stop() {
        let writer = BatchWriter::default();
        let out = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (writer, out) = (writer.clone(), Arc::clone(&out));
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                writer.run(&mut bytes);
                *out.lock().expect("not poisoned") = bytes;
            })
        };
        let mut expected = Vec::new();
        for i in 0..20_000 {
            let line = format!("line {i}\n");
            (&writer).write_all(line.as_bytes()).expect("written");
            expected.extend_from_slice(line.as_bytes());
        }
        let guard = LogGuard {
            thread: Some(thread),
            writer: writer.clone(),
        };
        drop(guard);
        assert_eq!(*out.lock().expect("not poisoned"), expected);
        assert_eq!(writer.shared.dropped.load(Ordering::Relaxed), 0);
    }

    /// With no writer thread to empty it, the buffer holds [`MAX_WAITING`] bytes and counts
    /// every line beyond.
    #[test]
    fn lines_beyond_the_limit_are_dropped_and_counted() {
        let writer = BatchWriter::default();
        let line = [b'x'; 1000];
        for _ in 0..(MAX_WAITING / line.len() + 10) {
            (&writer).write_all(&line).expect("written");
        }
        assert_eq!(writer.lock().bytes.len(), MAX_WAITING / line.len() * line.len());
        assert_eq!(writer.shared.dropped.load(Ordering::Relaxed), 10);
    }
}
