//! The soak (`bench/run soak`): mixed load on both servers for
//! `BENCH_SOAK_SECONDS` (default 600), their memory, descriptors and threads
//! sampled every ten seconds; it fails if any request fails or any of those
//! grows beyond its margin. The results go into `bench/README.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};

use crate::http::{self, Conn, Response};
use crate::process::Server;
use crate::series::{self, Margin, Series};
use crate::{Backend, Bench, Postgres, Result, env_number, report, sign_in, write_posts};

/// Load generators, each one request at a time on its own two connections.
const CONCURRENCY: usize = 16;
/// Requests per second of all generators together: a steady load well below
/// what the servers can do, so that the figures of the last minute can be
/// compared with those of the first on a shared machine.
const RATE: f64 = 400.0;
/// Sessions each generator keeps, refreshes, logs out and logs in again.
const SESSIONS: usize = 4;
/// Connections per server that send half a request head and stall.
const SLOW_CLIENTS: usize = 2;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Longer than any request should take, even a login behind a queue of hashes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The margins, chosen before the first run. Resident memory: caches that
/// fill (SQLite's page cache of 2 MiB a connection, the allocator's arenas)
/// may add a little after the first minute, a fifth is more than that.
const RSS: Margin = Margin { ratio: 1.2, plus: 0.0 };
/// Descriptors: the slow clients come and go, and a few connections may be
/// between a close and the next open when a sample is taken.
const FDS: Margin = Margin {
    ratio: 1.0,
    plus: 10.0 + SLOW_CLIENTS as f64,
};
/// Threads: tokio's blocking pool starts threads on demand and ends them after
/// ten idle seconds.
const THREADS: Margin = Margin { ratio: 1.0, plus: 4.0 };

const BEGIN: &str = "<!-- soak:begin (written by `bench/run soak`; edits here are overwritten) -->";
const END: &str = "<!-- soak:end -->";

#[derive(Clone, Copy)]
enum Op {
    Login,
    Token,
    Logout,
    Read,
    Write,
}

impl Op {
    const ALL: [Self; 5] = [Self::Login, Self::Token, Self::Logout, Self::Read, Self::Write];

    fn label(self) -> &'static str {
        match self {
            Self::Login => "POST /login",
            Self::Token => "POST /token",
            Self::Logout => "DELETE /logout",
            Self::Read => "GET /posts",
            Self::Write => "POST /posts",
        }
    }

    fn expected(self) -> u16 {
        match self {
            Self::Login | Self::Token | Self::Read => 200,
            Self::Write => 201,
            Self::Logout => 204,
        }
    }

    fn on_auth(self) -> bool {
        matches!(self, Self::Login | Self::Token | Self::Logout)
    }
}

#[derive(Default)]
struct Counters {
    answered: [AtomicU64; 5],
    failures: Mutex<BTreeMap<String, u64>>,
    slow_opened: AtomicU64,
    slow_dropped: AtomicU64,
    slow_refused: AtomicU64,
    /// Keep-alive connections the servers closed between two requests.
    idle_closed: AtomicU64,
}

impl Counters {
    fn fail(&self, kind: String) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.is_empty() {
            eprintln!("bench:   first failure: {kind}");
        }
        *failures.entry(kind).or_default() += 1;
    }

    fn answered(&self) -> [u64; 5] {
        self.answered.each_ref().map(|n| n.load(Ordering::Relaxed))
    }
}

/// One load generator: its own user, whose sessions it rotates and whose posts
/// it writes, and the reader's access token: the reader's 20 posts never
/// change, so that a read costs the same in the last minute as in the first.
struct Worker {
    addrs: [SocketAddr; 2],
    conns: [Option<Conn>; 2],
    credentials: String,
    reader: String,
    access: String,
    sessions: Vec<Option<String>>,
    rng: u64,
    written: u64,
    counters: Arc<Counters>,
}

