//! The ended-session feed: what `GET /sessions/ended` serves to posts-servers, read from the
//! store's log, and the wake-up that lets a waiting request answer as soon as a session ends.
//!
//! The log is the database's (every instance on it serves the same one); this process only
//! learns when it grew: at once for what it ended itself, through `LISTEN` on PostgreSQL for
//! every instance, and by polling the log's newest entry on SQLite (where an operator command
//! in another process may write it) and, slowly, on PostgreSQL too, should a notice be lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OnceCell, Semaphore, watch};

use crate::store::{AuthStore, EndedSession, StoreError};

/// The most entries one answer carries; `more` says there are others.
pub const PAGE: usize = 1000;

/// The longest `wait` a request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The longest a request is made to wait: the answer must come before the request timeout
/// (30 s) ends the request and the idle timeout (`HTTP_IDLE_TIMEOUT`) the connection, which
/// count a waiting request's time too. A follower asks again at once, so a shorter wait than
/// asked for only costs one more request.
pub const LONGEST_WAIT: Duration = Duration::from_secs(25);

/// How long before the connection's idle timeout a waiting request is answered.
const IDLE_MARGIN: Duration = Duration::from_secs(2);

/// An entry whose `until` passed longer ago than this matters to no verifier (whose leeway is
/// at most 5 minutes): it is not served.
const DEAD_AFTER_S: i64 = 300;

/// How often the log's newest entry is read where no notice says it grew.
const POLL_SQLITE: Duration = Duration::from_millis(100);
const POLL_POSTGRES: Duration = Duration::from_secs(2);

/// One answer of the feed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    /// This database's log: a follower that finds another one starts from the beginning.
    pub log: String,
    /// Where the next request starts (`after`).
    pub cursor: i64,
    /// Sessions that ended after `after`, oldest first.
    pub ended: Vec<Ended>,
    /// More entries are waiting: ask again at once, from `cursor`.
    pub more: bool,
}

/// A session that ended: what a verifier needs, and nothing about its user.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Ended {
    /// The session id: the `sid` claim of its access tokens.
    #[schema(example = "0b9f6c8e-3f0e-4f57-9d4b-6a1f1f2d8c11")]
    pub sid: String,
    /// Unix seconds: no access token of the session is valid after it (before the verifier's
    /// leeway); the entry can be forgotten then.
    #[schema(example = 1_767_225_600)]
    pub until: i64,
}

/// Why a page could not be served.
#[derive(Debug)]
pub enum FeedError {
    /// As many requests as allowed are waiting already.
    Busy,
    Store(StoreError),
}

impl From<StoreError> for FeedError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

pub struct Feed {
    store: Arc<dyn AuthStore>,
    /// The log's id, read once.
    log: OnceCell<String>,
    /// The newest entry this process knows of.
    newest: watch::Sender<i64>,
    /// Requests allowed to wait at once.
    waiting: Semaphore,
    /// Look at the log now (this process ended a session).
    look: Notify,
    /// The server is stopping: no request waits any more.
    stopping: watch::Sender<bool>,
    /// The longest a request waits, whatever it asks.
    longest_wait: Duration,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("log", &self.log.get())
            .field("newest", &*self.newest.borrow())
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// The feed of `store`'s log, letting `max_waiting` requests wait at once, each less than
    /// `idle_timeout` (the server's `HTTP_IDLE_TIMEOUT`). It knows of new entries once
    /// [`Self::run`] runs.
    pub fn new(store: Arc<dyn AuthStore>, max_waiting: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            log: OnceCell::new(),
            newest: watch::Sender::new(0),
            waiting: Semaphore::new(max_waiting),
            look: Notify::new(),
            stopping: watch::Sender::new(false),
            longest_wait: LONGEST_WAIT.min(idle_timeout.saturating_sub(IDLE_MARGIN)),
        })
    }

    /// Answers every waiting request now, and every later one without waiting: the server is
    /// stopping, and its followers should find another instance (or this one again) at once.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Says that this process may have ended sessions: the log is read now, not at the next poll.
    pub fn poke(&self) {
        self.look.notify_one();
    }

    /// The entries after `after` (from the beginning if `log` names another log), waiting up
    /// to `wait` for one if there are none yet.
    pub async fn page(&self, after: i64, log: Option<&str>, wait: Duration) -> Result<Page, FeedError> {
        let this_log = self.log.get_or_try_init(|| self.store.ended_log_id()).await?;
        let after = if log.is_some_and(|log| log != this_log) {
            0
        } else {
            after
        };
        // Every entry up to `known` had committed when it was read, before the query: if the
        // query finds none after `after`, there is none up to `known` (purged ones aside), and
        // the cursor moves there.
        let known = *self.newest.borrow();
        let mut entries = self.store.ended_since(after, (PAGE + 1) as i64).await?;
        let mut seen_to = known.max(after);
        let wait = wait.min(self.longest_wait);
        if entries.is_empty() && !wait.is_zero() && !*self.stopping.borrow() {
            let _permit = self.waiting.try_acquire().map_err(|_| FeedError::Busy)?;
            let mut newest = self.newest.subscribe();
            let mut stopping = self.stopping.subscribe();
            let grew = tokio::select! {
                grew = tokio::time::timeout(wait, newest.wait_for(|&n| n > seen_to)) => {
                    grew.is_ok_and(|grew| grew.is_ok())
                }
                _ = stopping.wait_for(|&stopping| stopping) => false,
            };
            if grew {
                let known = *self.newest.borrow();
                entries = self.store.ended_since(after, (PAGE + 1) as i64).await?;
                seen_to = known.max(after);
            }
        }
        Ok(answer(this_log, seen_to, entries))
    }
}

/// The page of `entries` of log `log`; with none, the cursor is `seen_to`.
fn answer(log: &str, seen_to: i64, mut entries: Vec<EndedSession>) -> Page {
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    let cursor = entries.last().map_or(seen_to, |last| last.seq);
    let live_from = jwt_tokens::now_unix_ms() / 1000 - DEAD_AFTER_S;
    let ended = entries
        .into_iter()
        .filter(|entry| entry.until >= live_from)
        .map(|entry| Ended {
            sid: entry.sid,
            until: entry.until,
        })
        .collect();
    Page {
        log: log.to_owned(),
        cursor,
        ended,
        more,
    }
}

impl Feed {
    /// Keeps [`Self::page`]'s waiters told of the log's newest entry, until the process ends.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.store.ended_notices().await {
                Ok(Some(mut notices)) => {
                    self.look_now().await;
                    loop {
                        tokio::select! {
                            notice = notices.recv() => {
                                if let Err(err) = notice {
                                    tracing::warn!(error = %err, "listening for ended sessions failed; listening again");
                                    break;
                                }
                            }
                            () = tokio::time::sleep(POLL_POSTGRES) => {}
                            () = self.look.notified() => {}
                        }
                        self.look_now().await;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(None) => loop {
                    tokio::select! {
                        () = tokio::time::sleep(POLL_SQLITE) => {}
                        () = self.look.notified() => {}
                    }
                    self.look_now().await;
                },
                Err(err) => {
                    tracing::warn!(error = %err, "listening for ended sessions failed; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Reads the log's newest entry and wakes the waiters if it grew.
    async fn look_now(&self) {
        match self.store.newest_ended().await {
            Ok(newest) => {
                self.newest.send_if_modified(|known| {
                    let grew = newest > *known;
                    if grew {
                        *known = newest;
                    }
                    grew
                });
            }
            Err(err) => tracing::debug!(error = %err, "reading the ended-session log failed"),
        }
    }
}
