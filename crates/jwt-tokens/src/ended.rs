//! Sessions that have ended, as the issuer's feed tells them: a verifier refuses their access
//! tokens, which would otherwise stay valid until they expire.
//!
//! An entry is kept until `until` (the latest `exp` of any of the session's access tokens)
//! plus the leeway has passed: after that no token of the session verifies anyway. Memory
//! therefore follows the number of sessions ended within one access-token lifetime. Session
//! ids of the issuer's form (UUIDs) are kept as 16-byte numbers; any other as text.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Shards, each with a lock of its own: the verify path only reads, and rarely meets the
/// follower's writes.
const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    uuids: HashMap<u128, u64>,
    others: HashMap<Box<str>, u64>,
}

/// A session id as the set keys it.
enum Key<'a> {
    Uuid(u128),
    Other(&'a str),
}

impl<'a> Key<'a> {
    fn of(sid: &'a str) -> Self {
        uuid_value(sid).map_or(Self::Other(sid), Self::Uuid)
    }

    fn shard(&self) -> usize {
        match self {
            // A v4 UUID's last bits are random.
            Self::Uuid(value) => (*value as usize) % SHARDS,
            Self::Other(text) => {
                text.bytes()
                    .fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(usize::from(b)))
                    % SHARDS
            }
        }
    }
}

/// The value of a UUID in its lowercase hyphenated form (as the issuer writes session ids),
/// without allocating: any other spelling is another `sid`, kept as text.
fn uuid_value(sid: &str) -> Option<u128> {
    let bytes = sid.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (position, &byte) in bytes.iter().enumerate() {
        let digit = match (position, byte) {
            (8 | 13 | 18 | 23, b'-') => continue,
            (8 | 13 | 18 | 23, _) => return None,
            (_, b'0'..=b'9') => byte - b'0',
            (_, b'a'..=b'f') => byte - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// The ended sessions a verifier knows of: `sid` → `until` (Unix seconds).
pub struct EndedSessions {
    shards: Box<[RwLock<Shard>]>,
    len: AtomicUsize,
}

impl Default for EndedSessions {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            len: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Debug for EndedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndedSessions").field("len", &self.len()).finish()
    }
}

impl EndedSessions {
    /// Records that session `sid` ended; its tokens are refused at least until `until` (Unix
    /// seconds) plus the leeway. Returns whether it was new.
    pub fn insert(&self, sid: &str, until: u64) -> bool {
        let key = Key::of(sid);
        let mut shard = self.shards[key.shard()].write().unwrap_or_else(PoisonError::into_inner);
        let previous = match key {
            Key::Uuid(value) => shard.uuids.insert(value, until),
            Key::Other(text) => shard.others.insert(text.into(), until),
        };
        match previous {
            None => {
                self.len.fetch_add(1, Ordering::Release);
                true
            }
            Some(earlier) => {
                // Told twice: the later bound stands.
                if earlier > until {
                    match key {
                        Key::Uuid(value) => shard.uuids.insert(value, earlier),
                        Key::Other(text) => shard.others.insert(text.into(), earlier),
                    };
                }
                false
            }
        }
    }

    /// Whether session `sid` has ended. Costs one atomic load while the set is empty.
    pub fn contains(&self, sid: &str) -> bool {
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let key = Key::of(sid);
        let shard = self.shards[key.shard()].read().unwrap_or_else(PoisonError::into_inner);
        match key {
            Key::Uuid(value) => shard.uuids.contains_key(&value),
            Key::Other(text) => shard.others.contains_key(text),
        }
    }

    /// How many ended sessions are held.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the sessions whose tokens cannot verify any more at `now` (Unix seconds):
    /// those whose `until` plus `leeway` seconds has passed. Returns how many.
    pub fn drop_expired(&self, now: u64, leeway: u64) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
            let before = shard.uuids.len() + shard.others.len();
            shard.uuids.retain(|_, until| until.saturating_add(leeway) >= now);
            shard.others.retain(|_, until| until.saturating_add(leeway) >= now);
            dropped += before - (shard.uuids.len() + shard.others.len());
        }
        self.len.fetch_sub(dropped, Ordering::Release);
        dropped
    }
}

/// How current a verifier's [`EndedSessions`] is: whether its follower hears from the
/// issuer's feed, since when it does not, and what to do once that is too long ago.
#[derive(Debug)]
pub struct FeedHealth {
    started: Instant,
    /// Milliseconds from `started` to the last answer of the feed; `u64::MAX` for none yet.
    answered_at: AtomicU64,
    connected: AtomicBool,
    caught_up: AtomicBool,
    max_lag: Duration,
    fail_closed: bool,
}

const NEVER: u64 = u64::MAX;

