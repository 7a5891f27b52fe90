//! Access tokens already verified, found by their whole text: an Ed25519 verification costs
//! about ten times an HMAC, and a token is presented many times in its life.
//!
//! Only a token that passed every check is kept, with the generation of the key set that
//! verified it; it is found again only by the same text, only while that key set is the
//! current one, and only until its `exp` (with the leeway). The cache holds at most its
//! capacity: a full shard first drops what can no longer be found, then everything.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::AccessClaims;

/// Shards, each with a lock of its own, so that requests for different tokens rarely meet.
const SHARDS: usize = 16;

struct Entry {
    claims: AccessClaims,
    generation: u64,
}

/// Tokens by their text, each with what verifying it gave.
type Shard = RwLock<HashMap<Box<str>, Entry>>;

pub(crate) struct VerifiedCache {
    shards: Box<[Shard]>,
    per_shard: usize,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens; `None` for 0.
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        Some(Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        })
    }

    /// A token's shard, from the last bytes of its signature: which are random for every
    /// signed token, and only signed tokens are kept.
    fn shard(&self, token: &str) -> &Shard {
        let bytes = token.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(4)..];
        let index = tail
            .iter()
            .fold(0usize, |acc, &b| acc.wrapping_mul(31).wrapping_add(usize::from(b)));
        &self.shards[index % SHARDS]
    }

    /// The claims of `token`, if it was verified with key set `generation` and its `exp` is
    /// not before `live_from` (now less the leeway).
    pub(crate) fn get(&self, token: &str, generation: u64, live_from: u64) -> Option<AccessClaims> {
        let shard = self.shard(token).read().unwrap_or_else(PoisonError::into_inner);
        let entry = shard.get(token)?;
        (entry.generation == generation && entry.claims.exp >= live_from).then(|| entry.claims.clone())
    }

    /// Keeps `token`, verified with key set `generation`.
    pub(crate) fn insert(&self, token: &str, claims: &AccessClaims, generation: u64, live_from: u64) {
        let mut shard = self.shard(token).write().unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= self.per_shard && !shard.contains_key(token) {
            shard.retain(|_, entry| entry.generation == generation && entry.claims.exp >= live_from);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(
            token.into(),
            Entry {
                claims: claims.clone(),
                generation,
            },
        );
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "s".into(),
            name: "n".into(),
            iat: 0,
            nbf: 0,
            exp,
            jti: "j".into(),
            sid: "sid".into(),
        }
    }

    #[test]
    fn finds_only_the_same_text_of_the_same_key_set_until_it_expires() {
        let cache = VerifiedCache::new(100).expect("a cache");
        cache.insert("a.b.c", &claims(1000), 1, 500);
        assert_eq!(cache.get("a.b.c", 1, 500), Some(claims(1000)));
        assert_eq!(
            cache.get("a.b.c", 1, 1000),
            Some(claims(1000)),
            "exp is the last live second"
        );
        assert_eq!(cache.get("a.b.c", 1, 1001), None, "expired");
        assert_eq!(cache.get("a.b.c", 2, 500), None, "another key set");
        assert_eq!(cache.get("a.b.C", 1, 500), None, "another token");
        assert_eq!(cache.get("a.b.c ", 1, 500), None);
        assert_eq!(VerifiedCache::new(0).map(|c| c.len()), None);
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let cache = VerifiedCache::new(64).expect("a cache");
        for i in 0..10_000 {
            cache.insert(&format!("token-{i}"), &claims(1000), 1, 0);
            assert!(cache.len() <= 64, "{} entries after {i}", cache.len());
        }
        assert!(cache.len() > 0);
    }

    #[test]
    fn a_full_shard_drops_what_can_no_longer_be_found_first() {
        let cache = VerifiedCache::new(SHARDS * 2).expect("two a shard");
        // Three tokens of one shard (the same last four bytes): an expired one, a live one.
        cache.insert("old.xxxx", &claims(10), 1, 0);
        cache.insert("new.xxxx", &claims(1000), 1, 0);
        cache.insert("third.xxxx", &claims(1000), 1, 100);
        assert_eq!(cache.get("new.xxxx", 1, 100), Some(claims(1000)), "the live one stays");
        assert_eq!(cache.get("third.xxxx", 1, 100), Some(claims(1000)));
        assert_eq!(cache.get("old.xxxx", 1, 0), None, "the expired one went");
    }
}
