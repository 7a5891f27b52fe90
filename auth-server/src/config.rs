//! The auth server's settings: every one a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use jwt_tokens::config::{TokenArgs, keys_from, read_secret_file, secret_from_file, secrets_from_file};
use jwt_tokens::{Ed25519PrivateKey, Ed25519PublicKey, KeySet, Secret, TokenAlgorithm};
use service_kit::duration::parse_duration;
use service_kit::rate_limit::Rate;
use service_kit::server::ServerArgs;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "auth-server",
    version,
    about = "Registers users, checks passwords, issues and rotates tokens."
)]
pub struct Config {
    /// Listen address (port 0: any free port, printed at start).
    #[arg(long, env = "AUTH_ADDR", default_value = "127.0.0.1:4000")]
    pub addr: SocketAddr,

    /// What both servers set alike: metrics, the PostgreSQL pool, connections, rate limits,
    /// CORS and logs.
    #[command(flatten)]
    pub server: ServerArgs,

    /// `sqlite://path` (embedded, created if missing) or
    /// `postgres://user:password@host:port/database` (the database must exist; its tables are created).
    #[arg(
        long,
        env = "AUTH_DATABASE_URL",
        default_value = "sqlite://data/auth.db",
        global = true
    )]
    pub database_url: String,

    #[command(flatten)]
    pub tokens: TokenArgs,

    /// HS256 key for refresh tokens; at least 32 bytes; must differ from the access secret.
    ///
    /// Given as a flag, a secret is visible to every local user in the process list: prefer
    /// the variable, or a file (`REFRESH_TOKEN_SECRET_FILE`).
    #[arg(long, env = "REFRESH_TOKEN_SECRET", hide_env_values = true)]
    pub refresh_token_secret: Option<Secret>,

    /// A file holding `REFRESH_TOKEN_SECRET` (a container or systemd secret); one trailing
    /// line ending is dropped. Not together with the secret itself.
    #[arg(long, env = "REFRESH_TOKEN_SECRET_FILE")]
    pub refresh_token_secret_file: Option<PathBuf>,

    /// Older refresh keys that still verify, comma-separated, until the sessions
    /// they signed have rotated onto the current key.
    ///
    /// Given as a flag, a secret is visible to every local user in the process list: prefer
    /// the variable, or a file (`REFRESH_TOKEN_PREVIOUS_SECRETS_FILE`).
    #[arg(
        long,
        env = "REFRESH_TOKEN_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub refresh_token_previous_secrets: Vec<Secret>,

    /// A file holding `REFRESH_TOKEN_PREVIOUS_SECRETS`: comma-separated, or one a line.
    /// Not together with the secrets themselves.
    #[arg(long, env = "REFRESH_TOKEN_PREVIOUS_SECRETS_FILE")]
    pub refresh_token_previous_secrets_file: Option<PathBuf>,

    /// With `ACCESS_TOKEN_ALG=EdDSA`: the PKCS#8 PEM file of the Ed25519 key that signs access
    /// tokens (`auth-server keys generate` writes one). Only auth-server ever holds it.
    #[arg(long, env = "ACCESS_TOKEN_PRIVATE_KEY_FILE")]
    pub access_token_private_key_file: Option<PathBuf>,

    /// With `ACCESS_TOKEN_ALG=EdDSA`: a file of PEM public keys published at
    /// `/.well-known/jwks.json` beside the signing key's own: the next key, before it signs,
    /// and retired keys, until the last token they signed has expired (see docs/security.md).
    #[arg(long, env = "ACCESS_TOKEN_PUBLIC_KEYS_FILE")]
    pub access_token_public_keys_file: Option<PathBuf>,

    /// How long a spent refresh token may still be presented without counting
    /// as theft (it then gets the session's current pair); `0s` turns it off; at most `1m`.
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_grace: Duration,

    /// `SameSite` of the refresh cookie of browser clients (`"delivery": "cookie"` at login):
    /// `strict` when the page and auth-server are on one site (`app.example.com` and
    /// `auth.example.com`, or `localhost`), `none` for a page on another site (the cookie is then
    /// always `Secure`, and only the origin check stops forgeries), `lax` in between.
    #[arg(long, env = "REFRESH_COOKIE_SAMESITE", default_value = "strict")]
    pub refresh_cookie_samesite: crate::cookie::SameSite,

    /// Access token lifetime (`15s`, `15m`, `1h`, …).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Refresh token (session) lifetime, counted from login; at least `ACCESS_TOKEN_TTL`.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// How often ended (expired, logged out, revoked) sessions are deleted.
    #[arg(long, env = "SESSION_PURGE_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub session_purge_interval: Duration,

    /// How many `GET /sessions/ended` requests may wait for a session to end at once (each
    /// follower keeps one waiting); beyond that they are answered `503` with `Retry-After: 1`.
    #[arg(long, env = "SESSION_FEED_MAX_WAITING", default_value_t = 256)]
    pub session_feed_max_waiting: usize,

    /// `POST /login` attempts per username (`N/PERIOD`: a burst of N, refilled over PERIOD).
    #[arg(long, env = "LOGIN_RATE_PER_USERNAME", default_value = "5/1m")]
    pub login_rate_per_username: Rate,

    /// `POST /login` attempts per client address.
    #[arg(long, env = "LOGIN_RATE_PER_ADDRESS", default_value = "20/1m")]
    pub login_rate_per_address: Rate,

    /// `POST /register` requests per client address.
    #[arg(long, env = "REGISTER_RATE_PER_ADDRESS", default_value = "20/1h")]
    pub register_rate_per_address: Rate,

    /// `POST /token` requests per client address.
    #[arg(long, env = "TOKEN_RATE_PER_ADDRESS", default_value = "60/1m")]
    pub token_rate_per_address: Rate,

    /// `closed`: `POST /register` answers `403 registration_closed`, and only
    /// operators add users (`auth-server user add`).
    #[arg(long, env = "REGISTRATION", default_value = "open")]
    pub registration: Registration,

    /// The instance's clock: not a setting (always the system's), but one that tests move.
    #[arg(skip)]
    pub clock: crate::clock::Clock,

    /// An operator command on the configured database; without one, the server starts.
    #[command(subcommand)]
    pub operation: Option<crate::operators::Operation>,
}

