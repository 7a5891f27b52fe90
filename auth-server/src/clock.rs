//! The instance's own clock: the system's, or in tests one that runs ahead or behind, as another
//! machine's may. It stamps tokens; what decides a session (expiry, the reuse grace, revocation)
//! is timed by the database's clock, which every instance shares.

/// Now, as this instance reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// The system clock.
    pub const fn system() -> Self {
        Self { offset_ms: 0 }
    }

    /// A clock `offset_ms` ahead of the system's (behind, if negative).
    pub const fn skewed(offset_ms: i64) -> Self {
        Self { offset_ms }
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        service_kit::now_unix_ms().saturating_add(self.offset_ms)
    }
}
