//! The harness's own load: refresh-token rotation over many independent
//! sessions, and a paced latency probe.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::Result;
use crate::http::{self, Conn};

/// Latency percentiles and throughput of one run (of this load or of `wrk`).
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: u64,
}

/// The `q` quantile (0..=1) of `samples`, in milliseconds.
pub fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

fn token_request(token: &str) -> Vec<u8> {
    http::request("POST", "/token", None, Some(&format!("{{\"token\":\"{token}\"}}")))
}

/// One connection's sessions: it presents each session's current refresh token
/// in turn and keeps the one the answer gives.
async fn rotate_sessions(
    addr: SocketAddr,
    mut tokens: Vec<String>,
    until: Instant,
) -> Result<(Vec<String>, Vec<Duration>, u64)> {
    let mut conn = Conn::open(addr).await?;
    let mut latencies = Vec::with_capacity(16 * 1024);
    let mut failures = 0;
    let mut next = 0;
    while Instant::now() < until && !tokens.is_empty() {
        let (response, took) = conn.timed(&token_request(&tokens[next])).await?;
        latencies.push(took);
        match http::field(&response.body, "refreshToken") {
            Some(token) if response.status == 200 => {
                tokens[next] = token.to_owned();
                next = (next + 1) % tokens.len();
            }
            _ => {
                // A session that cannot go on is dropped, and counted.
                failures += 1;
                tokens.swap_remove(next);
                if next >= tokens.len() {
                    next = 0;
                }
            }
        }
    }
    Ok((tokens, latencies, failures))
}

/// Rotates `chains` (one connection each) for `duration`; the chains keep
/// their newest tokens for the next round.
pub async fn rotate(addr: SocketAddr, chains: &mut Vec<Vec<String>>, duration: Duration) -> Result<Figures> {
    let until = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = chains
        .drain(..)
        .map(|tokens| tokio::spawn(rotate_sessions(addr, tokens, until)))
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (tokens, mut taken, failed) = task.await??;
        chains.push(tokens);
        latencies.append(&mut taken);
        failures += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Figures {
        requests_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: quantile_ms(&mut latencies, 0.50),
        p99_ms: quantile_ms(&mut latencies, 0.99),
        failures,
    })
}

/// What a probe sends: the same request each time, or a session's rotation.
pub enum Probe<'a> {
    Fixed(Vec<u8>),
    Rotation(&'a mut String),
}

/// `samples` requests on one connection, one every `gap`: latency at a light,
/// steady rate rather than under the probe's own load.
pub async fn probe(addr: SocketAddr, mut what: Probe<'_>, samples: usize, gap: Duration) -> Result<Figures> {
    let mut conn = Conn::open(addr).await?;
    let mut latencies = Vec::with_capacity(samples);
    let mut failures = 0;
    let started = Instant::now();
    let mut tick = tokio::time::interval(gap);
    for _ in 0..samples {
        tick.tick().await;
        match &mut what {
            Probe::Fixed(request) => {
                let (response, took) = conn.timed(request).await?;
                latencies.push(took);
                failures += u64::from(response.status != 200);
            }
            Probe::Rotation(token) => {
                let (response, took) = conn.timed(&token_request(token)).await?;
                latencies.push(took);
                match http::field(&response.body, "refreshToken") {
                    Some(next) if response.status == 200 => **token = next.to_owned(),
                    _ => {
                        return Err(format!("the probe's session ended: {} {}", response.status, response.body).into());
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Figures {
        requests_per_sec: samples as f64 / elapsed,
        p50_ms: quantile_ms(&mut latencies, 0.50),
        p99_ms: quantile_ms(&mut latencies, 0.99),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&mut samples, 0.5), 50.0);
        assert_eq!(quantile_ms(&mut samples, 0.99), 99.0);
        assert_eq!(quantile_ms(&mut samples, 1.0), 100.0);
    }
}