/// The longest `REFRESH_REUSE_GRACE`: enough for a page's tabs and a retried answer.
pub const MAX_REUSE_GRACE: Duration = Duration::from_secs(60);

/// Whether anyone may sign up through `POST /register`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Closed,
}

/// The settings after the checks clap cannot express.
pub(crate) struct Checked {
    pub access_keys: KeySet,
    pub refresh_keys: KeySet,
}

impl Config {
    /// Reads the secrets given as files (`…_FILE`) into their settings; the error is one line
    /// naming the variable, never a secret.
    pub(crate) fn read_secret_files(&mut self) -> Result<(), String> {
        self.tokens.read_secret_files()?;
        secret_from_file(
            &mut self.refresh_token_secret,
            self.refresh_token_secret_file.take(),
            ("REFRESH_TOKEN_SECRET", "REFRESH_TOKEN_SECRET_FILE"),
        )?;
        secrets_from_file(
            &mut self.refresh_token_previous_secrets,
            self.refresh_token_previous_secrets_file.take(),
            ("REFRESH_TOKEN_PREVIOUS_SECRETS", "REFRESH_TOKEN_PREVIOUS_SECRETS_FILE"),
        )
    }

    /// Checks what must hold before the port opens; the error is one line naming the variable.
    pub(crate) fn check(&self) -> Result<Checked, String> {
        let access_keys = self.access_keys()?;
        let refresh_keys = keys_from(
            ("REFRESH_TOKEN_SECRET", self.refresh_token_secret.as_ref()),
            ("REFRESH_TOKEN_PREVIOUS_SECRETS", &self.refresh_token_previous_secrets),
        )?;
        let refresh_secrets = self
            .refresh_token_secret
            .iter()
            .chain(&self.refresh_token_previous_secrets);
        for (position, refresh) in refresh_secrets.enumerate() {
            if self.tokens.access_secrets().any(|access| access == refresh) {
                let variable = if position == 0 {
                    "REFRESH_TOKEN_SECRET"
                } else {
                    "REFRESH_TOKEN_PREVIOUS_SECRETS"
                };
                return Err(format!("{variable} must differ from every access token secret"));
            }
        }
        for (name, ttl) in [
            ("ACCESS_TOKEN_TTL", self.access_token_ttl),
            ("REFRESH_TOKEN_TTL", self.refresh_token_ttl),
            ("SESSION_PURGE_INTERVAL", self.session_purge_interval),
        ] {
            if ttl < Duration::from_secs(1) {
                return Err(format!("{name} must be at least 1s"));
            }
        }
        // An access token never outlives its session.
        if self.refresh_token_ttl < self.access_token_ttl {
            return Err(
                "REFRESH_TOKEN_TTL must be at least ACCESS_TOKEN_TTL: an access token never outlives its \
                 session"
                    .into(),
            );
        }
        // Reuse detection must not be switchable off by a large window.
        if self.refresh_reuse_grace > MAX_REUSE_GRACE {
            return Err(format!(
                "REFRESH_REUSE_GRACE must be at most {}: a longer window would let a stolen refresh token \
                 be replayed undetected",
                service_kit::duration::format_duration(MAX_REUSE_GRACE)
            ));
        }
        Ok(Checked {
            access_keys,
            refresh_keys,
        })
    }