impl FeedHealth {
    /// `fail_closed`: every token is refused (`503`) before the first catch-up and whenever
    /// the feed has not answered for longer than `max_lag`; otherwise tokens go on being
    /// verified with what is known.
    pub fn new(max_lag: Duration, fail_closed: bool) -> Self {
        Self {
            started: Instant::now(),
            answered_at: AtomicU64::new(NEVER),
            connected: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            max_lag,
            fail_closed,
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// The feed answered: everything up to now is known.
    pub fn answered(&self) {
        self.answered_at.store(self.elapsed_ms(), Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    /// A request to the feed failed. Until then the feed was followed (a request was waiting
    /// on it, and would have been answered at once had a session ended): the lag counts from now.
    pub fn failed(&self) {
        if self.connected.swap(false, Ordering::AcqRel) {
            self.answered_at.store(self.elapsed_ms(), Ordering::Release);
        }
    }

    /// Every entry that mattered at start has been applied.
    pub fn set_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// How far behind the list may be: zero while the feed answers; once a request to it has
    /// failed, the time since the feed was last followed (since the start, if it never was).
    pub fn lag(&self) -> Duration {
        if self.connected() {
            return Duration::ZERO;
        }
        let since = match self.answered_at.load(Ordering::Acquire) {
            NEVER => 0,
            at => at,
        };
        Duration::from_millis(self.elapsed_ms().saturating_sub(since))
    }

    /// Whether the lag is over the allowed maximum.
    pub fn too_far_behind(&self) -> bool {
        self.lag() > self.max_lag
    }

    /// Whether a fail-closed verifier refuses tokens now.
    pub fn refuses(&self) -> bool {
        self.fail_closed && (!self.caught_up() || self.too_far_behind())
    }

    pub fn fail_closed(&self) -> bool {
        self.fail_closed
    }

    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "0b9f6c8e-3f0e-4f57-9d4b-6a1f1f2d8c11";

    #[test]
    fn reads_the_lowercase_hyphenated_form_of_a_uuid_only() {
        assert_eq!(
            uuid_value(SID),
            Some(uuid::Uuid::parse_str(SID).expect("a UUID").as_u128())
        );
        assert_eq!(uuid_value(&SID.to_uppercase()), None);
        assert_eq!(uuid_value(&SID.replace('-', "")), None);
        assert_eq!(uuid_value("0b9f6c8e-3f0e-4f57-9d4b+6a1f1f2d8c11"), None);
        assert_eq!(uuid_value("0b9f6c8e-3f0e-4f57-9d4b-6a1f1f2d8c1g"), None);
        assert_eq!(uuid_value(""), None);
    }

    #[test]
    fn holds_uuids_and_other_ids_by_their_exact_text() {
        let ended = EndedSessions::default();
        assert!(!ended.contains(SID));
        assert!(ended.insert(SID, 100));
        assert!(ended.insert("not-a-uuid", 100));
        assert!(!ended.insert(SID, 90), "told twice");
        assert_eq!(ended.len(), 2);
        assert!(ended.contains(SID));
        assert!(ended.contains("not-a-uuid"));
        assert!(!ended.contains(&SID.to_uppercase()), "another spelling is another sid");
        assert!(!ended.contains(&SID.replace('-', "")));
        assert!(!ended.contains("0b9f6c8e-3f0e-4f57-9d4b-6a1f1f2d8c12"));
        assert!(!ended.contains("not-a-uuiD"));
    }

    #[test]
    fn forgets_a_session_only_once_its_bound_and_the_leeway_have_passed() {
        let ended = EndedSessions::default();
        ended.insert(SID, 100);
        ended.insert(SID, 90);
        ended.insert("other", 200);
        assert_eq!(ended.drop_expired(105, 5), 0, "the later bound stands, with the leeway");
        assert!(ended.contains(SID));
        assert_eq!(ended.drop_expired(106, 5), 1);
        assert!(!ended.contains(SID));
        assert!(ended.contains("other"));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended.drop_expired(1000, 0), 1);
        assert!(ended.is_empty());
    }

    #[test]
    fn a_fail_closed_health_refuses_until_caught_up_and_once_too_far_behind() {
        let health = FeedHealth::new(Duration::from_millis(50), true);
        assert!(health.refuses(), "not caught up");
        health.answered();
        health.set_caught_up();
        assert!(!health.refuses());
        assert_eq!(health.lag(), Duration::ZERO);
        health.failed();
        assert!(!health.refuses(), "within the lag allowed");
        std::thread::sleep(Duration::from_millis(80));
        assert!(health.lag() >= Duration::from_millis(80));
        assert!(health.refuses());
        health.answered();
        assert!(!health.refuses(), "back");

        let open = FeedHealth::new(Duration::from_millis(0), false);
        open.failed();
        std::thread::sleep(Duration::from_millis(5));
        assert!(open.too_far_behind());
        assert!(!open.refuses(), "fail-open never refuses");
    }
}
