//! The token work on every request: verifying an access token (posts-server,
//! each `GET /posts`) and issuing one (auth-server, each `/login` and `/token`).
//! `bench/run` reads the medians from `target/criterion/access_token/*/new/estimates.json`
//! and `target/criterion/access_token_eddsa/*/new/estimates.json`; `verify_by_library` is the
//! reference `verify` is compared with, not a row of its table.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_tokens::{AccessTokens, Ed25519PrivateKey, KeySet, Secret, TokenSettings, VerifyReason};

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    }
}

fn tokens() -> AccessTokens {
    let keys = KeySet::single(&Secret::new("a-benchmark-secret-of-at-least-32-bytes!")).expect("a long enough secret");
    AccessTokens::new(keys, &settings())
}

fn access_token(c: &mut Criterion) {
    let tokens = tokens();
    let ttl = Duration::from_secs(900);
    let sid = "5f0c7a52-0d1e-4a52-9d0c-2b8c0f1e7a11";
    let user = "0b6f3c1e-8a4d-4c7b-9e2f-6d5a4b3c2d1e";
    let mut group = c.benchmark_group("access_token");
    group.bench_function("issue", |b| {
        b.iter(|| tokens.issue(black_box(user), black_box("Kyle"), black_box(sid), ttl))
    });
    let token = tokens.issue(user, "Kyle", sid, ttl).expect("issued");
    group.bench_function("verify", |b| b.iter(|| tokens.verify(black_box(&token))));
    // The same token through jsonwebtoken alone: what the fast path is measured against.
    group.bench_function("verify_by_library", |b| {
        b.iter(|| tokens.verify_by_library(black_box(&token)))
    });
    group.finish();
}

/// EdDSA: issuing (auth-server), and verifying as posts-server does, from the published keys:
/// the first time a token is seen (`verify_cold`: the cache off, an Ed25519 verification every
/// time) and every time after (`verify_cached`).
fn access_token_eddsa(c: &mut Criterion) {
    let key = Ed25519PrivateKey::generate().expect("a key");
    let issuer = AccessTokens::new(KeySet::ed25519(&key, &[]).expect("keys"), &settings());
    let published = || KeySet::from_jwks(issuer.jwks().as_bytes()).expect("the JWK Set");
    let cold = AccessTokens::following(&settings()).with_verified_cache(0);
    cold.replace_keys(published()).expect("keys");
    let cached = AccessTokens::following(&settings());
    cached.replace_keys(published()).expect("keys");
    let ttl = Duration::from_secs(900);
    let sid = "5f0c7a52-0d1e-4a52-9d0c-2b8c0f1e7a11";
    let user = "0b6f3c1e-8a4d-4c7b-9e2f-6d5a4b3c2d1e";
    let mut group = c.benchmark_group("access_token_eddsa");
    group.bench_function("issue", |b| {
        b.iter(|| issuer.issue(black_box(user), black_box("Kyle"), black_box(sid), ttl))
    });
    let token = issuer.issue(user, "Kyle", sid, ttl).expect("issued");
    group.bench_function("verify_cold", |b| b.iter(|| cold.verify(black_box(&token))));
    cached.verify(&token).expect("valid");
    group.bench_function("verify_cached", |b| b.iter(|| cached.verify(black_box(&token))));
    group.finish();
}

/// Ended sessions the set holds in `verify_held_100k` and `verify_ended_100k`, as many as the
/// harness's `GET /posts` measurement holds.
const HELD: usize = 100_000;

/// The ended-session lookup every verify makes: a valid HS256 token verified with no ended
/// session held (`verify_empty`) and with [`HELD`] of them, none its own (`verify_held_100k`);
/// their difference is what the lookup costs, and `lookup_100k` is the lookup alone (a session
/// not among them), steadier than a difference of two microsecond figures. `verify_ended_100k`:
/// a token whose session is one of them, refused.
fn access_token_ended(c: &mut Criterion) {
    let ttl = Duration::from_secs(900);
    let user = "0b6f3c1e-8a4d-4c7b-9e2f-6d5a4b3c2d1e";
    let sid = "5f0c7a52-0d1e-4a52-9d0c-2b8c0f1e7a11";
    let until = jwt_tokens::now_unix() + 3600;
    let empty = tokens();
    let held = tokens();
    // Session ids as auth-server makes them: uuids.
    let ended: Vec<String> = (0..HELD).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for ended_sid in &ended {
        held.ended().insert(ended_sid, until);
    }
    assert_eq!(held.ended().len(), HELD, "every ended session held");
    let token = empty.issue(user, "Kyle", sid, ttl).expect("issued");
    let refused = held.issue(user, "Kyle", &ended[HELD / 2], ttl).expect("issued");
    assert!(
        empty.verify(&token).is_ok() && held.verify(&token).is_ok(),
        "the token is valid"
    );
    assert_eq!(
        held.verify(&refused).map_err(|e| e.reason).err(),
        Some(VerifyReason::SessionEnded),
        "an ended session's token is refused"
    );
    let mut group = c.benchmark_group("access_token_ended");
    group.bench_function("verify_empty", |b| b.iter(|| empty.verify(black_box(&token))));
    group.bench_function("verify_held_100k", |b| b.iter(|| held.verify(black_box(&token))));
    group.bench_function("verify_ended_100k", |b| b.iter(|| held.verify(black_box(&refused))));
    // The lookup alone, for a session not among them: what `verify` adds to a valid token.
    group.bench_function("lookup_100k", |b| b.iter(|| held.ended().contains(black_box(sid))));
    group.finish();
}

criterion_group!(benches, access_token, access_token_eddsa, access_token_ended);
criterion_main!(benches);
