//! What the servers' own stack costs: `GET /posts` on a bare axum server (`posts-bare`, and
//! `posts-bare-mimalloc` on the servers' allocator), on
//! the ceiling (`posts-ceiling`) with its whole stack and with each layer left out in turn,
//! and on the real server over SQLite, at `RUST_LOG=info` (the default) and `warn`. Every
//! target is loaded once per round, in an order that shifts by one each round, so that drift
//! on a shared machine falls on all of them alike.
//!
//! Per target and round: `wrk`'s requests/s, and the server's own CPU time per request
//! (user and system time of all its threads, from `/proc/PID/stat`, over the requests of the
//! round). A layer's cost is, per round, the difference between the whole ceiling and the
//! ceiling without that layer, taken two ways: from throughput, `cores × (1/rps_whole −
//! 1/rps_without)` (the load keeps every core busy, so each request takes `cores / rps` of
//! machine time, of which `wrk`'s share is the same for both), and from the server's CPU
//! time per request. The medians over rounds are shown.

use std::time::Duration;

use service_kit::middleware::Layers;

use crate::load::Figures;
use crate::process::Server;
use crate::report::{self, Report, Target};
use crate::{Bench, Result, median, medians, sign_in, write_posts};

/// The markers of this part's own table in `bench/README.md`.
pub const BEGIN: &str = "<!-- stack:begin (written by bench/run, or BENCH_ONLY=stack; edits here are overwritten) -->";
pub const END: &str = "<!-- stack:end -->";

/// The origin the benchmark's requests come from, allowed by the servers as a browser
/// client's would be: CORS is part of the stack measured.
const ORIGIN: &str = "https://app.example.com";

/// What `RUST_LOG` each server runs with: the default first.
const LEVELS: [&str; 2] = ["info", "warn"];

/// The real server reaches at least this share of bare axum's requests/s at the default level.
const TARGET_RATIO: f64 = 0.7;

pub(crate) struct Loaded {
    pub(crate) server: Server,
    pub(crate) rounds: Vec<Figures>,
    /// Server CPU time per request, in µs, per round.
    cpu_us: Vec<f64>,
}

impl Loaded {
    pub(crate) fn new(server: Server) -> Self {
        Self {
            server,
            rounds: Vec::new(),
            cpu_us: Vec::new(),
        }
    }

    pub(crate) fn figures(&self) -> Figures {
        medians(&self.rounds)
    }

    pub(crate) fn cpu(&self) -> f64 {
        median(self.cpu_us.clone())
    }
}

/// The targets of one log level.
struct Level {
    name: &'static str,
    real: Loaded,
    ceiling: Loaded,
    /// The ceiling without all its layers: the serving loop, the router and the handler.
    bare_ceiling: Loaded,
    /// The ceiling without one layer, in the order of [`Layers::NAMES`].
    without: Vec<Loaded>,
}

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let auth = bench.auth("auth-server", &bench.sqlite_url("stack-auth")).await?;
    let username = "bench-reader";
    let (access, _) = sign_in(auth.addr, username).await?;
    let mut bare = Loaded::new(
        bench
            .stand_in("posts-bare", &bench.bare_bin, "warn", username, &[])
            .await?,
    );
    let mut bare_mimalloc = Loaded::new(
        bench
            .stand_in("posts-bare-mimalloc", &bench.bare_mimalloc_bin, "warn", username, &[])
            .await?,
    );
    let mut levels = Vec::new();
    for name in LEVELS {
        let posts_env = [
            ("RUST_LOG", name),
            ("CORS_ALLOWED_ORIGINS", ORIGIN),
            ("POSTS_ADDR", "127.0.0.1:0"),
        ];
        let url = bench.sqlite_url(&format!("stack-posts-{name}"));
        let real = bench
            .posts_with(&format!("posts-server-{name}"), &url, &posts_env)
            .await?;
        write_posts(real.addr, &access).await?;
        let mut without = Vec::new();
        for layer in Layers::NAMES {
            without.push(Loaded::new(ceiling(bench, name, username, layer).await?));
        }
        levels.push(Level {
            name,
            real: Loaded::new(real),
            ceiling: Loaded::new(ceiling(bench, name, username, "").await?),
            bare_ceiling: Loaded::new(ceiling(bench, name, username, "all").await?),
            without,
        });
    }
    check_same_answer(&access, &[&bare, &bare_mimalloc], &levels).await?;

    let headers = vec![format!("Authorization: Bearer {access}"), format!("Origin: {ORIGIN}")];
    for round in 0..bench.rounds {
        let mut targets: Vec<&mut Loaded> = vec![&mut bare, &mut bare_mimalloc];
        for level in &mut levels {
            targets.push(&mut level.real);
            targets.push(&mut level.ceiling);
            targets.push(&mut level.bare_ceiling);
            targets.extend(level.without.iter_mut());
        }
        let shift = round % targets.len();
        targets.rotate_left(shift);
        for target in targets {
            load(target, &headers, bench.round).await?;
        }
        eprintln!("bench:   round {} of {} done", round + 1, bench.rounds);
    }
    write(report, [&bare, &bare_mimalloc], &levels);

    bare.server.stop().await?;
    bare_mimalloc.server.stop().await?;
    for level in levels {
        level.real.server.stop().await?;
        level.ceiling.server.stop().await?;
        level.bare_ceiling.server.stop().await?;
        for target in level.without {
            target.server.stop().await?;
        }
    }
    auth.stop().await?;
    Ok(())
}

