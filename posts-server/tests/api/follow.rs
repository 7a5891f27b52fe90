//! Following auth-server's published keys (`ACCESS_TOKEN_ALG=EdDSA`), seen from outside: a
//! server is not ready until it has keys; a flood of tokens naming unknown `kid`s fetches the
//! keys at most once per interval; keys held keep verifying while the auth server is gone; a
//! key removed from the set stops verifying at the next refresh, even for a token that verified
//! before; and a URL or key found in a token is never followed. Each test has a key server of
//! its own (`crate::jwks`), which counts what the posts server asks of it.

use std::sync::Arc;
use std::time::Duration;

use jwt_tokens::Ed25519PrivateKey;
use reqwest::Response;
use serde_json::json;
use test_support::jose::{craft_eddsa, with};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::binary::POSTS_SERVER;
use crate::helpers::{
    ACCESS_SECRET, TestApp, TestDir, assert_bearer_error, assert_error, claims_for, config, issuer_key, spawn_app_with,
    start_app, test_data, token_for, tokens_signed_by, use_eddsa,
};
use crate::jwks::{JwksServer, jwks};

/// How often the servers of these tests fetch the keys again: the shortest `AUTH_KEYS_REFRESH`,
/// which is also the shortest time between two fetches a token can cause.
const REFRESH: Duration = Duration::from_secs(1);

const UNKNOWN_KEY: &str = "the access token was not signed with a known key";

fn generated() -> Ed25519PrivateKey {
    Ed25519PrivateKey::generate().expect("an Ed25519 key")
}

fn pem_of(key: &Ed25519PrivateKey) -> String {
    key.to_pkcs8_pem().expect("PKCS#8 PEM").expose().to_owned()
}

/// A fresh token signed by `key` (never presented before, so no server has it remembered).
fn token_of(key: &Ed25519PrivateKey) -> String {
    tokens_signed_by(key)
        .issue("user-1", "ann", "session-1", Duration::from_secs(900))
        .expect("sign a token")
}

/// A server following `keys`, fetching them every [`REFRESH`], ready (it has keys).
async fn following(keys: &JwksServer) -> TestApp {
    spawn_app_with(|config| use_eddsa(config, &keys.url(), REFRESH)).await
}

async fn assert_refused(response: Response, message: &str) {
    assert_eq!(response.status(), 403, "refused: {message}");
    let body = assert_bearer_error(response, 403, "invalid_token").await;
    assert_eq!(body["message"], message, "{body}");
}

