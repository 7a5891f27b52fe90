//! `bench`: measures the release builds of both servers and writes the results
//! table into `bench/README.md`. Run it through `bench/run`, which installs
//! `wrk` if missing, runs the criterion benchmarks and builds everything first.
//!
//! Settings: `BENCH_SECONDS` (one round, default 5), `BENCH_ROUNDS` (default 5),
//! `BENCH_POSTGRES_URL` (a server where it may create and drop `bench_*`
//! databases; default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `BENCH_ONLY` (some of `startup,posts,stack,eddsa,token,login,memory,revocation`: a partial
//! run for profiling, printed but not written to the README, except for `stack` and
//! `revocation`, whose tables are their own), `BENCH_BACKENDS` (`sqlite`, `postgresql`: printed only).
//!
//! `bench soak` (or `BENCH_SOAK=1`) runs the soak instead: see `soak.rs`.

mod eddsa;
mod http;
mod load;
mod process;
mod report;
mod revocation;
mod seed;
mod series;
mod soak;
mod stack;
mod wrk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use process::Server;
use report::{Report, Target};

pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Sessions that rotate during a `POST /token` measurement.
const ACTIVE_SESSIONS: u64 = 1000;
/// Connections the rotation load uses; each takes its share of the sessions in turn.
const ROTATION_CONNECTIONS: usize = 16;
/// Connections of the `GET /posts` and ceiling loads.
const POSTS_CONNECTIONS: u32 = 32;
/// The concurrent keep-alive connections of the memory measurement.
const MANY_CONNECTIONS: u32 = 1000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let soak = std::env::args().nth(1).as_deref() == Some("soak") || std::env::var("BENCH_SOAK").as_deref() == Ok("1");
    let done = if soak { soak::run().await } else { run().await };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Bench {
    dir: PathBuf,
    access_secret: String,
    refresh_secret: String,
    /// `ACCESS_TOKEN_TTL` of the auth servers.
    access_ttl: String,
    round: Duration,
    rounds: usize,
    auth_bin: PathBuf,
    posts_bin: PathBuf,
    ceiling_bin: PathBuf,
    bare_bin: PathBuf,
    bare_mimalloc_bin: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

fn secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn env_number(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse().map_err(|_| format!("{name} must be a whole number"))?),
        Err(_) => Ok(default),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The median of each figure over rounds.
fn medians(rounds: &[load::Figures]) -> load::Figures {
    load::Figures {
        requests_per_sec: median(rounds.iter().map(|f| f.requests_per_sec).collect()),
        p50_ms: median(rounds.iter().map(|f| f.p50_ms).collect()),
        p99_ms: median(rounds.iter().map(|f| f.p99_ms).collect()),
        failures: rounds.iter().map(|f| f.failures).sum(),
    }
}

async fn run() -> Result<()> {
    let started = Instant::now();
    let bench = Bench::new("1h")?;
    let dir = bench.dir.clone();
    let mut report = Report::new(bench.round, bench.rounds);
    let only = std::env::var("BENCH_ONLY").ok();
    // A partial run is for profiling: it needs no criterion run first.
    if only.is_none() {
        report::criterion(&mut report)?;
    }
    let postgres = Postgres::connect().await;
    let backends: Vec<Backend> = match &postgres {
        Ok(_) => vec![Backend::Sqlite, Backend::Postgres],
        Err(err) => {
            eprintln!("bench: PostgreSQL is not reachable ({err}); its rows are left out");
            report.note(format!("PostgreSQL was not reachable ({err}): its rows are missing."));
            vec![Backend::Sqlite]
        }
    };
    let postgres = postgres.ok();
    let backends: Vec<Backend> = match std::env::var("BENCH_BACKENDS") {
        Ok(only) => backends
            .into_iter()
            .filter(|b| only.split(',').any(|o| o.trim().eq_ignore_ascii_case(b.name())))
            .collect(),
        Err(_) => backends,
    };

    let wanted = |part: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|p| p.trim() == part))
    };
    if wanted("startup") {
        eprintln!("bench: start-up and idle memory");
        startup(&bench, &mut report).await?;
    }
    for &backend in backends.iter().filter(|_| wanted("posts")) {
        eprintln!("bench: GET /posts against the ceiling on {}", backend.name());
        posts_vs_ceiling(&bench, postgres.as_ref(), backend, &mut report).await?;
    }
    if wanted("eddsa") && backends.contains(&Backend::Sqlite) {
        eprintln!("bench: GET /posts with EdDSA access tokens against HS256");
        eddsa::run(&bench, &mut report).await?;
    }
    if wanted("stack") && backends.contains(&Backend::Sqlite) {
        eprintln!("bench: GET /posts against bare axum, layer by layer, at RUST_LOG=info and warn");
        // A table of its own, written by `BENCH_ONLY=stack` runs too.
        let stack_started = Instant::now();
        let mut stack_report = Report::new(bench.round, bench.rounds);
        stack::run(&bench, &mut stack_report).await?;
        stack_report.elapsed(stack_started.elapsed());
        println!("{}", stack_report.table());
        if std::env::var_os("BENCH_BACKENDS").is_none() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
            report::write_between(&path, stack::BEGIN, stack::END, &stack_report.table())?;
            eprintln!("bench: wrote the stack table in {}", path.display());
        }
    }
    if wanted("revocation") && backends.contains(&Backend::Sqlite) {
        eprintln!("bench: ended sessions: logout to 403, and GET /posts holding 100,000 of them");
        // A table of its own, written by `BENCH_ONLY=revocation` runs too.
        let part_started = Instant::now();
        let mut part_report = Report::new(bench.round, bench.rounds);
        revocation::run(&bench, &mut part_report).await?;
        part_report.elapsed(part_started.elapsed());
        println!("{}", part_report.table());
        if std::env::var_os("BENCH_BACKENDS").is_none() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
            report::write_between(&path, revocation::BEGIN, revocation::END, &part_report.table())?;
            eprintln!("bench: wrote the revocation table in {}", path.display());
        }
    }
    let mut sqlite_sessions = None;
    for &backend in backends.iter().filter(|_| wanted("token") || wanted("memory")) {
        eprintln!(
            "bench: POST /token with 1,000 and 1,000,000 stored sessions on {}",
            backend.name()
        );
        let kept = rotation(&bench, postgres.as_ref(), backend, &mut report).await?;
        if backend == Backend::Sqlite {
            sqlite_sessions = Some(kept);
        }
    }
    if wanted("login") {
        eprintln!("bench: isolation from a /login flood");
        isolation(&bench, &mut report).await?;
    }
    if let Some((url, tokens)) = sqlite_sessions.filter(|_| wanted("memory")) {
        eprintln!("bench: 1,000 connections");
        connections(&bench, &url, tokens, &mut report).await?;
    }
    if let Some(pg) = &postgres {
        pg.drop_all().await?;
    }
    std::fs::remove_dir_all(&dir)?;
    report.elapsed(started.elapsed());
    println!("{}", report.table());
    if only.is_none() && std::env::var_os("BENCH_BACKENDS").is_none() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        report.write(&path)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// The PostgreSQL server the `bench_*` databases are made on.
