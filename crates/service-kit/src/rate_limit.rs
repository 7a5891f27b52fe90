//! Rate limits: keyed token buckets (governor's GCRA), a `429` with
//! `Retry-After` when one is empty, and the client address they are keyed by.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use clap::{Args, ValueEnum};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::ApiError;
use crate::duration::parse_duration;

/// `N/PERIOD`: up to `N` requests at once, refilled evenly over `PERIOD`
/// (`5/1m` allows a burst of 5, then one more every 12 seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub burst: NonZeroU32,
    pub period: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let wrong = || format!("expected N/PERIOD such as 10/1m, got {value:?}");
        let (count, period) = value.split_once('/').ok_or_else(wrong)?;
        let burst = count.trim().parse::<NonZeroU32>().map_err(|_| wrong())?;
        let period = parse_duration(period.trim()).map_err(|_| wrong())?;
        if period.is_zero() {
            return Err(wrong());
        }
        Ok(Self { burst, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.burst, humantime::format_duration(self.period))
    }
}

impl Rate {
    /// A rate for a limiter that is switched off.
    pub const UNLIMITED: Rate = Rate {
        burst: NonZeroU32::MAX,
        period: Duration::from_secs(1),
    };

    fn quota(self) -> Quota {
        // One cell comes back every period / burst; never less than a nanosecond.
        let every = (self.period / self.burst.get()).max(Duration::from_nanos(1));
        Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(self.burst))
            .allow_burst(self.burst)
    }
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// The settings every server shares: the master switch and where the client address comes from.
#[derive(Args, Debug, Clone)]
pub struct RateLimitArgs {
    /// `off` turns every rate limit off (load tests, trusted networks).
    #[arg(long, env = "RATE_LIMITS", default_value = "on")]
    pub rate_limits: Switch,

    /// A header set by a reverse proxy you trust, holding the client's address
    /// (`x-forwarded-for`, `x-real-ip`); its last address is used. Unset: the
    /// socket's peer address, which is the only choice when clients connect directly.
    #[arg(long, env = "TRUSTED_PROXY_HEADER")]
    pub trusted_proxy_header: Option<HeaderName>,
}

impl RateLimitArgs {
    pub fn enabled(&self) -> bool {
        self.rate_limits == Switch::On
    }
}

/// A rate limit per key (a client address, a username, a user id).
/// Off, it lets everything through and keeps nothing.
pub struct Limiter<K: Hash + Eq + Clone> {
    buckets: Option<DefaultKeyedRateLimiter<K>>,
    message: &'static str,
}

impl<K: Hash + Eq + Clone> fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("enabled", &self.buckets.is_some())
            .field("message", &self.message)
            .finish()
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `message` is what a refused client reads, such as "too many login attempts".
    pub fn new(rate: Rate, enabled: bool, message: &'static str) -> Self {
        Self {
            buckets: enabled.then(|| RateLimiter::keyed(rate.quota())),
            message,
        }
    }

    /// Takes one request from `key`'s bucket, or says when to come back:
    /// `429 rate_limited` with `Retry-After` in whole seconds.
    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        buckets.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::too_many_requests(format!("{}; try again in {} s", self.message, seconds.max(1)), seconds)
        })
    }

    /// Forgets keys whose buckets are full again, so memory follows the
    /// number of recent clients rather than every client ever seen.
    pub fn forget_idle(&self) {
        if let Some(buckets) = &self.buckets {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.buckets.as_ref().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Something that remembers clients and can forget the idle ones.
pub trait ForgetIdle: Send + Sync {
    fn forget_idle(&self);
}

impl<K: Hash + Eq + Clone + Send + Sync> ForgetIdle for Limiter<K> {
    fn forget_idle(&self) {
        Limiter::forget_idle(self);
    }
}

/// Every `interval`, forgets the idle keys of `limiters`; runs until dropped or aborted.
pub async fn forget_idle_every(interval: Duration, limiters: Vec<std::sync::Arc<dyn ForgetIdle>>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for limiter in &limiters {
            limiter.forget_idle();
        }
    }
}

/// Where the client address is read from: the socket, or a trusted proxy's header.
#[derive(Clone, Debug, Default)]
pub struct AddressSource {
    pub trusted_header: Option<HeaderName>,
}

impl AddressSource {
    /// The client's address: the last valid address in the trusted header if
    /// one is configured and present (the one the proxy itself appended),
    /// otherwise the peer of the socket.
    pub fn client_ip(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        self.trusted_header
            .as_ref()
            .and_then(|name| forwarded_ip(headers, name))
            .unwrap_or(peer)
    }
}

fn forwarded_ip(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let last = headers.get_all(name).iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address, as [`AddressSource`] (an extension the server
/// installs) says to read it. Needs the server to be served with connect info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal("the server is not served with connect info"))?;
        let ip = match parts.extensions.get::<AddressSource>() {
            Some(source) => source.client_ip(&parts.headers, peer),
            None => peer,
        };
        Ok(Self(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_refuse_nonsense() {
        let rate: Rate = "5/1m".parse().expect("a rate");
        assert_eq!(rate.burst.get(), 5);
        assert_eq!(rate.period, Duration::from_secs(60));
        for bad in ["", "5", "0/1m", "x/1m", "5/", "5/0s", "5/soon", "-1/1m"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_bucket_empties_then_says_when_to_come_back() {
        let limiter = Limiter::new("2/1h".parse().expect("a rate"), true, "too many tries");
        assert!(limiter.check(&"a").is_ok());
        assert!(limiter.check(&"a").is_ok());
        let refused = limiter.check(&"a").expect_err("the third is refused");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code(), "rate_limited");
        // Half an hour until one request comes back.
        assert!(
            refused.message().contains("try again in 1800 s"),
            "{}",
            refused.message()
        );
        assert!(limiter.check(&"b").is_ok(), "other keys have their own bucket");
    }

    #[test]
    fn off_lets_everything_through_and_remembers_nothing() {
        let limiter = Limiter::new("1/1h".parse().expect("a rate"), false, "too many tries");
        for _ in 0..10 {
            assert!(limiter.check(&"a").is_ok());
        }
        assert!(limiter.is_empty());
    }

    #[test]
    fn the_client_address_comes_from_the_trusted_header_only_when_configured() {
        let peer: IpAddr = "10.0.0.1".parse().expect("an ip");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().expect("a value"));
        assert_eq!(AddressSource::default().client_ip(&headers, peer), peer);

        let trusted = AddressSource {
            trusted_header: Some(HeaderName::from_static("x-forwarded-for")),
        };
        let last: IpAddr = "198.51.100.7".parse().expect("an ip");
        assert_eq!(trusted.client_ip(&headers, peer), last);
        assert_eq!(trusted.client_ip(&HeaderMap::new(), peer), peer, "absent: the peer");
        headers.insert("x-forwarded-for", "not an address".parse().expect("a value"));
        assert_eq!(trusted.client_ip(&headers, peer), peer, "unparsable: the peer");
        headers.insert("x-forwarded-for", "[2001:db8::1]:443".parse().expect("a value"));
        assert_eq!(
            trusted.client_ip(&headers, peer),
            "2001:db8::1".parse::<IpAddr>().expect("an ip")
        );
    }
}
