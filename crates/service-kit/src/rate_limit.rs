//! Rate limits: keyed token buckets (governor's GCRA), a `429` with
//! `Retry-After` when one is empty, and the client address they are keyed by.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        write!(f, "{}/{}", self.burst, crate::duration::format_duration(self.period))
    }
}

impl Rate {
    /// A rate for a limiter that is switched off.
    pub const UNLIMITED: Rate = Rate {
        burst: NonZeroU32::MAX,
        period: Duration::from_secs(1),
    };

    /// How often one request comes back: `PERIOD / N`, never less than a nanosecond.
    /// With [`Rate::tolerance`], the two numbers of GCRA (the generic cell rate algorithm)
    /// that governor counts with, and that a limiter kept in a database can count with too.
    pub fn emission_interval(self) -> Duration {
        (self.period / self.burst.get()).max(Duration::from_nanos(1))
    }

    /// How far ahead of now a key's theoretical arrival time may be for a request to
    /// pass: the emission interval times `N - 1` (the burst beyond the first request).
    pub fn tolerance(self) -> Duration {
        self.emission_interval().saturating_mul(self.burst.get() - 1)
    }

    fn quota(self) -> Quota {
        let every = self.emission_interval();
        Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(self.burst))
            .allow_burst(self.burst)
    }
}

/// `429 rate_limited` for a client that may come back after `wait`: `Retry-After` and the
/// message give it in whole seconds, rounded up, at least one. Shared by every limiter, in
/// memory or in a database, so that all refuse alike.
pub fn refusal(message: &str, wait: Duration) -> ApiError {
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    ApiError::too_many_requests(format!("{message}; try again in {seconds} s"), seconds)
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
    /// (`x-forwarded-for`, `x-real-ip`, `forwarded`); its last address is used, and a
    /// value without one is limited as a client of its own. Unset: the socket's peer
    /// address, which is the only choice when clients connect directly.
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
        buckets
            .check_key(key)
            .map_err(|not_until| refusal(self.message, not_until.wait_time_from(DefaultClock::default().now())))
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

/// Who a per-address limit counts. IPv4 clients count per address. IPv6 clients count
/// per /64: one host usually holds a whole /64 and could otherwise multiply its attempts
/// by changing address; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its
/// IPv4 address. Behind a trusted proxy, a header value that names no address (`unknown`,
/// an obfuscated `Forwarded` node, garbage) counts as itself, cut to [`UNPARSED_KEY_BYTES`]:
/// falling back to the socket's peer would put every such client in the proxy's one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    /// The /64 network of an IPv6 client (the address with its last 64 bits zero).
    V6Net(Ipv6Addr),
    /// A trusted header's value that holds no address.
    Unparsed(Box<str>),
}

/// The longest unparsed header value kept as a key, in bytes: enough to tell values
/// apart, too short to let one header fill memory.
pub const UNPARSED_KEY_BYTES: usize = 64;

impl ClientKey {
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6Net(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        }
    }

    fn unparsed(raw: &str) -> Self {
        let mut end = raw.len().min(UNPARSED_KEY_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Self::Unparsed(raw[..end].into())
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(ip) => write!(f, "{ip}"),
            Self::V6Net(net) => write!(f, "{net}/64"),
            Self::Unparsed(raw) => write!(f, "unparsed {raw:?}"),
        }
    }
}

/// Where the client address is read from: the socket, or a trusted proxy's header.
#[derive(Clone, Debug, Default)]
pub struct AddressSource {
    pub trusted_header: Option<HeaderName>,
}

impl AddressSource {
    /// The key of the client: from the last value of the trusted header if one is
    /// configured and present (see [`forwarded_client`]), otherwise from the peer of
    /// the socket (a request that did not come through the proxy).
    pub fn client_key(&self, headers: &HeaderMap, peer: IpAddr) -> ClientKey {
        let Some((name, value)) = self
            .trusted_header
            .as_ref()
            .and_then(|name| Some((name, headers.get_all(name).iter().next_back()?)))
        else {
            return ClientKey::from_ip(peer);
        };
        match forwarded_client(value.as_bytes()) {
            Ok(ip) => ClientKey::from_ip(ip),
            Err(raw) => {
                let key = ClientKey::unparsed(&raw);
                warn_unparsed(name, &key);
                key
            }
        }
    }
}

