//! `GET /posts` with EdDSA access tokens against HS256 ones, and what the verified-token cache
//! costs in memory.
//!
//! Two pairs of servers on SQLite: auth-server and posts-server with `ACCESS_TOKEN_ALG=HS256`
//! (the default), and with `ACCESS_TOKEN_ALG=EdDSA` (a key generated into the bench folder,
//! posts-server following auth-server's published keys), plus the EdDSA posts-server with its
//! verified-token cache off (`VERIFIED_TOKEN_CACHE=0`: every request verifies an Ed25519
//! signature). Each is loaded once per round, in an order that shifts by one each round; the
//! medians of the rounds are shown, with the ratio to HS256 taken per round.

use std::time::Duration;

use jwt_tokens::{AccessTokens, Ed25519PrivateKey, KeySet, TokenSettings};

use crate::report::{self, Report, Target};
use crate::stack::{self, Loaded};
use crate::{Bench, Result, sign_in, write_posts};

/// `GET /posts` with EdDSA tokens reaches at least this share of HS256's requests/s.
const TARGET_RATIO: f64 = 0.8;

/// How many distinct tokens fill the cache whose memory is measured.
const CACHED_TOKENS: usize = 10_000;

/// The memory the verified-token cache takes per token, tokens as auth-server issues them
/// (uuids for `sub`, `sid` and `jti`, a short username): the growth of this process's resident
/// memory (`VmRSS`, the allocator's overhead included) while it fills with that many tokens,
/// made beforehand.
pub fn cache_bytes_per_entry() -> Result<f64> {
    let key = Ed25519PrivateKey::generate()?;
    let settings = TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    };
    let issuer = AccessTokens::new(KeySet::ed25519(&key, &[])?, &settings);
    let tokens: Vec<String> = (0..CACHED_TOKENS)
        .map(|i| {
            let id = uuid::Uuid::new_v4().to_string();
            issuer.issue(
                &id,
                &format!("user{i}"),
                &uuid::Uuid::new_v4().to_string(),
                Duration::from_secs(900),
            )
        })
        .collect::<std::result::Result<_, _>>()?;
    let verifier = AccessTokens::following(&settings).with_verified_cache(CACHED_TOKENS * 2);
    verifier.replace_keys(KeySet::from_jwks(issuer.jwks().as_bytes())?)?;
    let before = resident_bytes()?;
    for token in &tokens {
        // The claims a request gets are dropped with it; what stays is the cache's.
        drop(verifier.verify(token)?);
    }
    let after = resident_bytes()?;
    if verifier.verified_cache_len() != CACHED_TOKENS {
        return Err(format!(
            "the cache kept {} of {CACHED_TOKENS} tokens",
            verifier.verified_cache_len()
        )
        .into());
    }
    Ok((after as f64 - before as f64) / CACHED_TOKENS as f64)
}

/// This process's resident memory, from `/proc/self/status`.
fn resident_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let key_file = bench.dir.join("access-ed25519.pem");
    let key = Ed25519PrivateKey::generate()?;
    std::fs::write(&key_file, key.to_pkcs8_pem()?.expose())?;
    let key_file = key_file.display().to_string();

    let hs_auth = bench.auth("auth-hs256", &bench.sqlite_url("eddsa-hs-auth")).await?;
    let ed_auth = bench
        .auth_with(
            "auth-eddsa",
            &bench.sqlite_url("eddsa-ed-auth"),
            &[
                ("ACCESS_TOKEN_ALG", "EdDSA"),
                ("ACCESS_TOKEN_PRIVATE_KEY_FILE", &key_file),
            ],
        )
        .await?;
    let username = "bench-reader";
    let (hs_access, _) = sign_in(hs_auth.addr, username).await?;
    let (ed_access, _) = sign_in(ed_auth.addr, username).await?;
    let auth_url = format!("http://{}", ed_auth.addr);
    let hs = bench
        .posts_with(
            "posts-hs256",
            &bench.sqlite_url("eddsa-hs-posts"),
            &[("POSTS_ADDR", "127.0.0.1:0")],
        )
        .await?;
    let eddsa_env = [
        ("POSTS_ADDR", "127.0.0.1:0"),
        ("ACCESS_TOKEN_ALG", "EdDSA"),
        ("AUTH_URL", auth_url.as_str()),
    ];
    let ed = bench
        .posts_with("posts-eddsa", &bench.sqlite_url("eddsa-ed-posts"), &eddsa_env)
        .await?;
    let mut cold_env = eddsa_env.to_vec();
    cold_env.push(("VERIFIED_TOKEN_CACHE", "0"));
    let cold = bench
        .posts_with("posts-eddsa-uncached", &bench.sqlite_url("eddsa-cold-posts"), &cold_env)
        .await?;
    write_posts(hs.addr, &hs_access).await?;
    write_posts(ed.addr, &ed_access).await?;
    write_posts(cold.addr, &ed_access).await?;

    let mut targets = [
        (Loaded::new(hs), hs_access),
        (Loaded::new(ed), ed_access.clone()),
        (Loaded::new(cold), ed_access),
    ];
    stack::interleave_with_bearer(bench, &mut targets).await?;
    let [(hs, _), (ed, _), (cold, _)] = targets;
    let ratio = |a: &Loaded| stack::ratio(a, &hs);
    let group = "`GET /posts` with EdDSA access tokens (SQLite)";
    report.row(
        group,
        "HS256 (the default): valid token, 20 posts",
        report::throughput(&hs.figures()),
        Target::none(),
    );
    let ed_ratio = ratio(&ed);
    report.row(
        group,
        "EdDSA, verified-token cache on (the default)",
        format!("{}; × {ed_ratio:.2} of HS256", report::throughput(&ed.figures())),
        Target::at_least(ed_ratio, TARGET_RATIO, &format!("≥ {TARGET_RATIO} × HS256")),
    );
    report.row(
        group,
        "EdDSA, cache off (`VERIFIED_TOKEN_CACHE=0`: an Ed25519 verification per request)",
        format!(
            "{}; × {:.2} of HS256",
            report::throughput(&cold.figures()),
            ratio(&cold)
        ),
        Target::none(),
    );
    report.row(
        group,
        &format!("verified-token cache: memory per token ({CACHED_TOKENS} tokens as auth-server issues them)"),
        format!("{:.0} bytes", cache_bytes_per_entry()?),
        Target::none(),
    );
    for loaded in [hs, ed, cold] {
        loaded.server.stop().await?;
    }
    hs_auth.stop().await?;
    ed_auth.stop().await?;
    Ok(())
}