/// The ceiling at log level `level`, without the layers `without` names (`CEILING_WITHOUT`).
async fn ceiling(bench: &Bench, level: &str, username: &str, without: &str) -> Result<Server> {
    let label = if without.is_empty() {
        format!("posts-ceiling-{level}")
    } else {
        format!("posts-ceiling-{level}-without-{without}")
    };
    let env = [("CORS_ALLOWED_ORIGINS", ORIGIN), ("CEILING_WITHOUT", without)];
    bench.stand_in(&label, &bench.ceiling_bin, level, username, &env).await
}

/// Every target answers `200` with a body of the same length as the real server's (the
/// timestamps differ, not their form).
async fn check_same_answer(access: &str, bare: &[&Loaded], levels: &[Level]) -> Result<()> {
    let list = crate::http::request("GET", "/posts", Some(access), None);
    let real = crate::http::once(levels[0].real.server.addr, &list).await?;
    let mut others = bare.to_vec();
    for level in levels {
        others.extend([&level.real, &level.ceiling, &level.bare_ceiling]);
        others.extend(level.without.iter());
    }
    for other in others {
        let answer = crate::http::once(other.server.addr, &list).await?;
        if real.status != 200 || answer.status != 200 || real.body.len() != answer.body.len() {
            return Err(format!(
                "{} does not answer as the server does: {} ({} bytes) against {} ({} bytes)",
                other.server.name,
                answer.status,
                answer.body.len(),
                real.status,
                real.body.len()
            )
            .into());
        }
    }
    Ok(())
}

pub(crate) async fn load(target: &mut Loaded, headers: &[String], duration: Duration) -> Result<()> {
    let load = crate::wrk::Load {
        url: format!("http://{}/posts", target.server.addr),
        threads: 1,
        connections: crate::POSTS_CONNECTIONS,
        duration,
        headers: headers.to_vec(),
        script: None,
    };
    let before = target.server.cpu_seconds()?;
    let figures = load.run().await?;
    let used = target.server.cpu_seconds()? - before;
    let requests = figures.requests_per_sec * duration.as_secs_f64();
    target.rounds.push(figures);
    target.cpu_us.push(used / requests * 1e6);
    target.server.forget_output()?;
    Ok(())
}

/// `bench.rounds` rounds of `GET /posts` on every target, each with its bearer token, in an
/// order that turns every round so that none always goes first; a request not answered `200`
/// fails the run.
pub(crate) async fn interleave_with_bearer(bench: &Bench, targets: &mut [(Loaded, String)]) -> Result<()> {
    for round in 0..bench.rounds {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.rotate_left(round % targets.len());
        for index in order {
            let (target, access) = &mut targets[index];
            load(target, &[format!("Authorization: Bearer {access}")], bench.round).await?;
            let failures = target.rounds.last().map_or(0, |figures| figures.failures);
            if failures > 0 {
                return Err(format!("{}: {failures} requests were not answered 200", target.server.name).into());
            }
        }
        eprintln!("bench:   round {} of {} done", round + 1, bench.rounds);
    }
    Ok(())
}