    /// The access key set of `ACCESS_TOKEN_ALG`: the HS256 secrets, or the Ed25519 signing
    /// key and the public keys published beside it.
    fn access_keys(&self) -> Result<KeySet, String> {
        match self.tokens.access_token_alg {
            TokenAlgorithm::Hs256 => {
                for (variable, given) in [
                    ("ACCESS_TOKEN_PRIVATE_KEY_FILE", &self.access_token_private_key_file),
                    ("ACCESS_TOKEN_PUBLIC_KEYS_FILE", &self.access_token_public_keys_file),
                ] {
                    if given.is_some() {
                        return Err(format!(
                            "{variable} is set, but ACCESS_TOKEN_ALG is HS256; set ACCESS_TOKEN_ALG=EdDSA to sign \
                             with an Ed25519 key"
                        ));
                    }
                }
                self.tokens.access_keys()
            }
            TokenAlgorithm::EdDsa => {
                self.tokens.refuse_secrets_for_eddsa()?;
                let file = self.access_token_private_key_file.as_ref().ok_or(
                    "ACCESS_TOKEN_PRIVATE_KEY_FILE is required with ACCESS_TOKEN_ALG=EdDSA (`auth-server keys \
                     generate --out FILE` makes one)",
                )?;
                let variable = "ACCESS_TOKEN_PRIVATE_KEY_FILE";
                let private = Ed25519PrivateKey::from_pkcs8_pem(&read_secret_file(file, variable)?)
                    .map_err(|e| format!("{variable}: {} {e}", file.display()))?;
                let published = match &self.access_token_public_keys_file {
                    Some(file) => {
                        let variable = "ACCESS_TOKEN_PUBLIC_KEYS_FILE";
                        Ed25519PublicKey::from_pem_bundle(&read_secret_file(file, variable)?)
                            .map_err(|e| format!("{variable}: {} {e}", file.display()))?
                    }
                    None => Vec::new(),
                };
                KeySet::ed25519(&private, &published).map_err(|e| format!("{variable}: {e}"))
            }
        }
    }
}