/// The client address in a trusted proxy header's value: the last entry of an
/// `X-Forwarded-For` list (the one the proxy appended), an `X-Real-IP`, or the `for=`
/// of the last element of an RFC 7239 `Forwarded` header; IPv4 with or without a port,
/// IPv6 bare or in brackets with or without a port, quoted or not. When there is no
/// address, the text that was read instead (that entry, or its `for=` value).
pub fn forwarded_client(value: &[u8]) -> Result<IpAddr, String> {
    let value = String::from_utf8_lossy(value);
    let last = after_last_unquoted(&value, ',').trim();
    // `Forwarded` elements are `name=value` pairs; the others hold the node alone.
    let node = if last.contains('=') {
        split_unquoted(last, ';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
            .map_or(last, |(_, node)| unquote(node.trim()))
    } else {
        unquote(last)
    };
    parse_node(node).ok_or_else(|| node.to_owned())
}

/// What follows the last `separator` outside a quoted string: all of `value` if none.
fn after_last_unquoted(value: &str, separator: char) -> &str {
    let mut quoted = false;
    let mut start = 0;
    for (at, c) in value.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            start = at + c.len_utf8();
        }
    }
    &value[start..]
}

/// `value` split at each `separator` outside a quoted string, front to back.
fn split_unquoted(value: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    value.split(move |c| {
        if c == '"' {
            quoted = !quoted;
        }
        c == separator && !quoted
    })
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// An address, with or without a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`. The port is never read (RFC 7239 allows
/// obfuscated ones such as `_a1`).
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(bracketed) = node.strip_prefix('[') {
        let (ip, rest) = bracketed.split_once(']')?;
        if !(rest.is_empty() || rest.starts_with(':')) {
            return None;
        }
        return ip.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    // One colon: IPv4 and a port (a bare IPv6 address has parsed above).
    let (host, _port) = node.split_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// How often, at most, a header value that names no address is reported.
const UNPARSED_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Reports an unparsed trusted header value, at most once per [`UNPARSED_WARNING_EVERY`]
/// (with how many came since the last report), so a misconfigured proxy is noticed
/// without a line per request.
fn warn_unparsed(header: &HeaderName, key: &ClientKey) {
    /// When the last report was, and how many values came since.
    static LAST: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));
    let Ok(mut last) = LAST.lock() else {
        return;
    };
    last.1 += 1;
    if last.0.is_some_and(|at| at.elapsed() < UNPARSED_WARNING_EVERY) {
        return;
    }
    let count = std::mem::take(&mut last.1);
    last.0 = Some(Instant::now());
    drop(last);
    tracing::warn!(
        header = %header,
        client = %key,
        count,
        "the trusted proxy header names no client address; such requests are limited per value"
    );
}

