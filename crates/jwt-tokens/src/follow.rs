//! Following an issuer's published keys (`ACCESS_TOKEN_ALG=EdDSA`): fetch its JWK Set at
//! start, keep it in memory, fetch it again periodically and when a token names a `kid` the
//! verifier does not know (at most once per [`min_interval`](KeyFollower::min_interval), however
//! many such tokens arrive), and keep verifying with the keys held while the issuer cannot
//! be reached. Nothing here runs on a request's path: the verifier only reads memory.
//!
//! [`SessionFollower`] follows the issuer's ended-session feed the same way, so that the
//! access tokens of sessions that end (logout, revocation) are refused within a second.
//!
//! The URL is the one configured (`AUTH_URL`); a URL or key found in a token (`jku`, `x5u`,
//! `jwk`) is never followed, and neither is a redirect.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ended::FeedHealth;
use crate::{AccessTokens, KeySet};

/// Where the issuer publishes its keys, under its base URL.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The largest key set read: a few keys take a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps an [`AccessTokens::following`] verifier's keys those its issuer publishes.
pub struct KeyFollower {
    tokens: Arc<AccessTokens>,
    /// Base URLs of the issuer's instances, tried in order.
    urls: Vec<String>,
    refresh: Duration,
    min_interval: Duration,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for KeyFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFollower")
            .field("urls", &self.urls)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl KeyFollower {
    /// A follower of the issuer at `urls` (base URLs, such as `http://127.0.0.1:4000`; the
    /// first that answers is used), fetching every `refresh`.
    pub fn new(tokens: Arc<AccessTokens>, urls: Vec<String>, refresh: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        let wake = Arc::new(Notify::new());
        let waker = Arc::clone(&wake);
        tokens.on_unknown_kid(move || waker.notify_one());
        Ok(Self {
            tokens,
            urls,
            refresh,
            min_interval: refresh.min(Duration::from_secs(10)),
            client,
            wake,
        })
    }

    /// Sets the shortest time between two fetches (by default the refresh interval, at most
    /// 10 s), at most the refresh interval.
    pub fn with_min_interval(mut self, min_interval: Duration) -> Self {
        self.min_interval = min_interval.min(self.refresh);
        self
    }

    /// The shortest time between two fetches: a flood of tokens naming unknown `kid`s makes at
    /// most one fetch per this interval.
    pub fn min_interval(&self) -> Duration {
        self.min_interval
    }

    /// Fetches and applies the key set until the process ends.
    pub async fn run(self) {
        let mut retry = Duration::from_secs(1);
        // The issuer may be starting beside this server: its first failures are not news.
        let mut patience = 3;
        loop {
            let started = Instant::now();
            let wait = match self.fetch().await {
                Ok(keys) => {
                    self.apply(keys);
                    retry = Duration::from_secs(1);
                    patience = 0;
                    self.refresh
                }
                Err(err) => {
                    if self.tokens.has_keys() {
                        tracing::warn!(error = %err, "fetching the access keys failed; verifying with the keys held");
                    } else if patience > 0 {
                        patience -= 1;
                        tracing::info!(error = %err, "no access keys yet; trying again");
                    } else {
                        tracing::warn!(error = %err, "fetching the access keys failed; every token is refused until they arrive");
                    }
                    let wait = retry.min(self.refresh);
                    retry = (retry * 2).min(self.refresh);
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {
                    tokio::time::sleep_until(started + self.min_interval()).await;
                }
            }
        }
    }

    /// Replaces the verifier's keys if the set changed. An empty set (an issuer in HS256
    /// mode) is not applied: the keys held go on verifying.
    fn apply(&self, keys: KeySet) {
        if keys.is_empty() {
            tracing::warn!("the issuer publishes no Ed25519 key (is auth-server in ACCESS_TOKEN_ALG=EdDSA mode?)");
            return;
        }
        if keys.jwks() == self.tokens.jwks() {
            return;
        }
        let kids: Vec<String> = keys.kids().into_iter().map(str::to_owned).collect();
        match self.tokens.replace_keys(keys) {
            Ok(()) => tracing::info!(?kids, "access keys updated"),
            Err(err) => tracing::error!(error = %err, "the access keys could not be applied"),
        }
    }

    /// The key set of the first URL that gives one.
    async fn fetch(&self) -> Result<KeySet, String> {
        let mut errors = Vec::new();
        for base in &self.urls {
            match self.fetch_from(base).await {
                Ok(keys) => return Ok(keys),
                Err(err) => errors.push(format!("{base}: {err}")),
            }
        }
        Err(errors.join("; "))
    }

    async fn fetch_from(&self, base: &str) -> Result<KeySet, String> {
        let url = format!("{}{JWKS_PATH}", base.trim_end_matches('/'));
        let mut response = self.client.get(&url).send().await.map_err(|e| without_url(&e))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("a key set over {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_jwks(&body).map_err(|e| e.to_string())
    }
}

/// A request error without the URL (which the caller already names).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text
            .replace(&format!(" for url ({url})"), "")
            .replace(url.as_str(), "the URL");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Where the issuer serves its ended-session feed, under its base URL.
pub const ENDED_PATH: &str = "/sessions/ended";

/// How long one request to the feed asks the issuer to wait for news.
const FEED_WAIT: Duration = Duration::from_secs(10);
/// How much longer than that a request may take before the feed counts as unreachable.
const FEED_SLACK: Duration = Duration::from_secs(3);
/// The largest answer read: 1000 entries take about 80 KB.
const MAX_FEED_BODY: usize = 1 << 20;
/// The longest pause between two attempts while the feed cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often entries that no longer matter are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// Metrics of the follower (`/metrics`).
pub mod metric {
    /// 1 while the feed answers, 0 once a request to it failed.
    pub const CONNECTED: &str = "session_feed_connected";
    /// Seconds the ended sessions may be behind: 0 while the feed answers, else the time since
    /// its last answer.
    pub const LAG: &str = "session_feed_lag_seconds";
    /// Ended sessions applied (new entries of the set).
    pub const REVOCATIONS: &str = "session_feed_revocations_total";
    /// Ended sessions held now.
    pub const ENDED: &str = "session_feed_ended_sessions";
}

#[derive(serde::Deserialize)]
struct FeedPage {
    log: String,
    cursor: u64,
    ended: Vec<FeedEntry>,
    more: bool,
}

#[derive(serde::Deserialize)]
struct FeedEntry {
    sid: String,
    until: u64,
}

/// Keeps an [`AccessTokens`] verifier's [`ended`](AccessTokens::ended) sessions those its
/// issuer's feed (`GET /sessions/ended`) lists: it catches up on every entry that still
/// matters at start, then long-polls, resuming from its cursor after any failure (on any of
/// the issuer's URLs, which share one log), so that nothing is missed.
pub struct SessionFollower {
    tokens: Arc<AccessTokens>,
    urls: Vec<String>,
    client: reqwest::Client,
    health: Arc<FeedHealth>,
    /// Seconds an entry is kept after its `until`: the verifier's leeway.
    leeway: u64,
    wait: Duration,
}

impl std::fmt::Debug for SessionFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionFollower")
            .field("urls", &self.urls)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl SessionFollower {
    /// A follower of the feed at `urls` (the issuer's base URLs, tried in turn) for `tokens`,
    /// whose leeway is `leeway`; `health` says what a lag means ([`FeedHealth::new`]) and is
    /// given to `tokens`.
    pub fn new(
        tokens: Arc<AccessTokens>,
        urls: Vec<String>,
        leeway: Duration,
        health: FeedHealth,
    ) -> Result<Self, String> {
        if urls.is_empty() {
            return Err("no URL to follow".into());
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        let health = Arc::new(health);
        tokens.follow_health(Arc::clone(&health));
        Ok(Self {
            tokens,
            urls,
            client,
            health,
            leeway: leeway.as_secs(),
            wait: FEED_WAIT,
        })
    }

    /// Asks the feed to wait at most `wait` for news (10 s by default): a shorter wait finds
    /// an unreachable feed sooner, at more requests.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// What the follower knows of the feed (also what `/readyz` asks: [`FeedHealth::caught_up`]).
    pub fn health(&self) -> Arc<FeedHealth> {
        Arc::clone(&self.health)
    }

    /// Follows the feed until the process ends.
    pub async fn run(self) {
        metrics::describe_gauge!(
            metric::CONNECTED,
            "1 while the auth server's ended-session feed answers."
        );
        metrics::describe_gauge!(
            metric::LAG,
            "Seconds the ended sessions may be behind the auth server: 0 while its feed answers."
        );
        metrics::describe_counter!(
            metric::REVOCATIONS,
            "Ended sessions learnt from the auth server's feed."
        );
        metrics::describe_gauge!(metric::ENDED, "Ended sessions held, whose access tokens are refused.");
        self.publish();
        let mut cursor = 0u64;
        let mut log: Option<String> = None;
        let mut url = 0usize;
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u32;
        let mut pruned = Instant::now();
        let mut warned_lag = false;
        // The issuer may be starting beside this server: its first failures are not news.
        let mut patience = 3u32;
        loop {
            let base = &self.urls[url];
            // The first catch-up, and the first request after a failure, ask for no wait: they
            // need every entry up to now, and an answer that says the feed is back.
            let wait = if self.health.caught_up() && failures == 0 {
                self.wait
            } else {
                Duration::ZERO
            };
            match self.poll(base, cursor, log.as_deref(), wait).await {
                Ok(page) => {
                    if log.as_deref().is_some_and(|known| known != page.log) {
                        tracing::warn!(url = %base, "the ended-session log is another one (a new database?): read anew");
                    }
                    log = Some(page.log);
                    cursor = page.cursor;
                    let mut new = 0u64;
                    for entry in &page.ended {
                        new += u64::from(self.tokens.ended().insert(&entry.sid, entry.until));
                    }
                    metrics::counter!(metric::REVOCATIONS).increment(new);
                    self.health.answered();
                    if failures > 0 {
                        tracing::info!(url = %base, "the ended-session feed answers again; caught up from where it stopped");
                    }
                    failures = 0;
                    patience = 0;
                    warned_lag = false;
                    backoff = Duration::from_millis(100);
                    if !page.more && !self.health.caught_up() {
                        self.health.set_caught_up();
                        tracing::info!(ended = self.tokens.ended().len(), "caught up on ended sessions");
                    }
                }
                Err(err) => {
                    self.health.failed();
                    failures += 1;
                    if patience > 0 {
                        patience -= 1;
                        tracing::info!(url = %base, error = %err, "the ended-session feed does not answer yet; trying again");
                    } else if failures == 1 || (failures == 4 && !self.health.caught_up()) {
                        tracing::warn!(url = %base, error = %err, "the ended-session feed cannot be reached; verifying with the sessions known to have ended");
                    } else {
                        tracing::debug!(url = %base, error = %err, "the ended-session feed still cannot be reached");
                    }
                    url = (url + 1) % self.urls.len();
                    // Every URL tried once more: pause before the next round.
                    if url == 0 || self.urls.len() == 1 {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    if self.health.too_far_behind() && !warned_lag {
                        warned_lag = true;
                        let lag = self.health.lag().as_secs();
                        if self.health.fail_closed() {
                            tracing::error!(
                                lag,
                                "the ended-session feed is too far behind: every token is refused (SESSION_FEED_FAIL=closed)"
                            );
                        } else {
                            tracing::warn!(
                                lag,
                                "the ended-session feed is too far behind: tokens are still accepted (SESSION_FEED_FAIL=open)"
                            );
                        }
                    }
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let dropped = self.tokens.ended().drop_expired(crate::now_unix(), self.leeway);
                if dropped > 0 {
                    tracing::debug!(dropped, "ended sessions whose tokens have all expired forgotten");
                }
            }
            self.publish();
        }
    }

    fn publish(&self) {
        metrics::gauge!(metric::CONNECTED).set(if self.health.connected() { 1.0 } else { 0.0 });
        metrics::gauge!(metric::LAG).set(self.health.lag().as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!(metric::ENDED).set(self.tokens.ended().len() as f64);
    }

    async fn poll(&self, base: &str, cursor: u64, log: Option<&str>, wait: Duration) -> Result<FeedPage, String> {
        let mut url = format!("{base}{ENDED_PATH}?after={cursor}&wait={}", wait.as_secs());
        if let Some(log) = log {
            url.push_str("&log=");
            url.push_str(log);
        }
        let mut response = self
            .client
            .get(&url)
            .timeout(wait + FEED_SLACK)
            .send()
            .await
            .map_err(|e| without_url(&e))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
            if body.len() + chunk.len() > MAX_FEED_BODY {
                return Err(format!("an answer over {MAX_FEED_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("not a feed answer: {e}"))
    }
}
