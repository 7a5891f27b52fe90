//! Rate limits: `/login` per username and per client address, `/register` and
//! `/token` per client address; `429` with `Retry-After` and the JSON error.

use std::time::Duration;

use auth_server::Config;
use reqwest::Response;
use serde_json::json;
use service_kit::rate_limit::Switch;

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app_with};

/// Rate limits on, with the given changes to the defaults.
fn limited(adjust: impl FnOnce(&mut Config)) -> impl FnOnce(&mut Config) {
    move |config| {
        config.server.limits.rate_limits = Switch::On;
        adjust(config);
    }
}

fn rate(value: &str) -> service_kit::rate_limit::Rate {
    value.parse().expect("a rate")
}

/// A `429 rate_limited` with a whole number of seconds in `Retry-After`; returns that number.
async fn assert_limited(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ASCII")
        .parse::<u64>()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body = assert_error(response, 429, "rate_limited").await;
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("try again in"), "{message}");
    retry_after
}

async fn login_from(app: &TestApp, forwarded_for: &str, username: &str) -> Response {
    login_through_proxy(app, "x-forwarded-for", forwarded_for, username).await
}

/// A wrong-password login with `header: value`, as a proxy in front of the server would send it.
async fn login_through_proxy(app: &TestApp, header: &str, value: &str, username: &str) -> Response {
    app.client
        .post(app.url("/login"))
        .header(header, value)
        .json(&json!({ "username": username, "password": "not the password" }))
        .send()
        .await
        .expect("POST /login")
}

/// Behind a proxy that sets `header`, with `rate_per_address` per client address and no
/// limit per username to speak of.
async fn behind_proxy(header: &'static str, rate_per_address: &'static str) -> TestApp {
    spawn_app_with(limited(move |c| {
        c.login_rate_per_address = rate(rate_per_address);
        c.login_rate_per_username = rate("1000/1m");
        c.server.limits.trusted_proxy_header = Some(header.parse().expect("a header name"));
    }))
    .await
}

#[tokio::test]
async fn login_is_limited_per_username_whatever_the_case_and_even_for_the_right_password() {
    let app = spawn_app_with(limited(|c| c.login_rate_per_username = rate("3/1h"))).await;
    app.registered("alice", PASSWORD).await;

    for username in ["alice", "ALICE", "Alice"] {
        assert_eq!(app.login(username, "wrong password").await.status(), 401);
    }
    let retry_after = assert_limited(app.login("alice", "wrong password").await).await;
    // One attempt comes back every 20 minutes.
    assert!((1100..=1200).contains(&retry_after), "Retry-After {retry_after}");
    // The right password waits too: a guesser cannot tell a hit from a miss.
    assert_limited(app.login("alice", PASSWORD).await).await;

    // Another user is not held back by alice's attacker.
    app.registered("bob", PASSWORD).await;
    app.logged_in("bob", PASSWORD).await;
}

#[tokio::test]
async fn login_is_limited_per_client_address_across_usernames() {
    let app = spawn_app_with(limited(|c| c.login_rate_per_address = rate("4/1h"))).await;
    for n in 0..4 {
        let status = app.login(&format!("user{n}"), PASSWORD).await.status();
        assert_eq!(status, 401);
    }
    assert_limited(app.login("user4", PASSWORD).await).await;
}

#[tokio::test]
async fn register_is_limited_per_client_address() {
    let app = spawn_app_with(limited(|c| c.register_rate_per_address = rate("2/1h"))).await;
    app.registered("alice", PASSWORD).await;
    app.registered("bob", PASSWORD).await;
    assert_limited(app.register("carol", PASSWORD).await).await;
}

#[tokio::test]
async fn token_is_limited_per_client_address() {
    let app = spawn_app_with(limited(|c| c.token_rate_per_address = rate("3/1h"))).await;
    let (_, login) = app.user_with_session("alice").await;
    let mut current = login;
    for _ in 0..3 {
        current = app.refreshed(&current.refresh).await;
    }
    assert_limited(app.refresh(&current.refresh).await).await;
}

#[tokio::test]
async fn a_limited_client_is_let_through_again_after_retry_after() {
    let app = spawn_app_with(limited(|c| c.login_rate_per_username = rate("1/1s"))).await;
    app.registered("alice", PASSWORD).await;
    app.logged_in("alice", PASSWORD).await;
    let retry_after = assert_limited(app.login("alice", PASSWORD).await).await;
    assert_eq!(retry_after, 1);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;

    app.logged_in("alice", PASSWORD).await;
}

