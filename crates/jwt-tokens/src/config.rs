//! Token settings shared by both servers' command lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use settings::duration::parse_duration;

use crate::{DEFAULT_VERIFIED_CACHE, KeySet, Secret, TokenAlgorithm, TokenSettings};

/// Settings both servers read to verify access tokens.
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// How access tokens are signed: `HS256` (a secret both servers hold) or `EdDSA`
    /// (Ed25519: auth-server alone holds the private key, posts-server fetches the public
    /// keys from `AUTH_URL`). Refresh tokens are HS256 either way.
    #[arg(long, env = "ACCESS_TOKEN_ALG", default_value = "HS256")]
    pub access_token_alg: TokenAlgorithm,

    /// How many verified EdDSA access tokens a verifier remembers, each until it expires
    /// (0 turns it off): an Ed25519 verification costs about ten HMACs.
    #[arg(long, env = "VERIFIED_TOKEN_CACHE", default_value_t = DEFAULT_VERIFIED_CACHE)]
    pub verified_token_cache: usize,

    /// HS256 key for access tokens, used as its raw UTF-8 bytes; at least 32 bytes.
    ///
    /// Given as a flag, a secret is visible to every local user in the process list: prefer
    /// the variable, or a file (`ACCESS_TOKEN_SECRET_FILE`).
    #[arg(long, env = "ACCESS_TOKEN_SECRET", hide_env_values = true)]
    pub access_token_secret: Option<Secret>,

    /// A file holding `ACCESS_TOKEN_SECRET` (a container or systemd secret); one trailing line
    /// ending is dropped. Not together with the secret itself.
    #[arg(long, env = "ACCESS_TOKEN_SECRET_FILE")]
    pub access_token_secret_file: Option<PathBuf>,

    /// Older access keys that still verify, comma-separated, while tokens they
    /// signed expire after a rotation; the current secret alone signs.
    ///
    /// Given as a flag, a secret is visible to every local user in the process list: prefer
    /// the variable, or a file (`ACCESS_TOKEN_PREVIOUS_SECRETS_FILE`).
    #[arg(
        long,
        env = "ACCESS_TOKEN_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub access_token_previous_secrets: Vec<Secret>,

    /// A file holding `ACCESS_TOKEN_PREVIOUS_SECRETS`: comma-separated, or one a line.
    /// Not together with the secrets themselves.
    #[arg(long, env = "ACCESS_TOKEN_PREVIOUS_SECRETS_FILE")]
    pub access_token_previous_secrets_file: Option<PathBuf>,

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

    /// Reads the access secrets given as files into their settings; the error is one line
    /// naming the variable (never the file's content). Call it before [`Self::access_keys`].
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        if self.access_token_alg == TokenAlgorithm::EdDsa {
            for (variable, given) in [
                ("ACCESS_TOKEN_SECRET_FILE", &self.access_token_secret_file),
                (
                    "ACCESS_TOKEN_PREVIOUS_SECRETS_FILE",
                    &self.access_token_previous_secrets_file,
                ),
            ] {
                if given.is_some() {
                    return Err(format!(
                        "{variable} is set, but ACCESS_TOKEN_ALG=EdDSA uses no access secret; unset it"
                    ));
                }
            }
        }
        secret_from_file(
            &mut self.access_token_secret,
            self.access_token_secret_file.take(),
            ("ACCESS_TOKEN_SECRET", "ACCESS_TOKEN_SECRET_FILE"),
        )?;
        secrets_from_file(
            &mut self.access_token_previous_secrets,
            self.access_token_previous_secrets_file.take(),
            ("ACCESS_TOKEN_PREVIOUS_SECRETS", "ACCESS_TOKEN_PREVIOUS_SECRETS_FILE"),
        )
    }

    /// The access key set, or the one line that says what is wrong with the secret.
    pub fn access_keys(&self) -> Result<KeySet, String> {
        keys_from(
            ("ACCESS_TOKEN_SECRET", self.access_token_secret.as_ref()),
            ("ACCESS_TOKEN_PREVIOUS_SECRETS", &self.access_token_previous_secrets),
        )
    }

    /// In `EdDSA` mode no access secret is used: one that is given anyway (a leftover of the
    /// HS256 set-up, which would still let its holder mint tokens elsewhere) is refused.
    pub fn refuse_secrets_for_eddsa(&self) -> Result<(), String> {
        if self.access_token_alg == TokenAlgorithm::EdDsa {
            if self.access_token_secret.is_some() {
                return Err(
                    "ACCESS_TOKEN_SECRET is set, but ACCESS_TOKEN_ALG=EdDSA uses no access secret; unset it".into(),
                );
            }
            if !self.access_token_previous_secrets.is_empty() {
                return Err(
                    "ACCESS_TOKEN_PREVIOUS_SECRETS is set, but ACCESS_TOKEN_ALG=EdDSA uses no access secret; unset it"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Every access secret, current and previous.
    pub fn access_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.access_token_secret
            .iter()
            .chain(&self.access_token_previous_secrets)
    }
}

/// Sets `secret` from `file`, if one is given; `variables` are the names of both settings.
pub fn secret_from_file(
    secret: &mut Option<Secret>,
    file: Option<PathBuf>,
    variables: (&str, &str),
) -> Result<(), String> {
    if let Some(text) = read_given_file(file, secret.is_some(), variables, "secret")? {
        *secret = Some(Secret::new(text));
    }
    Ok(())
}

/// Sets `secrets` from `file` (comma-separated, or one a line), if one is given.
pub fn secrets_from_file(
    secrets: &mut Vec<Secret>,
    file: Option<PathBuf>,
    variables: (&str, &str),
) -> Result<(), String> {
    let Some(text) = read_given_file(file, !secrets.is_empty(), variables, "secrets")? else {
        return Ok(());
    };
    *secrets = text
        .split([',', '\n'])
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(Secret::new)
        .collect();
    Ok(())
}

/// The text of `file`, if one is given, for a setting that may be given either way; `set`
/// says whether the setting itself was given too, which is refused, naming both `variables`.
fn read_given_file(
    file: Option<PathBuf>,
    set: bool,
    variables: (&str, &str),
    what: &str,
) -> Result<Option<String>, String> {
    let Some(file) = file else {
        return Ok(None);
    };
    let (variable, file_variable) = variables;
    if set {
        return Err(format!(
            "{variable} and {file_variable} are both set; give the {what} one way only"
        ));
    }
    read_secret_file(&file, file_variable).map(Some)
}

/// The text of a secret (or key) file without its one trailing line ending. The error names
/// the variable and the file, never what the file holds.
pub fn read_secret_file(file: &Path, file_variable: &str) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{file_variable}: cannot read {} ({e})", file.display()))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{file_variable}: {} is not UTF-8 text", file.display()))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
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