impl Worker {
    fn next(&mut self) -> u64 {
        // xorshift64: the mix of operations needs no better randomness.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Sends `request` for `op`; the answer if it has the expected status, or
    /// the failure counted (and the connection dropped after an I/O error).
    async fn call(&mut self, op: Op, request: Vec<u8>) -> Option<Response> {
        let side = usize::from(!op.on_auth());
        let (addr, conn, counters) = (self.addrs[side], &mut self.conns[side], &self.counters);
        let sent = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let mut open = match conn.take() {
                Some(open) if !open.closed() => open,
                Some(_) => {
                    counters.idle_closed.fetch_add(1, Ordering::Relaxed);
                    Conn::open(addr).await?
                }
                None => Conn::open(addr).await?,
            };
            let response = open.send(&request).await?;
            // Kept only after a whole answer: after an error or a timeout, the next request opens another.
            *conn = Some(open);
            Ok::<_, std::io::Error>(response)
        })
        .await;
        let kind = match sent {
            Ok(Ok(response)) if response.status == op.expected() => {
                self.counters.answered[op as usize].fetch_add(1, Ordering::Relaxed);
                return Some(response);
            }
            Ok(Ok(response)) => format!(
                "{}: {} {}",
                op.label(),
                response.status,
                http::field(&response.body, "error").unwrap_or_default()
            ),
            Ok(Err(err)) => format!("{}: {}", op.label(), err.kind()),
            Err(_) => format!("{}: no answer within {} s", op.label(), REQUEST_TIMEOUT.as_secs()),
        };
        self.counters.fail(kind);
        None
    }

    /// Keeps the session's new refresh token in `slot`, and its access token for writes.
    fn keep(&mut self, op: Op, slot: usize, response: &Response) {
        match (
            http::field(&response.body, "accessToken"),
            http::field(&response.body, "refreshToken"),
        ) {
            (Some(access), Some(refresh)) => {
                self.access = access.to_owned();
                self.sessions[slot] = Some(refresh.to_owned());
            }
            _ => self.counters.fail(format!("{}: no tokens in the answer", op.label())),
        }
    }

    /// One operation: 45 % reads, 15 % writes, 40 % on a session (a login if
    /// the slot is empty; else 95 % rotations, 5 % logouts).
    async fn step(&mut self) {
        let roll = self.next() % 100;
        if roll < 45 {
            let request = http::request("GET", "/posts", Some(&self.reader), None);
            self.call(Op::Read, request).await;
        } else if roll < 60 {
            self.written += 1;
            let json = format!(
                "{{\"title\":\"Soak post {}\",\"body\":\"Written during the soak, one of many.\"}}",
                self.written
            );
            let request = http::request("POST", "/posts", Some(&self.access), Some(&json));
            self.call(Op::Write, request).await;
        } else {
            let slot = usize::try_from(self.next() % SESSIONS as u64).unwrap_or(0);
            let token = self.sessions[slot].take();
            let logout = self.next() % 100 < 5;
            match token {
                None => {
                    let request = http::request("POST", "/login", None, Some(&self.credentials));
                    if let Some(response) = self.call(Op::Login, request).await {
                        self.keep(Op::Login, slot, &response);
                    }
                }
                Some(token) if logout => {
                    let json = format!("{{\"token\":\"{token}\"}}");
                    self.call(Op::Logout, http::request("DELETE", "/logout", None, Some(&json)))
                        .await;
                }
                Some(token) => {
                    let json = format!("{{\"token\":\"{token}\"}}");
                    if let Some(response) = self
                        .call(Op::Token, http::request("POST", "/token", None, Some(&json)))
                        .await
                    {
                        self.keep(Op::Token, slot, &response);
                    }
                }
            }
        }
    }

    /// Steps at `RATE / CONCURRENCY` a second from `first` until `until`.
    async fn run(mut self, first: Instant, until: Instant) {
        let mut ticks = tokio::time::interval_at(first, Duration::from_secs_f64(CONCURRENCY as f64 / RATE));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while ticks.tick().await < until {
            self.step().await;
        }
    }
}