#[tokio::test]
async fn readyz_is_503_until_the_auth_server_publishes_keys_then_200() {
    let keys = JwksServer::start();
    let data = Arc::new(test_data().await);
    let mut settings = config(data.database_url());
    use_eddsa(&mut settings, &keys.url(), REFRESH);
    let app = start_app(data, settings).await;

    // It has asked, and been given an empty set (an auth server in HS256 mode).
    keys.wait_for_requests(1).await;
    let body = assert_error(app.readyz().await, 503, "unavailable").await;
    let port = keys.url().rsplit(':').next().expect("a port").to_owned();
    assert!(!body.to_string().contains(&port), "the AUTH_URL is not told: {body}");
    assert_refused(app.get_posts(&token_for("user-1", "ann")).await, UNKNOWN_KEY).await;
    let healthz = app.client.get(app.url("/healthz")).send().await.expect("GET /healthz");
    assert_eq!(healthz.status(), 200, "alive, only not ready");

    keys.serve(jwks(&[issuer_key().public_key()]));
    app.wait_until_ready().await;
    assert_eq!(app.get_posts(&token_for("user-1", "ann")).await.status(), 200);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_keys_at_most_once_per_interval() {
    let keys = JwksServer::start();
    keys.serve(jwks(&[issuer_key().public_key()]));
    let app = following(&keys).await;
    let attacker = pem_of(&generated());
    let claims = serde_json::to_value(claims_for("user-1")).expect("claims as JSON");
    let flood: Vec<String> = (0..200)
        .map(|n| {
            let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": format!("unknown-kid-{n}") });
            craft_eddsa(&header, &claims, &attacker)
        })
        .collect();

    // Four attackers, each sending its 50 tokens one after the other, for more than one
    // interval in all.
    let fetched = keys.requests();
    let started = Instant::now();
    let mut attackers = tokio::task::JoinSet::new();
    for tokens in flood.chunks(50) {
        let (client, url, tokens) = (app.client.clone(), app.url("/posts"), tokens.to_vec());
        attackers.spawn(async move {
            let mut answers = Vec::new();
            for token in tokens {
                answers.push(client.get(&url).bearer_auth(token).send().await.expect("GET /posts"));
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            answers
        });
    }
    let mut answers = 0;
    while let Some(sent) = attackers.join_next().await {
        for response in sent.expect("the attacker task") {
            assert_refused(response, UNKNOWN_KEY).await;
            answers += 1;
        }
    }
    let elapsed = started.elapsed();
    let fetches = keys.requests() - fetched;

    assert_eq!(answers, 200);
    // Fetches begin at least an interval apart, whatever their cause: one may have begun just
    // before the flood, and one in each interval it lasted.
    let bound = usize::try_from(elapsed.as_nanos().div_ceil(REFRESH.as_nanos())).expect("a small count") + 1;
    assert!(
        fetches <= bound,
        "200 tokens naming unknown kids in {elapsed:?} made {fetches} fetches of the key set: at most {bound}"
    );
    assert_eq!(app.get_posts(&token_for("user-1", "ann")).await.status(), 200);
}

/// The key server stops (the auth server went away, its host now closing every connection):
/// the posts server goes on verifying with the keys it has, tokens it has seen and tokens it
/// has not, and stays ready.
#[tokio::test]
async fn tokens_keep_verifying_while_the_auth_server_is_unreachable() {
    let keys = JwksServer::start();
    keys.serve(jwks(&[issuer_key().public_key()]));
    let app = following(&keys).await;
    let seen = token_for("user-1", "ann");
    assert_eq!(app.get_posts(&seen).await.status(), 200);

    let addr = keys.url().trim_start_matches("http://").to_owned();
    drop(keys);
    let gone = TcpListener::bind(&addr).await.expect("the key server's port, again");
    // Each fetch opens at most two connections (one retried once): a third means that a fetch
    // has failed and the next has begun.
    let deadline = Instant::now() + Duration::from_secs(10);
    for attempt in 1..=3 {
        let accepted = tokio::time::timeout_at(deadline, gone.accept()).await;
        let (connection, _) = accepted
            .unwrap_or_else(|_| panic!("connection {attempt} to the gone auth server within 10s"))
            .expect("a connection");
        drop(connection);
    }

    assert_eq!(app.get_posts(&seen).await.status(), 200, "a token seen before");
    assert_eq!(
        app.get_posts(&token_of(&issuer_key())).await.status(),
        200,
        "a token not seen before"
    );
    assert_eq!(app.readyz().await.status(), 200);
}

#[tokio::test]
async fn a_key_removed_from_the_set_stops_verifying_at_the_next_refresh_even_for_a_token_seen_before() {
    let current = issuer_key();
    let retired = generated();
    let keys = JwksServer::start();
    keys.serve(jwks(&[current.public_key(), retired.public_key()]));
    let app = following(&keys).await;
    let seen = token_of(&retired);
    for _ in 0..2 {
        // The second time, from what the server remembers of it.
        assert_eq!(app.get_posts(&seen).await.status(), 200, "a published key verifies");
    }

    keys.serve(jwks(&[current.public_key()]));
    keys.wait_until_followed().await;

    assert_refused(app.get_posts(&seen).await, UNKNOWN_KEY).await;
    assert_refused(app.get_posts(&token_of(&retired)).await, UNKNOWN_KEY).await;
    assert_eq!(app.get_posts(&token_of(&current)).await.status(), 200);
}

/// A token naming a key set (`jku`), a certificate (`x5u`) or carrying its key (`jwk`) is
/// refused, and nothing it names is ever asked for: not while it is verified, not by the
/// follower afterwards, though the URL is live and serves the key that signed the token.
#[tokio::test]
async fn a_url_or_key_in_a_token_is_never_followed() {
    let keys = JwksServer::start();
    keys.serve(jwks(&[issuer_key().public_key()]));
    let attacker = generated();
    let attacker_kid = attacker.public_key().kid();
    let attacker_set = JwksServer::start();
    attacker_set.serve(jwks(&[attacker.public_key()]));
    let app = following(&keys).await;
    let claims = serde_json::to_value(claims_for("user-1")).expect("claims as JSON");
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": attacker_kid });
    let signed = |header: serde_json::Value| craft_eddsa(&header, &claims, &pem_of(&attacker));
    let set_url = format!("{}/.well-known/jwks.json", attacker_set.url());

    for (name, token, message) in [
        (
            "jku",
            signed(with(header.clone(), "jku", json!(set_url))),
            "the access token carries a `jku` header, which is not accepted",
        ),
        (
            "jku without a kid",
            signed(json!({ "alg": "EdDSA", "typ": "at+jwt", "jku": set_url })),
            "the access token carries a `jku` header, which is not accepted",
        ),
        (
            "x5u",
            signed(with(
                header.clone(),
                "x5u",
                json!(format!("{}/cert.pem", attacker_set.url())),
            )),
            "the access token carries a `x5u` header, which is not accepted",
        ),
        (
            "jwk",
            signed(with(header.clone(), "jwk", attacker.public_key().jwk(&attacker_kid))),
            "the access token carries a `jwk` header, which is not accepted",
        ),
    ] {
        let body = assert_bearer_error(app.get_posts(&token).await, 403, "invalid_token").await;
        assert_eq!(body["message"], message, "{name}: {body}");
    }
    // The follower has fetched the keys since, and the attacker's key is still unknown to it.
    keys.wait_for_requests(keys.requests() + 1).await;
    assert_refused(app.get_posts(&signed(header)).await, UNKNOWN_KEY).await;
    assert_eq!((attacker_set.connections(), attacker_set.requests()), (0, 0));
}

/// `ACCESS_TOKEN_ALG=EdDSA` needs `AUTH_URL`, and takes no access secret (one left over from
/// HS256 would let its holder go on minting tokens elsewhere): the binary refuses to start
/// without the one or with the other, naming it, and never printing the secret.
#[tokio::test]
async fn the_binary_refuses_eddsa_without_auth_url_or_with_an_access_secret() {
    let keys = JwksServer::start();
    let dir = TestDir::new();

    let mut without_url = POSTS_SERVER.command(dir.path());
    without_url.env("ACCESS_TOKEN_ALG", "EdDSA");
    POSTS_SERVER
        .refused_start(&mut without_url)
        .await
        .assert_one_line_naming("AUTH_URL");

    let mut with_secret = POSTS_SERVER.command(dir.path());
    with_secret
        .env("ACCESS_TOKEN_ALG", "EdDSA")
        .env("AUTH_URL", keys.url())
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET);
    let refusal = POSTS_SERVER.refused_start(&mut with_secret).await;
    refusal.assert_one_line_naming("ACCESS_TOKEN_SECRET");
    assert!(!refusal.stderr.contains(ACCESS_SECRET), "{}", refusal.stderr);
    assert_eq!(keys.requests(), 0, "refused before it asked for keys");
}

/// A token naming a `kid` the verifier does not know wakes the follower: the next key, published
/// after the last fetch, arrives long before the next periodic refresh (a minute here). The
/// follower is driven directly, with a short minimum interval, so that the wake-up is told
/// apart from the refresh in well under a second instead of the 10 s a server waits at least.
#[tokio::test]
async fn a_token_naming_an_unknown_kid_fetches_the_keys_before_the_next_refresh() {
    use jwt_tokens::follow::KeyFollower;
    use jwt_tokens::{AccessTokens, VerifyReason};

    let keys = JwksServer::start();
    let (current, next) = (generated(), generated());
    keys.serve(jwks(&[current.public_key()]));
    let verifier = Arc::new(AccessTokens::following(&crate::helpers::settings()));
    let follower = KeyFollower::new(Arc::clone(&verifier), vec![keys.url()], Duration::from_secs(60))
        .expect("a follower")
        .with_min_interval(Duration::from_millis(200));
    let following = tokio::spawn(follower.run());
    keys.wait_for_requests(1).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !verifier.has_keys() {
        assert!(Instant::now() < deadline, "the first key set never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    keys.serve(jwks(&[current.public_key(), next.public_key()]));
    let token = token_of(&next);
    let refused = verifier.verify(&token).expect_err("the next key is not known yet");
    assert_eq!(refused.reason, VerifyReason::UnknownKey);
    let woken = Instant::now();
    while verifier.verify(&token).is_err() {
        assert!(
            woken.elapsed() < Duration::from_secs(5),
            "the unknown kid did not make the follower fetch the keys again ({} fetches)",
            keys.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(keys.requests(), 2, "one fetch at start, one woken by the token");
    following.abort();
}