struct Postgres {
    admin: String,
}

impl Postgres {
    async fn connect() -> Result<Self> {
        use sqlx::Connection as _;
        let admin = std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let connect = sqlx::PgConnection::connect(&admin);
        let db = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| "no answer within 5 s")??;
        db.close().await?;
        Ok(Self { admin })
    }

    /// A new, empty database `bench_<name>`, and its URL.
    async fn fresh(&self, name: &str) -> Result<String> {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(&self.admin).await?;
        let database = format!("bench_{name}");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&mut db)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut db)
            .await?;
        db.close().await?;
        let base = self
            .admin
            .rsplit_once('/')
            .map_or(self.admin.as_str(), |(base, _)| base);
        Ok(format!("{base}/{database}"))
    }

    async fn drop_all(&self) -> Result<()> {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(&self.admin).await?;
        let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
            .fetch_all(&mut db)
            .await?;
        for (name,) in names {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut db)
                .await?;
        }
        db.close().await?;
        Ok(())
    }
}

impl Bench {
    /// The settings, binaries and a new temporary folder for the databases and logs.
    fn new(access_ttl: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("auth-posts-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            access_secret: secret(),
            refresh_secret: secret(),
            access_ttl: access_ttl.to_owned(),
            round: Duration::from_secs(env_number("BENCH_SECONDS", 5)?),
            rounds: usize::try_from(env_number("BENCH_ROUNDS", 5)?)?,
            auth_bin: process::binary("auth-server")?,
            posts_bin: process::binary("posts-server")?,
            ceiling_bin: process::binary("posts-ceiling")?,
            bare_bin: process::binary("posts-bare")?,
            bare_mimalloc_bin: process::binary("posts-bare-mimalloc")?,
        })
    }

    fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.dir.join(format!("{name}.db")).display())
    }

    fn common(&self) -> Vec<(String, String)> {
        [
            ("ACCESS_TOKEN_SECRET", self.access_secret.as_str()),
            ("ACCESS_TOKEN_TTL", self.access_ttl.as_str()),
            ("RATE_LIMITS", "off"),
            ("RUST_LOG", "warn"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// The common settings with `env` over them; with `ACCESS_TOKEN_ALG` in `env` (EdDSA),
    /// without the access secret, which the servers refuse in that mode.
    fn common_with(&self, env: &[(&str, &str)]) -> Vec<(String, String)> {
        let eddsa = env.iter().any(|(k, _)| *k == "ACCESS_TOKEN_ALG");
        let mut all: Vec<(String, String)> = self
            .common()
            .into_iter()
            .filter(|(k, _)| !(eddsa && k == "ACCESS_TOKEN_SECRET"))
            .collect();
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        all
    }

    /// An auth server with `env` over its usual settings.
    async fn auth_with(&self, name: &str, database_url: &str, env: &[(&str, &str)]) -> Result<Server> {
        let mut all = self.common_with(env);
        all.extend([
            ("AUTH_ADDR".into(), "127.0.0.1:0".into()),
            ("AUTH_DATABASE_URL".into(), database_url.to_owned()),
            ("REFRESH_TOKEN_SECRET".into(), self.refresh_secret.clone()),
        ]);
        Server::start(name, &self.auth_bin, &self.dir, &all, "/readyz").await
    }

    async fn auth(&self, name: &str, database_url: &str) -> Result<Server> {
        let mut env = self.common();
        env.extend([
            ("AUTH_ADDR".into(), "127.0.0.1:0".into()),
            ("AUTH_DATABASE_URL".into(), database_url.to_owned()),
            ("REFRESH_TOKEN_SECRET".into(), self.refresh_secret.clone()),
        ]);
        Server::start(name, &self.auth_bin, &self.dir, &env, "/readyz").await
    }

    async fn posts(&self, name: &str, database_url: &str) -> Result<Server> {
        let mut env = self.common();
        env.extend([
            ("POSTS_ADDR".into(), "127.0.0.1:0".into()),
            ("POSTS_DATABASE_URL".into(), database_url.to_owned()),
        ]);
        Server::start(name, &self.posts_bin, &self.dir, &env, "/readyz").await
    }

    /// A posts server with `env` over the common settings.
    async fn posts_with(&self, name: &str, database_url: &str, env: &[(&str, &str)]) -> Result<Server> {
        let mut all = self.common_with(env);
        all.push(("POSTS_DATABASE_URL".into(), database_url.to_owned()));
        Server::start(name, &self.posts_bin, &self.dir, &all, "/readyz").await
    }

    /// `posts-ceiling` or `posts-bare` (`binary`) answering `username`'s posts, at log level
    /// `log`, with `env` besides.
    async fn stand_in(
        &self,
        name: &str,
        binary: &Path,
        log: &str,
        username: &str,
        env: &[(&str, &str)],
    ) -> Result<Server> {
        let mut all = vec![
            ("RUST_LOG".to_owned(), log.to_owned()),
            ("CEILING_USERNAME".to_owned(), username.to_owned()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        // It has no database: ready once it answers its one route.
        Server::start(name, binary, &self.dir, &all, "/posts").await
    }

    async fn ceiling(&self, username: &str) -> Result<Server> {
        let mut env = self.common();
        env.push(("CEILING_USERNAME".into(), username.to_owned()));
        // It has no database: ready once it answers its one route.
        Server::start("posts-ceiling", &self.ceiling_bin, &self.dir, &env, "/posts").await
    }

    async fn database(&self, postgres: Option<&Postgres>, backend: Backend, name: &str) -> Result<String> {
        match (backend, postgres) {
            (Backend::Sqlite, _) => Ok(self.sqlite_url(name)),
            (Backend::Postgres, Some(pg)) => pg.fresh(name).await,
            (Backend::Postgres, None) => Err("PostgreSQL is not reachable".into()),
        }
    }
}

/// Registers `username` and logs in: the access and refresh tokens.
async fn sign_in(auth: SocketAddr, username: &str) -> Result<(String, String)> {
    let credentials = format!("{{\"username\":\"{username}\",\"password\":\"a bench password\"}}");
    let registered = http::once(auth, &http::request("POST", "/register", None, Some(&credentials))).await?;
    if registered.status != 201 {
        return Err(format!("register: {} {}", registered.status, registered.body).into());
    }
    let login = http::once(auth, &http::request("POST", "/login", None, Some(&credentials))).await?;
    let access = http::field(&login.body, "accessToken").ok_or("login gave no accessToken")?;
    let refresh = http::field(&login.body, "refreshToken").ok_or("login gave no refreshToken")?;
    Ok((access.to_owned(), refresh.to_owned()))
}

/// The benchmark user's posts, as `bench::post_text` makes them.
async fn write_posts(posts: SocketAddr, access: &str) -> Result<()> {
    let mut conn = http::Conn::open(posts).await?;
    for i in 1..=bench::POSTS {
        let (title, body) = bench::post_text(i);
        let json = serde_json::json!({ "title": title, "body": body }).to_string();
        let created = conn
            .send(&http::request("POST", "/posts", Some(access), Some(&json)))
            .await?;
        if created.status != 201 {
            return Err(format!("POST /posts: {} {}", created.status, created.body).into());
        }
    }
    Ok(())
}

async fn startup(bench: &Bench, report: &mut Report) -> Result<()> {
    const STARTS: usize = 5;
    for which in ["auth-server", "posts-server"] {
        let (mut ready, mut idle) = (Vec::new(), Vec::new());
        for i in 0..STARTS {
            let url = bench.sqlite_url(&format!("startup-{which}-{i}"));
            let server = match which {
                "auth-server" => bench.auth(which, &url).await?,
                _ => bench.posts(which, &url).await?,
            };
            ready.push(server.ready.as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            idle.push(server.rss_mib()?);
            server.stop().await?;
        }
        report.row(
            "Start-up (SQLite)",
            &format!("{which}: spawn to `/readyz` 200, new database (median of {STARTS})"),
            format!("{:.0} ms", median(ready.clone())),
            Target::at_most(median(ready), 300.0, "300 ms"),
        );
        report.row(
            "Memory",
            &format!("{which}: resident, idle after start"),
            format!("{:.1} MiB", median(idle.clone())),
            Target::at_most(median(idle), 20.0, "20 MiB"),
        );
    }
    Ok(())
}

fn posts_load(addr: SocketAddr, access: &str, duration: Duration) -> wrk::Load<'static> {
    wrk::Load {
        url: format!("http://{addr}/posts"),
        threads: 1,
        connections: POSTS_CONNECTIONS,
        duration,
        headers: vec![format!("Authorization: Bearer {access}")],
        script: None,
    }
}

async fn posts_vs_ceiling(bench: &Bench, pg: Option<&Postgres>, backend: Backend, report: &mut Report) -> Result<()> {
    let auth_db = bench.sqlite_url(&format!("ceiling-auth-{}", backend.name()));
    let auth = bench.auth("auth-server", &auth_db).await?;
    let url = bench.database(pg, backend, "posts").await?;
    let posts = bench.posts("posts-server", &url).await?;
    let username = "bench-reader";
    let (access, _) = sign_in(auth.addr, username).await?;
    write_posts(posts.addr, &access).await?;
    let ceiling = bench.ceiling(username).await?;
    // The same JSON: same posts, same fields, same length (timestamps differ, not their form).
    let list = http::request("GET", "/posts", Some(&access), None);
    let (real, top) = (
        http::once(posts.addr, &list).await?,
        http::once(ceiling.addr, &list).await?,
    );
    if real.status != 200 || top.status != 200 || real.body.len() != top.body.len() {
        return Err(format!(
            "the ceiling does not answer as the server does: {} ({} bytes) against {} ({} bytes)",
            real.status,
            real.body.len(),
            top.status,
            top.body.len()
        )
        .into());
    }
    let (mut real_rounds, mut top_rounds) = (Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        real_rounds.push(posts_load(posts.addr, &access, bench.round).run().await?);
        top_rounds.push(posts_load(ceiling.addr, &access, bench.round).run().await?);
    }
    let (real_f, top_f) = (medians(&real_rounds), medians(&top_rounds));
    let ratio = real_f.requests_per_sec / top_f.requests_per_sec;
    let group = format!("`GET /posts` against its ceiling ({})", backend.name());
    report.row(
        &group,
        &format!("real: valid token, {} posts from the database", bench::POSTS),
        report::throughput(&real_f),
        Target::none(),
    );
    report.row(
        &group,
        "ceiling: same stack and JSON, no token check, no database",
        report::throughput(&top_f),
        Target::none(),
    );
    report.row(
        &group,
        "real ÷ ceiling, requests/s",
        format!("{ratio:.2}"),
        Target::at_least(ratio, 0.8, "≥ 0.8"),
    );
    ceiling.stop().await?;
    posts.stop().await?;
    auth.stop().await?;
    Ok(())
}

/// Seeds `stored` sessions in a fresh auth database and starts a server on it;
/// the chains of [`ACTIVE_SESSIONS`] of them, dealt to the connections.
async fn seeded_auth(
    bench: &Bench,
    pg: Option<&Postgres>,
    backend: Backend,
    name: &str,
    stored: u64,
) -> Result<(Server, String, Vec<Vec<String>>)> {
    let url = bench.database(pg, backend, name).await?;
    // A first start makes the schema with the server's own migrations.
    bench.auth(name, &url).await?.stop().await?;
    let seeding = Instant::now();
    let picked = match backend {
        Backend::Sqlite => seed::sqlite(&url, stored, ACTIVE_SESSIONS).await?,
        Backend::Postgres => seed::postgres(&url, stored, ACTIVE_SESSIONS).await?,
    };
    eprintln!(
        "bench:   seeded {stored} sessions in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let tokens = seed::refresh_tokens(&bench.refresh_secret, &picked)?;
    let server = bench.auth(name, &url).await?;
    Ok((server, url, seed::deal(tokens, ROTATION_CONNECTIONS)))
}

/// Returns the SQLite URL of the 1,000-session database and its sessions' newest tokens.
async fn rotation(
    bench: &Bench,
    pg: Option<&Postgres>,
    backend: Backend,
    report: &mut Report,
) -> Result<(String, Vec<String>)> {
    let (small, small_url, mut small_chains) = seeded_auth(bench, pg, backend, "sessions_1k", 1_000).await?;
    let (large, _, mut large_chains) = seeded_auth(bench, pg, backend, "sessions_1m", 1_000_000).await?;
    let (mut small_rounds, mut large_rounds) = (Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        small_rounds.push(load::rotate(small.addr, &mut small_chains, bench.round).await?);
        large_rounds.push(load::rotate(large.addr, &mut large_chains, bench.round).await?);
    }
    let (small_f, large_f) = (medians(&small_rounds), medians(&large_rounds));
    let ratio = large_f.requests_per_sec / small_f.requests_per_sec;
    let group = format!("`POST /token` rotation ({})", backend.name());
    let what = |stored: &str| {
        format!("{stored} stored sessions, {ACTIVE_SESSIONS} rotating over {ROTATION_CONNECTIONS} connections")
    };
    report.row(
        &group,
        &what("1,000"),
        report::throughput(&small_f),
        Target::failures(&small_f),
    );
    report.row(
        &group,
        &what("1,000,000"),
        report::throughput(&large_f),
        Target::failures(&large_f),
    );
    report.row(
        &group,
        "1,000,000 ÷ 1,000, requests/s",
        format!("{ratio:.2}"),
        Target::at_least(ratio, 0.8, "≥ 0.8"),
    );
    small.stop().await?;
    large.stop().await?;
    Ok((small_url, small_chains.into_iter().flatten().collect()))
}

fn login_script(dir: &Path, username: &str) -> Result<PathBuf> {
    let path = dir.join("login.lua");
    std::fs::write(
        &path,
        format!(
            "wrk.method = \"POST\"\n\
             wrk.body = '{{\"username\":\"{username}\",\"password\":\"a bench password\"}}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n"
        ),
    )?;
    Ok(path)
}

async fn isolation(bench: &Bench, report: &mut Report) -> Result<()> {
    const SAMPLES: usize = 1000;
    const GAP: Duration = Duration::from_millis(5);
    let auth = bench.auth("auth-server", &bench.sqlite_url("isolation-auth")).await?;
    let posts = bench
        .posts("posts-server", &bench.sqlite_url("isolation-posts"))
        .await?;
    let username = "bench-login";
    let (access, mut refresh) = sign_in(auth.addr, username).await?;
    write_posts(posts.addr, &access).await?;
    let list = http::request("GET", "/posts", Some(&access), None);
    // One hash: a login alone, sequentially (median of 20).
    let credentials = format!("{{\"username\":\"{username}\",\"password\":\"a bench password\"}}");
    let login = http::request("POST", "/login", None, Some(&credentials));
    let mut conn = http::Conn::open(auth.addr).await?;
    let mut alone = Vec::new();
    for _ in 0..20 {
        let (response, took) = conn.timed(&login).await?;
        if response.status != 200 {
            return Err(format!("login: {} {}", response.status, response.body).into());
        }
        alone.push(took);
    }
    let one_login_ms = load::quantile_ms(&mut alone, 0.5);

    let quiet_posts = load::probe(posts.addr, load::Probe::Fixed(list.clone()), SAMPLES, GAP).await?;
    let quiet_token = load::probe(auth.addr, load::Probe::Rotation(&mut refresh), SAMPLES, GAP).await?;

    let script = login_script(&bench.dir, username)?;
    let probes = (GAP * u32::try_from(SAMPLES)?).as_secs() * 2 + 4;
    let flood = wrk::Load {
        url: format!("http://{}/login", auth.addr),
        threads: 1,
        connections: 8,
        duration: Duration::from_secs(probes),
        headers: Vec::new(),
        script: Some(&script),
    };
    let flood = flood.run();
    let probing = async {
        // Let the flood fill the hashing threads first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let posts_f = load::probe(posts.addr, load::Probe::Fixed(list.clone()), SAMPLES, GAP).await?;
        let token_f = load::probe(auth.addr, load::Probe::Rotation(&mut refresh), SAMPLES, GAP).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((posts_f, token_f))
    };
    let (flooded, probed) = tokio::join!(flood, probing);
    let (flooded, (loud_posts, loud_token)) = (flooded?, probed?);
    let peak = auth.peak_rss_mib()?;

    let group = "`POST /login` saturated (SQLite)";
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let expected = cores * 1000.0 / one_login_ms;
    let ratio = flooded.requests_per_sec / expected;
    report.row(
        group,
        "one login alone (argon2id verify, m=19 MiB, t=2, p=1), median of 20",
        format!("{one_login_ms:.1} ms"),
        Target::none(),
    );
    report.row(
        group,
        "logins/s with 8 connections flooding `/login`",
        format!(
            "{:.0}/s; p50 {:.0} ms, p99 {:.0} ms; {cores:.0} cores ÷ one login = {expected:.0}/s",
            flooded.requests_per_sec, flooded.p50_ms, flooded.p99_ms
        ),
        Target::at_least(ratio, 0.8, "≥ 0.8 × cores ÷ one login"),
    );
    for (what, quiet, loud) in [
        ("`GET /posts`", quiet_posts, loud_posts),
        ("`POST /token`", quiet_token, loud_token),
    ] {
        let factor = loud.p99_ms / quiet.p99_ms;
        report.row(
            group,
            &format!(
                "{what} p99, one request every {} ms: quiet → during the flood",
                GAP.as_millis()
            ),
            format!(
                "{:.2} ms → {:.2} ms (p50 {:.2} → {:.2} ms), × {factor:.2}",
                quiet.p99_ms, loud.p99_ms, quiet.p50_ms, loud.p50_ms
            ),
            Target::at_most(factor, 2.0, "≤ × 2"),
        );
    }
    report.row(
        "Memory",
        "auth-server: resident, peak after the `/login` flood",
        format!("{peak:.1} MiB"),
        Target::none(),
    );
    posts.stop().await?;
    auth.stop().await?;
    Ok(())
}

async fn connections(bench: &Bench, auth_url: &str, tokens: Vec<String>, report: &mut Report) -> Result<()> {
    let conns = usize::try_from(MANY_CONNECTIONS)?;
    // auth-server: each connection rotates a session of its own.
    let auth = bench.auth("auth-server", auth_url).await?;
    let mut chains = seed::deal(tokens, conns);
    let figures = load::rotate(auth.addr, &mut chains, bench.round).await?;
    let auth_peak = auth.peak_rss_mib()?;
    report.row(
        "Memory",
        &format!("auth-server: peak resident, {MANY_CONNECTIONS} keep-alive connections rotating sessions"),
        format!("{auth_peak:.1} MiB ({})", report::throughput(&figures)),
        Target::at_most(auth_peak, 64.0, "64 MiB"),
    );
    auth.stop().await?;

    let sign = bench.auth("auth-server", &bench.sqlite_url("connections-auth")).await?;
    let posts_url = bench.sqlite_url("connections-posts");
    let (access, _) = sign_in(sign.addr, "bench-many").await?;
    {
        let posts = bench.posts("posts-server", &posts_url).await?;
        write_posts(posts.addr, &access).await?;
        posts.stop().await?;
    }
    let posts = bench.posts("posts-server", &posts_url).await?;
    let load = wrk::Load {
        url: format!("http://{}/posts", posts.addr),
        threads: 2,
        connections: MANY_CONNECTIONS,
        duration: bench.round,
        headers: vec![format!("Authorization: Bearer {access}")],
        script: None,
    };
    let figures = load.run().await?;
    let posts_peak = posts.peak_rss_mib()?;
    report.row(
        "Memory",
        &format!("posts-server: peak resident, {MANY_CONNECTIONS} keep-alive connections on `GET /posts`"),
        format!("{posts_peak:.1} MiB ({})", report::throughput(&figures)),
        Target::at_most(posts_peak, 64.0, "64 MiB"),
    );
    posts.stop().await?;
    sign.stop().await?;
    Ok(())
}