/// A connection that sends half a request head and stalls, re-opened each time
/// the server drops it, until `until`.
async fn slow_client(addr: SocketAddr, until: Instant, counters: Arc<Counters>) {
    const HALF: &[u8] = b"GET /posts HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    while Instant::now() < until {
        let opened = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.write_all(HALF).await?;
            Ok::<_, std::io::Error>(stream)
        };
        match opened.await {
            Ok(mut stream) => {
                counters.slow_opened.fetch_add(1, Ordering::Relaxed);
                let mut sink = [0; 512];
                let closed = async {
                    // Whatever the server answers (a 408, say), until it closes.
                    while let Ok(1..) = stream.read(&mut sink).await {}
                };
                if tokio::time::timeout_at(until, closed).await.is_ok() {
                    counters.slow_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                counters.slow_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Not a busy loop, should a server drop such connections at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the first series in a `/metrics` page whose name speaks of
/// tasks (a tokio task gauge), if the server exports one.
fn task_gauge(metrics: &str) -> Option<f64> {
    metrics.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        let name = name.split('{').next()?;
        if name.contains("tasks") {
            value.parse().ok()
        } else {
            None
        }
    })
}

async fn tasks_now(server: &Server) -> Option<f64> {
    let response = http::once(server.addr, &http::request("GET", "/metrics", None, None))
        .await
        .ok()?;
    task_gauge(&response.body)
}

/// A server and the series sampled from it.
struct Watched {
    server: Server,
    rss: Series,
    fds: Series,
    threads: Series,
    tasks: Option<Series>,
}

impl Watched {
    async fn new(server: Server) -> Self {
        let name = server.name.clone();
        let tasks = tasks_now(&server)
            .await
            .map(|_| Series::new(&name, "tokio tasks", Some(FDS)));
        Self {
            rss: Series::new(&name, "resident memory (MiB)", Some(RSS)),
            fds: Series::new(&name, "open file descriptors", Some(FDS)),
            threads: Series::new(&name, "threads", Some(THREADS)),
            tasks,
            server,
        }
    }

    async fn sample(&mut self) -> Result<()> {
        self.rss.values.push(self.server.rss_mib()?);
        self.fds.values.push(self.server.open_fds()? as f64);
        self.threads.values.push(self.server.threads()? as f64);
        if let Some(tasks) = &mut self.tasks {
            tasks.values.push(tasks_now(&self.server).await.unwrap_or(f64::NAN));
        }
        Ok(())
    }
}

/// What one soak measured.
struct Outcome {
    backend: Backend,
    elapsed: Duration,
    series: Vec<Series>,
    answered: [u64; 5],
    failures: BTreeMap<String, u64>,
    slow: [u64; 3],
    idle_closed: u64,
    tasks_exported: bool,
}

impl Outcome {
    fn passed(&self) -> bool {
        self.failures.is_empty() && self.series.iter().all(Series::flat)
    }
}

pub async fn run() -> Result<()> {
    let seconds = env_number("BENCH_SOAK_SECONDS", 600)?.max(10);
    // Whole sampling intervals, so that the last sample closes the load.
    let duration = Duration::from_secs(seconds.div_ceil(10) * 10);
    // Readers keep their first access token for the whole soak.
    let bench = Bench::new(&format!("{}s", duration.as_secs() + 600))?;
    let wanted = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let backends: Vec<Backend> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| wanted.split(',').any(|w| w.trim().eq_ignore_ascii_case(b.name())))
        .collect();
    let postgres = if backends.contains(&Backend::Postgres) {
        Some(Postgres::connect().await?)
    } else {
        None
    };
    let mut outcomes = Vec::new();
    for backend in backends {
        eprintln!(
            "bench: soak of {} s on {}: {RATE} requests/s from {CONCURRENCY} connections per server, \
             {SLOW_CLIENTS} slow clients per server",
            duration.as_secs(),
            backend.name()
        );
        outcomes.push(soak(&bench, postgres.as_ref(), backend, duration).await?);
    }
    if let Some(pg) = &postgres {
        pg.drop_all().await?;
    }
    std::fs::remove_dir_all(&bench.dir)?;
    let text = markdown(&outcomes);
    println!("{text}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    report::write_between(&path, BEGIN, END, &text)?;
    eprintln!("bench: wrote {}", path.display());
    if outcomes.iter().all(Outcome::passed) {
        Ok(())
    } else {
        Err("the soak failed: see the table".into())
    }
}

async fn soak(bench: &Bench, pg: Option<&Postgres>, backend: Backend, duration: Duration) -> Result<Outcome> {
    let auth = bench
        .auth("auth-server", &bench.database(pg, backend, "soak_auth").await?)
        .await?;
    let posts = bench
        .posts("posts-server", &bench.database(pg, backend, "soak_posts").await?)
        .await?;
    let addrs = [auth.addr, posts.addr];
    let counters = Arc::new(Counters::default());
    let (reader, _) = sign_in(auth.addr, "soak-reader").await?;
    write_posts(posts.addr, &reader).await?;
    let mut workers = Vec::new();
    for i in 0..CONCURRENCY {
        let username = format!("soak-user-{i}");
        let (access, refresh) = sign_in(auth.addr, &username).await?;
        let credentials = format!("{{\"username\":\"{username}\",\"password\":\"a bench password\"}}");
        // Every session live from the start, so that the first minute has the mix of the last.
        let mut sessions = vec![Some(refresh)];
        while sessions.len() < SESSIONS {
            let login = http::once(auth.addr, &http::request("POST", "/login", None, Some(&credentials))).await?;
            let refresh = http::field(&login.body, "refreshToken")
                .ok_or_else(|| format!("login: {} {}", login.status, login.body))?;
            sessions.push(Some(refresh.to_owned()));
        }
        workers.push(Worker {
            addrs,
            conns: [None, None],
            credentials,
            reader: reader.clone(),
            access,
            sessions,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            written: 0,
            counters: counters.clone(),
        });
    }
    let mut watched = [Watched::new(auth).await, Watched::new(posts).await];
    let tasks_exported = watched.iter().all(|w| w.tasks.is_some());
    let mut rates: Vec<Series> = Op::ALL
        .iter()
        .map(|op| {
            let server = if op.on_auth() { "auth-server" } else { "posts-server" };
            Series::new(server, &format!("{} answered per second", op.label()), None)
        })
        .collect();

    let start = Instant::now();
    let until = start + duration;
    let spacing = Duration::from_secs_f64(1.0 / RATE);
    let mut tasks = Vec::new();
    for (i, worker) in workers.into_iter().enumerate() {
        tasks.push(tokio::spawn(worker.run(start + spacing * u32::try_from(i)?, until)));
    }
    for addr in addrs {
        for _ in 0..SLOW_CLIENTS {
            tasks.push(tokio::spawn(slow_client(addr, until, counters.clone())));
        }
    }
    let mut ticks = tokio::time::interval_at(start, SAMPLE_EVERY);
    let (mut before, mut then) = ([0; 5], start);
    loop {
        let at = ticks.tick().await;
        for w in &mut watched {
            w.sample().await?;
        }
        if at > start {
            let now = counters.answered();
            let seconds = (at - then).as_secs_f64();
            for (op, series) in rates.iter_mut().enumerate() {
                series.values.push((now[op] - before[op]) as f64 / seconds);
            }
            (before, then) = (now, at);
            let line: Vec<String> = Op::ALL
                .iter()
                .zip(now)
                .map(|(op, n)| format!("{} {n}", op.label()))
                .collect();
            eprintln!("bench:   {:>4} s: {}", (at - start).as_secs(), line.join(", "));
        }
        if at >= until {
            break;
        }
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = start.elapsed();
    let mut series = Vec::new();
    for w in watched {
        series.extend([w.rss, w.fds, w.threads]);
        series.extend(w.tasks);
        w.server.stop().await?;
    }
    series.extend(rates);
    let failures = counters
        .failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(Outcome {
        backend,
        elapsed,
        series,
        answered: counters.answered(),
        failures,
        slow: [&counters.slow_opened, &counters.slow_dropped, &counters.slow_refused]
            .map(|n| n.load(Ordering::Relaxed)),
        idle_closed: counters.idle_closed.load(Ordering::Relaxed),
        tasks_exported,
    })
}

fn figure(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The section of `bench/README.md`: for each backend, the table, sparklines and totals.
fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let commit = report::command("git", &["rev-parse", "--short", "HEAD"]);
    let date = report::command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let build = if cfg!(debug_assertions) {
        "debug builds (figures not comparable)"
    } else {
        "release builds"
    };
    let _ = writeln!(
        out,
        "Run of {date} at commit `{commit}`, {build}, on {cores} shared cores: {RATE} requests/s \
         from {CONCURRENCY} generators, {SLOW_CLIENTS} slow clients per server.\n"
    );
    for o in outcomes {
        let passed = if o.passed() { "passed" } else { "**failed**" };
        let _ = writeln!(
            out,
            "**{}**, {:.0} s of load: {passed}.\n",
            o.backend.name(),
            o.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| server | series | start | end | min | max | 1st min. | last min. | margin | | every 10 s, from zero to the max |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for s in &o.series {
            let m = s.summary();
            let (margin, verdict) = match s.margin {
                Some(margin) if s.flat() => (margin.describe(), "flat"),
                Some(margin) => (margin.describe(), "**grew**"),
                None => (String::new(), ""),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {margin} | {verdict} | {} |",
                s.server,
                s.name,
                figure(m.start),
                figure(m.end),
                figure(m.min),
                figure(m.max),
                figure(m.first_minute),
                figure(m.last_minute),
                series::sparkline(&s.values)
            );
        }
        let totals: Vec<String> = Op::ALL
            .iter()
            .zip(o.answered)
            .map(|(op, n)| format!("{} {n}", op.label()))
            .collect();
        let failures: Vec<String> = o.failures.iter().map(|(kind, n)| format!("{kind} × {n}")).collect();
        let failures = if failures.is_empty() {
            "none".to_owned()
        } else {
            failures.join(", ")
        };
        let [opened, dropped, refused] = o.slow;
        let _ = writeln!(
            out,
            "\nAnswered as expected: {}. Failed: {failures}. Slow clients: {opened} connections \
             opened, {dropped} closed by the servers, {refused} not accepted. Keep-alive \
             connections of the generators closed by the servers between two requests (and \
             opened again): {}.",
            totals.join(", "),
            o.idle_closed
        );
        if !o.tasks_exported {
            let _ = writeln!(
                out,
                "Neither server exports a tokio task count in `/metrics`: threads are shown instead."
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_gauge_is_found_by_name_and_its_absence_is_none() {
        let page = "# HELP tokio_alive_tasks Tasks.\n# TYPE tokio_alive_tasks gauge\n\
                    http_requests_total{route=\"/posts\"} 12\ntokio_alive_tasks 37\n";
        assert_eq!(task_gauge(page), Some(37.0));
        assert_eq!(task_gauge("http_requests_total{route=\"/tasks\"} 3\n"), None);
        assert_eq!(task_gauge(""), None);
    }
}
