//! The login limit per username: in this process's memory, or in the database for every instance on it.

use std::fmt;
use std::sync::Arc;

use service_kit::ApiError;
use service_kit::rate_limit::{Limiter, Rate, refusal};

use crate::store::{Attempt, LoginAttempts};

/// What a client refused by this limit reads.
const MESSAGE: &str = "too many login attempts for this user";

/// Where attempts per username are counted. SQLite has one process per database, so
/// memory sees every attempt; on PostgreSQL several instances share the database, and a
/// count in each one's memory would give a guesser as many tries as there are instances.
pub enum UsernameLimit {
    /// Counted by this process (or not at all, with `RATE_LIMITS=off`).
    Local(Limiter<String>),
    /// Counted in the database, shared by every instance on it.
    Shared {
        attempts: Arc<dyn LoginAttempts>,
        rate: Rate,
    },
}

impl fmt::Debug for UsernameLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(limiter) => f.debug_tuple("Local").field(limiter).finish(),
            Self::Shared { rate, .. } => f.debug_struct("Shared").field("rate", rate).finish(),
        }
    }
}

impl UsernameLimit {
    /// In memory; `enabled: false` lets every attempt through.
    pub fn local(rate: Rate, enabled: bool) -> Self {
        Self::Local(Limiter::new(rate, enabled, MESSAGE))
    }

    /// Takes one attempt for `username_key`, or refuses it: `429 rate_limited` with
    /// `Retry-After`, the same answer wherever the count is kept. A database that cannot
    /// count refuses the login as any other failure of it does (`503`).
    pub async fn check(&self, username_key: &str) -> Result<(), ApiError> {
        match self {
            Self::Local(limiter) => limiter.check(&username_key.to_owned()),
            Self::Shared { attempts, rate } => match attempts.take(username_key, *rate).await? {
                Attempt::Allowed => Ok(()),
                Attempt::Refused { retry_after } => Err(refusal(MESSAGE, retry_after)),
            },
        }
    }

    /// Forgets the idle keys kept in memory; the database purges its own (see `purge_full`).
    pub fn forget_idle(&self) {
        if let Self::Local(limiter) = self {
            limiter.forget_idle();
        }
    }
}