/// Per round, `a / b` of requests/s; the median over rounds.
pub(crate) fn ratio(a: &Loaded, b: &Loaded) -> f64 {
    median(
        a.rounds
            .iter()
            .zip(&b.rounds)
            .map(|(a, b)| a.requests_per_sec / b.requests_per_sec)
            .collect(),
    )
}

/// What `with` costs per request more than `without`, in µs: from throughput (see the module
/// comment) and from the server's CPU time; medians over rounds of the per-round differences.
pub(crate) fn cost(with: &Loaded, without: &Loaded) -> (f64, f64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let from_throughput = median(
        with.rounds
            .iter()
            .zip(&without.rounds)
            .map(|(w, wo)| cores * (1.0 / w.requests_per_sec - 1.0 / wo.requests_per_sec) * 1e6)
            .collect(),
    );
    let from_cpu = median(with.cpu_us.iter().zip(&without.cpu_us).map(|(w, wo)| w - wo).collect());
    (from_throughput, from_cpu)
}

/// `target`'s figures and its ratios to bare axum on glibc's malloc and on mimalloc.
fn measured(target: &Loaded, [bare, bare_mimalloc]: [&Loaded; 2]) -> String {
    format!(
        "{}; {:.1} µs CPU/request; × {:.2} of bare (× {:.2} of bare on mimalloc)",
        report::throughput(&target.figures()),
        target.cpu(),
        ratio(target, bare),
        ratio(target, bare_mimalloc)
    )
}

fn write(report: &mut Report, bares: [&Loaded; 2], levels: &[Level]) {
    let group = "`GET /posts` against bare axum (SQLite)";
    let [bare, bare_mimalloc] = bares;
    report.row(
        group,
        "bare axum: `axum::serve`, the ceiling's handler, no middleware, no logs, glibc's malloc",
        format!(
            "{}; {:.1} µs CPU/request",
            report::throughput(&bare.figures()),
            bare.cpu()
        ),
        Target::none(),
    );
    report.row(
        group,
        "bare axum on mimalloc, the servers' allocator",
        format!(
            "{}; {:.1} µs CPU/request; × {:.2} of bare",
            report::throughput(&bare_mimalloc.figures()),
            bare_mimalloc.cpu(),
            ratio(bare_mimalloc, bare)
        ),
        Target::none(),
    );
    for level in levels {
        let default = level.name == LEVELS[0];
        let ratio = ratio(&level.real, bare);
        report.row(
            group,
            &format!(
                "real, `RUST_LOG={}`: valid token, {} posts, CORS, access line",
                level.name,
                bench::POSTS
            ),
            measured(&level.real, bares),
            if default {
                Target::at_least(ratio, TARGET_RATIO, &format!("≥ {TARGET_RATIO} × bare"))
            } else {
                Target::none()
            },
        );
        report.row(
            group,
            &format!("ceiling, `RUST_LOG={}`: the whole stack, no token check", level.name),
            measured(&level.ceiling, bares),
            Target::none(),
        );
        report.row(
            group,
            &format!(
                "ceiling without any layer, `RUST_LOG={}`: our serving loop and router",
                level.name
            ),
            measured(&level.bare_ceiling, bares),
            Target::none(),
        );
    }
    let group = "What each layer of the ceiling costs, µs per request (from throughput / from server CPU)";
    for (i, layer) in Layers::NAMES.iter().enumerate() {
        let per_level: Vec<String> = levels
            .iter()
            .map(|level| {
                let (throughput, cpu) = cost(&level.ceiling, &level.without[i]);
                format!("`{}`: {throughput:+.1} / {cpu:+.1}", level.name)
            })
            .collect();
        report.row(group, &format!("`{layer}`"), per_level.join("; "), Target::none());
    }
    let per_level: Vec<String> = levels
        .iter()
        .map(|level| {
            let (throughput, cpu) = cost(&level.ceiling, &level.bare_ceiling);
            format!("`{}`: {throughput:+.1} / {cpu:+.1}", level.name)
        })
        .collect();
    report.row(group, "all of them at once", per_level.join("; "), Target::none());
    let per_level: Vec<String> = levels
        .iter()
        .map(|level| {
            let (throughput, cpu) = cost(&level.bare_ceiling, bare);
            format!("`{}`: {throughput:+.1} / {cpu:+.1}", level.name)
        })
        .collect();
    report.row(
        group,
        "our serving loop (header and idle timeouts, connection cap) against `axum::serve`",
        per_level.join("; "),
        Target::none(),
    );
}
