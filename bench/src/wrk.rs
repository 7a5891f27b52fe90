//! `wrk` runs and what its `--latency` report says.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::Result;
use crate::load::Figures;

pub struct Load<'a> {
    pub url: String,
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    pub headers: Vec<String>,
    pub script: Option<&'a Path>,
}

impl Load<'_> {
    pub async fn run(&self) -> Result<Figures> {
        let mut command = Command::new("wrk");
        command
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg("--latency")
            .arg("--timeout")
            .arg("10s");
        for header in &self.headers {
            command.arg("-H").arg(header);
        }
        if let Some(script) = self.script {
            command.arg("-s").arg(script);
        }
        let output = command.arg(&self.url).output().await?;
        let report = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!("wrk failed: {report}{}", String::from_utf8_lossy(&output.stderr)).into());
        }
        parse(&report).ok_or_else(|| format!("an unexpected wrk report:\n{report}").into())
    }
}

fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => return None,
    })
}

pub fn parse(report: &str) -> Option<Figures> {
    let percentile = |label: &str| {
        report
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .and_then(|rest| millis(rest.trim()))
    };
    let requests_per_sec = report
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let non_2xx: u64 = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let socket: u64 = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Some(Figures {
        requests_per_sec,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
        // Answers other than 2xx/3xx, and connect/read/write/timeout errors.
        failures: non_2xx + socket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_latency_report() {
        let report = "Running 5s test @ http://127.0.0.1:3000/posts
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  350.00us   9.00ms   90.00%
  Latency Distribution
     50%    2.05ms
     75%    2.20ms
     90%    2.40ms
     99%  812.00us
  118000 requests in 5.00s, 400.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  23600.12
Transfer/sec:     80.00MB
";
        let figures = parse(report).expect("parsed");
        assert!((figures.requests_per_sec - 23600.12).abs() < 1e-6);
        assert!((figures.p50_ms - 2.05).abs() < 1e-9);
        assert!((figures.p99_ms - 0.812).abs() < 1e-9);
        assert_eq!(figures.failures, 7);
    }
}