/// The client, as [`AddressSource`] (an extension the server installs) says to read it,
/// keyed for the per-address limits. Needs the server to be served with connect info.
impl<S: Send + Sync> FromRequestParts<S> for ClientKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal("the server is not served with connect info"))?;
        Ok(match parts.extensions.get::<AddressSource>() {
            Some(source) => source.client_key(&parts.headers, peer),
            None => ClientKey::from_ip(peer),
        })
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

    fn key(ip: &str) -> ClientKey {
        ClientKey::from_ip(ip.parse().expect("an ip"))
    }

    #[test]
    fn the_client_comes_from_the_trusted_header_only_when_configured() {
        let peer: IpAddr = "10.0.0.1".parse().expect("an ip");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().expect("a value"));
        assert_eq!(
            AddressSource::default().client_key(&headers, peer),
            ClientKey::from_ip(peer)
        );

        let trusted = AddressSource {
            trusted_header: Some(HeaderName::from_static("x-forwarded-for")),
        };
        assert_eq!(trusted.client_key(&headers, peer), key("198.51.100.7"));
        assert_eq!(
            trusted.client_key(&HeaderMap::new(), peer),
            ClientKey::from_ip(peer),
            "absent: the peer"
        );
        headers.insert("x-forwarded-for", "[2001:db8::1]:443".parse().expect("a value"));
        assert_eq!(trusted.client_key(&headers, peer), key("2001:db8::1"));
        // Of several header lines, the last one's last entry.
        headers.append(
            "x-forwarded-for",
            "198.51.100.1, 198.51.100.2".parse().expect("a value"),
        );
        assert_eq!(trusted.client_key(&headers, peer), key("198.51.100.2"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_clients_by_their_address() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_ne!(key("203.0.113.1"), key("203.0.113.2"));
        assert_eq!(key("203.0.113.1").to_string(), "203.0.113.1");
        // IPv4-mapped addresses are IPv4 clients, not one shared ::ffff:0:0/64.
        assert_eq!(key("::ffff:203.0.113.1"), key("203.0.113.1"));
        assert_ne!(key("::ffff:203.0.113.1"), key("::ffff:203.0.113.2"));
    }

    #[test]
    fn the_common_forms_of_proxy_headers_are_read() {
        for (value, client) in [
            // X-Real-IP, X-Forwarded-For
            ("203.0.113.9", "203.0.113.9"),
            (" 203.0.113.9 ", "203.0.113.9"),
            ("198.51.100.7, 203.0.113.9", "203.0.113.9"),
            ("198.51.100.7,203.0.113.9:8080", "203.0.113.9"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("198.51.100.7, [2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:203.0.113.9", "::ffff:203.0.113.9"),
            // RFC 7239 Forwarded, its section 4 and 7.1 examples among them
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=192.0.2.43, for=198.51.100.17", "198.51.100.17"),
            ("for=\"_gazonk\", for=\"192.0.2.60:_a1\"", "192.0.2.60"),
            ("proto=https;FOR=\"198.51.100.17:8080\"", "198.51.100.17"),
            ("for=\"[2001:db8::9]\";by=\"[2001:db8::1]:80\"", "2001:db8::9"),
            // A quoted comma does not split elements.
            ("for=\"192.0.2.1\";x=\"a,b\"", "192.0.2.1"),
        ] {
            let read = forwarded_client(value.as_bytes());
            assert_eq!(read, Ok(client.parse().expect("an ip")), "{value:?}");
        }
    }

    #[test]
    fn values_without_an_address_are_returned_as_read() {
        for (value, read) in [
            ("unknown", "unknown"),
            ("203.0.113.9, unknown", "unknown"),
            ("for=unknown", "unknown"),
            ("for=192.0.2.43, for=\"_hidden\";proto=https", "_hidden"),
            ("proto=https", "proto=https"),
            ("garbage", "garbage"),
            ("203.0.113.256", "203.0.113.256"),
            ("[2001:db8::1]443", "[2001:db8::1]443"),
            ("", ""),
        ] {
            assert_eq!(forwarded_client(value.as_bytes()), Err(read.to_owned()), "{value:?}");
        }
    }

    #[test]
    fn an_unparsed_value_is_a_key_of_its_own_and_of_bounded_length() {
        let peer: IpAddr = "10.0.0.1".parse().expect("an ip");
        let trusted = AddressSource {
            trusted_header: Some(HeaderName::from_static("x-real-ip")),
        };
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-real-ip", value.parse().expect("a value"));
            trusted.client_key(&headers, peer)
        };
        assert_eq!(with("unknown"), ClientKey::Unparsed("unknown".into()));
        assert_ne!(with("unknown"), ClientKey::from_ip(peer), "not the proxy's own key");
        assert_ne!(with("unknown"), with("garbage"));
        let long = with(&"é".repeat(100));
        let ClientKey::Unparsed(raw) = &long else {
            panic!("{long:?}")
        };
        assert!(
            raw.len() <= UNPARSED_KEY_BYTES && raw.len() >= UNPARSED_KEY_BYTES - 1,
            "{raw}"
        );
        assert_eq!(
            long,
            with(&"é".repeat(200)),
            "values alike in their first bytes share a key"
        );
    }
}