#[tokio::test]
async fn a_forwarded_for_header_is_ignored_unless_configured() {
    let app = spawn_app_with(limited(|c| c.login_rate_per_address = rate("2/1h"))).await;
    // A client cannot escape its limit by claiming other addresses.
    assert_eq!(login_from(&app, "203.0.113.1", "alice").await.status(), 401);
    assert_eq!(login_from(&app, "203.0.113.2", "bob").await.status(), 401);
    assert_limited(login_from(&app, "203.0.113.3", "carol").await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(limited(|c| {
        c.login_rate_per_address = rate("2/1h");
        c.server.limits.trusted_proxy_header = Some("x-forwarded-for".parse().expect("a header name"));
    }))
    .await;
    // The proxy appends the address it saw; the last entry is the one to trust.
    for _ in 0..2 {
        let status = login_from(&app, "198.51.100.9, 203.0.113.1", "alice").await.status();
        assert_eq!(status, 401);
    }
    assert_limited(login_from(&app, "198.51.100.9, 203.0.113.1", "bob").await).await;
    // Another client behind the same proxy is not held back.
    assert_eq!(
        login_from(&app, "198.51.100.9, 203.0.113.2", "carol").await.status(),
        401
    );
}

#[tokio::test]
async fn ipv6_clients_of_one_64_share_one_limit_and_ipv4_clients_do_not_share() {
    let app = behind_proxy("x-forwarded-for", "2/1h").await;
    // One host with a /64 changes address at will: it is one client.
    for client in ["2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
        assert_eq!(login_from(&app, client, "alice").await.status(), 401, "{client}");
    }
    assert_limited(login_from(&app, "[2001:db8:1:2::3]:443", "alice").await).await;
    // The next /64 is another client, and so is every IPv4 address.
    assert_eq!(login_from(&app, "2001:db8:1:3::1", "alice").await.status(), 401);
    for client in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        assert_eq!(login_from(&app, client, "bob").await.status(), 401, "{client}");
    }
}

#[tokio::test]
async fn an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address() {
    let app = behind_proxy("x-forwarded-for", "2/1h").await;
    assert_eq!(login_from(&app, "203.0.113.7", "alice").await.status(), 401);
    assert_eq!(login_from(&app, "::ffff:203.0.113.7", "alice").await.status(), 401);
    assert_limited(login_from(&app, "203.0.113.7", "alice").await).await;
    // Other mapped addresses are other clients, not one ::ffff:0:0/64.
    assert_eq!(login_from(&app, "::ffff:203.0.113.8", "alice").await.status(), 401);
}

#[tokio::test]
async fn behind_a_proxy_a_value_without_an_address_is_limited_on_its_own() {
    let app = behind_proxy("x-forwarded-for", "2/1h").await;
    for _ in 0..2 {
        assert_eq!(login_from(&app, "198.51.100.9, unknown", "alice").await.status(), 401);
    }
    assert_limited(login_from(&app, "unknown", "alice").await).await;
    // Not the bucket of other values, nor that of the proxy's own address: clients whose
    // proxy cannot say who they are do not hold back every other client.
    assert_eq!(login_from(&app, "garbage", "alice").await.status(), 401);
    assert_eq!(app.login("alice", "not the password").await.status(), 401);
    assert_eq!(app.login("alice", "not the password").await.status(), 401);
    assert_eq!(login_from(&app, "203.0.113.1", "alice").await.status(), 401);
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_header_of_rfc_7239_is_read() {
    let app = behind_proxy("forwarded", "2/1h").await;
    for value in [
        "for=192.0.2.60;proto=https;by=203.0.113.43",
        "for=192.0.2.43, For=\"192.0.2.60:8080\"",
    ] {
        let status = login_through_proxy(&app, "forwarded", value, "alice").await.status();
        assert_eq!(status, 401, "{value}");
    }
    assert_limited(login_through_proxy(&app, "forwarded", "for=192.0.2.60", "alice").await).await;
    // Quoted IPv6 with a port, and the rest of its /64 without one.
    for value in ["for=\"[2001:db8:cafe::17]:4711\"", "for=\"[2001:db8:cafe::18]\""] {
        let status = login_through_proxy(&app, "forwarded", value, "alice").await.status();
        assert_eq!(status, 401, "{value}");
    }
    let value = "for=\"[2001:db8:cafe::19]:1\";proto=https";
    assert_limited(login_through_proxy(&app, "forwarded", value, "alice").await).await;
    assert_eq!(
        login_through_proxy(&app, "forwarded", "for=192.0.2.61", "alice")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn rate_limits_off_lets_everything_through() {
    let app = spawn_app_with(|c| {
        c.server.limits.rate_limits = Switch::Off;
        c.login_rate_per_username = rate("1/1h");
        c.login_rate_per_address = rate("1/1h");
    })
    .await;
    app.registered("alice", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(app.login("alice", "wrong password").await.status(), 401);
    }
    app.logged_in("alice", PASSWORD).await;
}
