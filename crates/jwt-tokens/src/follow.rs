//! Following an issuer's published keys (`ACCESS_TOKEN_ALG=EdDSA`): fetch its JWK Set at
//! start, keep it in memory, fetch it again periodically and when a token names a `kid` the
//! verifier does not know (at most once per [`min_interval`](KeyFollower::min_interval), however
//! many such tokens arrive), and keep verifying with the keys held while the issuer cannot
//! be reached. Nothing here runs on a request's path: the verifier only reads memory.
//!
//! The URL is the one configured (`AUTH_URL`); a URL or key found in a token (`jku`, `x5u`,
//! `jwk`) is never followed, and neither is a redirect.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

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
