//! The results table, written between two markers in `bench/README.md` so the
//! text around it (how to run, what each row means, profiles) stays as written.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::Result;
use crate::load::Figures;

const BEGIN: &str = "<!-- bench:begin (written by bench/run; edits here are overwritten) -->";
const END: &str = "<!-- bench:end -->";

pub struct Target {
    label: String,
    met: Option<bool>,
}

impl Target {
    pub fn none() -> Self {
        Self {
            label: String::new(),
            met: None,
        }
    }

    pub fn at_most(value: f64, bound: f64, label: &str) -> Self {
        Self {
            label: format!("≤ {label}").replace("≤ ≤", "≤"),
            met: Some(value <= bound),
        }
    }

    pub fn at_least(value: f64, bound: f64, label: &str) -> Self {
        Self {
            label: label.to_owned(),
            met: Some(value >= bound),
        }
    }

    /// Every request answered as it should.
    pub fn failures(figures: &Figures) -> Self {
        Self {
            label: "no failed request".into(),
            met: Some(figures.failures == 0),
        }
    }
}

struct Row {
    group: String,
    what: String,
    measured: String,
    target: Target,
}

pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    round: Duration,
    rounds: usize,
    elapsed: Duration,
}

/// `N req/s, p50 …, p99 …` (and failures, if any).
pub fn throughput(f: &Figures) -> String {
    let mut text = format!(
        "{:.0} req/s; p50 {:.2} ms, p99 {:.2} ms",
        f.requests_per_sec, f.p50_ms, f.p99_ms
    );
    if f.failures > 0 {
        let _ = write!(text, "; **{} failed**", f.failures);
    }
    text
}

pub fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            text.lines().next().unwrap_or_default().trim().to_owned()
        })
        .unwrap_or_default()
}

/// The criterion medians of `crates/jwt-tokens/benches/tokens.rs`, from its last run.
pub fn criterion(report: &mut Report) -> Result<()> {
    let rows = [
        ("access_token", "verify", "verify an access token, median", Some(3.0)),
        ("access_token", "issue", "issue an access token, median", Some(5.0)),
        (
            "access_token_eddsa",
            "verify_cold",
            "EdDSA: verify a token not seen before, median",
            None,
        ),
        (
            "access_token_eddsa",
            "verify_cached",
            "EdDSA: verify a token seen before (the cache), median",
            None,
        ),
        (
            "access_token_eddsa",
            "issue",
            "EdDSA: issue an access token, median",
            None,
        ),
    ];
    for (group, name, what, bound) in rows {
        let median = criterion_median(group, name)?;
        let point = median.point_ns / 1000.0;
        report.row(
            "Token work (criterion, `crates/jwt-tokens/benches/tokens.rs`)",
            what,
            format!(
                "{point:.2} µs (95% CI {:.2}–{:.2})",
                median.low_ns / 1000.0,
                median.high_ns / 1000.0
            ),
            match bound {
                Some(bound) => Target::at_most(point, bound, &format!("{bound} µs")),
                None => Target::none(),
            },
        );
    }
    Ok(())
}

/// A criterion median and its 95% confidence interval, in ns.
pub struct Estimate {
    pub point_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
}

impl Estimate {
    /// `N ns (95% CI L–H)`.
    pub fn describe_ns(&self) -> String {
        format!(
            "{:.0} ns (95% CI {:.0}–{:.0})",
            self.point_ns, self.low_ns, self.high_ns
        )
    }
}

/// The median of criterion's last run of `group/name` (`target/criterion/…/new/estimates.json`).
pub fn criterion_median(group: &str, name: &str) -> Result<Estimate> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the harness is not in a target folder")?;
    let path = target.join(format!("criterion/{group}/{name}/new/estimates.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{} ({e}): run bench/run, which runs the criterion benchmarks first",
            path.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let median = &json["median"];
    let ns = |v: &serde_json::Value| v.as_f64().ok_or("no estimate");
    Ok(Estimate {
        point_ns: ns(&median["point_estimate"])?,
        low_ns: ns(&median["confidence_interval"]["lower_bound"])?,
        high_ns: ns(&median["confidence_interval"]["upper_bound"])?,
    })
}

impl Report {
    pub fn new(round: Duration, rounds: usize) -> Self {
        Self {
            rows: Vec::new(),
            notes: Vec::new(),
            round,
            rounds,
            elapsed: Duration::ZERO,
        }
    }

    pub fn row(&mut self, group: &str, what: &str, measured: String, target: Target) {
        eprintln!("bench:   {what}: {measured}");
        self.rows.push(Row {
            group: group.to_owned(),
            what: what.to_owned(),
            measured,
            target,
        });
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn elapsed(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let commit = command("git", &["rev-parse", "--short", "HEAD"]);
        // This file is rewritten by every run; other changes make the commit an approximation.
        let dirty = !command(
            "git",
            &[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!bench/README.md",
            ],
        )
        .is_empty();
        let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
        let _ = writeln!(
            out,
            "Run of {date} at commit `{commit}`{}, on {cores} cores ({cpu}), shared by the servers, \
             PostgreSQL and the load generators. {} interleaved rounds of {} s each where rounds \
             apply (medians shown); {}; {:.0} s in all.\n",
            if dirty { " with uncommitted changes" } else { "" },
            self.rounds,
            self.round.as_secs(),
            command("wrk", &["-v"]).split(" Copyright").next().unwrap_or_default(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(out, "| what | measured | target | |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        // Grouped by their first appearance, whatever order the measurements ran in.
        let mut groups: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !groups.contains(&row.group.as_str()) {
                groups.push(&row.group);
            }
        }
        for group in groups {
            let _ = writeln!(out, "| **{group}** | | | |");
            for row in self.rows.iter().filter(|r| r.group == group) {
                let met = match row.target.met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "",
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {met} |",
                    row.what, row.measured, row.target.label
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }

    /// Replaces the table between its markers in `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_between(path, BEGIN, END, &self.table())
    }
}

/// Replaces what lies between the markers `begin` and `end` in `path` with
/// `text` (appending the markers if absent).
pub fn write_between(path: &Path, begin: &str, end: &str, text: &str) -> Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{begin}\n{text}{end}");
    let updated = match (current.find(begin), current.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &current[..b], &current[e + end.len()..])
        }
        _ => format!("{current}\n{section}\n"),
    };
    std::fs::write(path, updated)?;
    Ok(())
}
