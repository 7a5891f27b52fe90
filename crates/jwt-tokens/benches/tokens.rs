//! The token work on every request: verifying an access token (posts-server,
//! each `GET /posts`) and issuing one (auth-server, each `/login` and `/token`).
//! `bench/run` reads the medians from `target/criterion/access_token/*/new/estimates.json`;
//! `verify_by_library` is the reference `verify` is compared with, not a row of its table.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_tokens::{AccessTokens, KeySet, Secret, TokenSettings};

fn tokens() -> AccessTokens {
    let keys = KeySet::single(&Secret::new("a-benchmark-secret-of-at-least-32-bytes!")).expect("a long enough secret");
    let settings = TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    };
    AccessTokens::new(keys, &settings)
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

criterion_group!(benches, access_token);
criterion_main!(benches);
