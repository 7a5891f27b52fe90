//! Each user's list of posts, kept in memory between that user's writes.
//!
//! `GET /posts` is the hot route, and one user's list changes only when that
//! user writes. On SQLite this process is the database's only writer (one file
//! per server), so it knows every change: a write drops the writer's list once
//! it has committed, and the next read fills it again. A read that started
//! before a write and ends after it must not put its older list back: each
//! read takes a ticket (the generation of the user's stripe) before it goes to
//! the database, and its list is kept only if no write to that stripe has
//! happened since.
//!
//! Memory is bounded by `POSTS_CACHE_MIB`: lists are counted by their text
//! and fixed fields, and when a new list would go over the budget, lists are
//! dropped (in no particular order) until it fits. A list larger than an
//! eighth of the budget is never kept.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{NewPost, Post, PostStore, StoreError};

/// Generations are kept per stripe of users, not per user, so that their
/// memory is fixed whatever the number of users.
const STRIPES: usize = 1024;

/// What a post costs beyond its text: the struct, the allocation headers.
const POST_OVERHEAD: usize = 128;

pub struct CachedStore<S> {
    inner: S,
    budget: usize,
    state: Mutex<State>,
    hasher: RandomState,
}

struct State {
    lists: HashMap<String, Arc<[Post]>>,
    bytes: usize,
    generations: Box<[u64; STRIPES]>,
}

fn cost(user_id: &str, posts: &[Post]) -> usize {
    user_id.len()
        + posts
            .iter()
            .map(|p| POST_OVERHEAD + p.user_id.len() + p.username.len() + p.title.len() + p.body.len())
            .sum::<usize>()
}

impl<S> CachedStore<S> {
    /// Keeps at most `budget` bytes of lists in front of `inner`.
    pub fn new(inner: S, budget: usize) -> Self {
        Self {
            inner,
            budget,
            state: Mutex::new(State {
                lists: HashMap::new(),
                bytes: 0,
                generations: Box::new([0; STRIPES]),
            }),
            hasher: RandomState::new(),
        }
    }

    fn stripe(&self, user_id: &str) -> usize {
        (self.hasher.hash_one(user_id) % STRIPES as u64) as usize
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is consistent after every statement; a panic elsewhere cannot break it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept list, or a ticket to keep the list about to be read.
    fn lookup(&self, user_id: &str) -> Result<Arc<[Post]>, u64> {
        let state = self.state();
        match state.lists.get(user_id) {
            Some(list) => Ok(Arc::clone(list)),
            None => Err(state.generations[self.stripe(user_id)]),
        }
    }

    /// Keeps `posts` as `user_id`'s list if nothing was written to its stripe since `ticket`.
    fn fill(&self, user_id: &str, posts: &[Post], ticket: u64) {
        let size = cost(user_id, posts);
        if size > self.budget / 8 {
            return;
        }
        let stripe = self.stripe(user_id);
        let mut state = self.state();
        if state.generations[stripe] != ticket || state.lists.contains_key(user_id) {
            return;
        }
        while state.bytes + size > self.budget {
            let Some(victim) = state.lists.keys().next().cloned() else {
                break;
            };
            if let Some(list) = state.lists.remove(&victim) {
                state.bytes -= cost(&victim, &list);
            }
        }
        state.lists.insert(user_id.to_owned(), posts.into());
        state.bytes += size;
    }

    /// `user_id`'s list has changed: drop it, and turn away reads that began before.
    fn invalidate(&self, user_id: &str) {
        let stripe = self.stripe(user_id);
        let mut state = self.state();
        state.generations[stripe] += 1;
        if let Some(list) = state.lists.remove(user_id) {
            state.bytes -= cost(user_id, &list);
        }
    }
}

#[async_trait]
impl<S: PostStore> PostStore for CachedStore<S> {
    async fn list_for_user(&self, user_id: &str) -> Result<Vec<Post>, StoreError> {
        match self.lookup(user_id) {
            Ok(list) => Ok(list.to_vec()),
            Err(ticket) => {
                let posts = self.inner.list_for_user(user_id).await?;
                self.fill(user_id, &posts, ticket);
                Ok(posts)
            }
        }
    }

    async fn create(&self, new: NewPost) -> Result<Post, StoreError> {
        let user_id = new.user_id.clone();
        let created = self.inner.create(new).await;
        // Also after a failure: the write may have committed before the error.
        self.invalidate(&user_id);
        created
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: i64, user: &str) -> Post {
        Post {
            id,
            user_id: user.into(),
            username: user.into(),
            title: format!("title {id}"),
            body: "body".into(),
            created_at: id,
        }
    }

    fn store(budget: usize) -> CachedStore<()> {
        CachedStore::new((), budget)
    }

    #[test]
    fn keeps_a_list_until_its_user_writes() {
        let cache = store(1 << 20);
        let ticket = cache.lookup("ann").expect_err("empty at first");
        cache.fill("ann", &[post(1, "ann")], ticket);
        assert_eq!(cache.lookup("ann").expect("kept").len(), 1);
        cache.invalidate("bob");
        assert!(cache.lookup("ann").is_ok(), "another user's write leaves it");
        cache.invalidate("ann");
        assert!(cache.lookup("ann").is_err(), "its user's write drops it");
        assert_eq!(cache.state().bytes, 0);
    }

    #[test]
    fn a_read_that_began_before_a_write_is_not_kept() {
        let cache = store(1 << 20);
        let ticket = cache.lookup("ann").expect_err("empty");
        // The read saw the list before the write committed; the write then drops what is kept.
        cache.invalidate("ann");
        cache.fill("ann", &[post(1, "ann")], ticket);
        assert!(cache.lookup("ann").is_err(), "a list older than the write is not kept");
        let ticket = cache.lookup("ann").expect_err("still empty");
        cache.fill("ann", &[post(1, "ann"), post(2, "ann")], ticket);
        assert_eq!(cache.lookup("ann").expect("a read after the write is kept").len(), 2);
    }

    #[test]
    fn stays_within_its_budget() {
        let one = cost("user-0", &[post(1, "user-0")]);
        let cache = store(one * 10);
        for n in 0..100 {
            let user = format!("user-{n}");
            let ticket = cache.lookup(&user).expect_err("new user");
            cache.fill(&user, &[post(1, &user)], ticket);
            let state = cache.state();
            assert!(state.bytes <= one * 10 + 16, "{} bytes kept", state.bytes);
            let counted: usize = state.lists.iter().map(|(u, l)| cost(u, l)).sum();
            assert_eq!(counted, state.bytes);
        }
        let too_big: Vec<Post> = (0..20).map(|i| post(i, "big")).collect();
        let ticket = cache.lookup("big").expect_err("new");
        cache.fill("big", &too_big, ticket);
        assert!(
            cache.lookup("big").is_err(),
            "a list over an eighth of the budget is not kept"
        );
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = store(0);
        let ticket = cache.lookup("ann").expect_err("empty");
        cache.fill("ann", &[post(1, "ann")], ticket);
        assert!(cache.lookup("ann").is_err());
    }
}
