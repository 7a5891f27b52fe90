//! Token settings shared by both servers' command lines.

use std::time::Duration;

use clap::Args;
use service_kit::duration::parse_duration;

use crate::{KeySet, Secret, TokenSettings};

/// Settings both servers read to verify access tokens.
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// HS256 key for access tokens, used as its raw UTF-8 bytes; at least 32 bytes.
    #[arg(long, env = "ACCESS_TOKEN_SECRET", hide_env_values = true)]
    pub access_token_secret: Option<Secret>,

    /// Older access keys that still verify, comma-separated, while tokens they
    /// signed expire after a rotation; the current secret alone signs.
    #[arg(
        long,
        env = "ACCESS_TOKEN_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub access_token_previous_secrets: Vec<Secret>,

    /// `iss` written into tokens and required of them.
    #[arg(long, env = "JWT_ISSUER", default_value = "auth-server")]
    pub jwt_issuer: String,

    /// `aud` written into access tokens and required of them.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "posts-server")]
    pub jwt_audience: String,

    /// Clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY", default_value = "5s", value_parser = parse_leeway)]
    pub jwt_leeway: Duration,
}

/// A leeway is a small allowance for clock skew; anything over 5 minutes is a mistake.
fn parse_leeway(value: &str) -> Result<Duration, String> {
    let leeway = parse_duration(value)?;
    if leeway > Duration::from_secs(300) {
        return Err("a leeway over 5m would keep expired tokens alive; clocks should agree within seconds".into());
    }
    Ok(leeway)
}

impl TokenArgs {
    pub fn settings(&self) -> TokenSettings {
        TokenSettings {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            leeway: self.jwt_leeway,
        }
    }

    /// The access key set, or the one line that says what is wrong with the secret.
    pub fn access_keys(&self) -> Result<KeySet, String> {
        keys_from(
            ("ACCESS_TOKEN_SECRET", self.access_token_secret.as_ref()),
            ("ACCESS_TOKEN_PREVIOUS_SECRETS", &self.access_token_previous_secrets),
        )
    }

    /// Every access secret, current and previous.
    pub fn access_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.access_token_secret
            .iter()
            .chain(&self.access_token_previous_secrets)
    }
}

/// Builds a key set from a required secret setting and its optional older
/// secrets, naming the variable at fault in any error.
pub fn keys_from(current: (&str, Option<&Secret>), previous: (&str, &[Secret])) -> Result<KeySet, String> {
    let (variable, secret) = current;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{variable} is required (an HS256 key of at least 32 bytes)"))?;
    KeySet::single(secret).map_err(|e| format!("{variable} {e}"))?;
    let (previous_variable, older) = previous;
    for (position, old) in older.iter().enumerate() {
        let nth = position + 1;
        KeySet::single(old).map_err(|e| format!("{previous_variable}: secret {nth} {e}"))?;
        if old == secret {
            return Err(format!(
                "{previous_variable}: secret {nth} is the current secret ({variable})"
            ));
        }
    }
    KeySet::new(secret, older).map_err(|e| format!("{variable} {e}"))
}
