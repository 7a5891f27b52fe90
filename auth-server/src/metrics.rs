//! The auth server's own series, beside the HTTP ones every request adds to (see `service_kit::metrics`).

/// `POST /login` attempts, by `outcome`: `succeeded`, `failed` (wrong username or password),
/// `rate_limited` (answered `429`).
pub const LOGINS: &str = "auth_logins_total";
/// Refresh tokens accepted by `POST /token`, by `outcome`: `rotated` (the current token spent for
/// the next), `grace` (a spent token within the grace period: the current pair returned),
/// `reuse_detected` (a spent token after it: the session revoked).
pub const REFRESHES: &str = "auth_refreshes_total";
/// Sessions ended before their time, by `reason`: `logout`, `global_logout`, `reuse`.
pub const SESSIONS_REVOKED: &str = "auth_sessions_revoked_total";

#[derive(Debug, Clone, Copy)]
pub enum Login {
    Succeeded,
    Failed,
    RateLimited,
}

#[derive(Debug, Clone, Copy)]
pub enum Refresh {
    Rotated,
    Grace,
    ReuseDetected,
}

#[derive(Debug, Clone, Copy)]
pub enum Revocation {
    Logout,
    GlobalLogout,
    Reuse,
    /// `DELETE /sessions/{id}`: a user ended one of their sessions.
    SessionDeleted,
    /// `POST /password`: the user's other sessions.
    PasswordChange,
}

impl Login {
    const ALL: [Self; 3] = [Self::Succeeded, Self::Failed, Self::RateLimited];

    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl Refresh {
    const ALL: [Self; 3] = [Self::Rotated, Self::Grace, Self::ReuseDetected];

    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Grace => "grace",
            Self::ReuseDetected => "reuse_detected",
        }
    }
}

impl Revocation {
    const ALL: [Self; 5] = [
        Self::Logout,
        Self::GlobalLogout,
        Self::Reuse,
        Self::SessionDeleted,
        Self::PasswordChange,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::GlobalLogout => "global_logout",
            Self::Reuse => "reuse",
            Self::SessionDeleted => "session_deleted",
            Self::PasswordChange => "password_change",
        }
    }
}

pub fn login(outcome: Login) {
    metrics::counter!(LOGINS, "outcome" => outcome.label()).increment(1);
}

pub fn refresh(outcome: Refresh) {
    metrics::counter!(REFRESHES, "outcome" => outcome.label()).increment(1);
}

pub fn sessions_revoked(reason: Revocation, sessions: u64) {
    metrics::counter!(SESSIONS_REVOKED, "reason" => reason.label()).increment(sessions);
}

/// Installs the recorder, describes the series and shows each at 0 from the start, so that
/// rates and alerts work before the first event.
pub fn register() {
    service_kit::metrics::install();
    metrics::describe_counter!(LOGINS, "POST /login attempts, by outcome.");
    metrics::describe_counter!(REFRESHES, "Refresh tokens accepted by POST /token, by outcome.");
    metrics::describe_counter!(SESSIONS_REVOKED, "Sessions ended before their time, by reason.");
    for outcome in Login::ALL {
        metrics::counter!(LOGINS, "outcome" => outcome.label()).increment(0);
    }
    for outcome in Refresh::ALL {
        metrics::counter!(REFRESHES, "outcome" => outcome.label()).increment(0);
    }
    for reason in Revocation::ALL {
        metrics::counter!(SESSIONS_REVOKED, "reason" => reason.label()).increment(0);
    }
}
