//! Keys addressed by `kid`: the newest signs, every one verifies.

use hmac::{Hmac, KeyInit as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::Sha256;

use crate::Secret;

/// The shortest secret accepted: 32 bytes, the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("must be at least {MIN_SECRET_BYTES} bytes long (it is {0})")]
    TooShort(usize),
    #[error("could not be turned into a key")]
    Unusable,
}

pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    /// HMAC-SHA256 keyed once: verifying clones it instead of keying anew.
    pub(crate) mac: Hmac<Sha256>,
}

/// A non-empty set of HS256 keys. The first signs; all of them verify, so an
/// older secret can be kept for a while after a rotation.
pub struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// `current` signs; `previous` only verify.
    pub fn new(current: &Secret, previous: &[Secret]) -> Result<Self, KeyError> {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(Key::from_secret)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    pub fn single(secret: &Secret) -> Result<Self, KeyError> {
        Self::new(secret, &[])
    }

    pub(crate) fn signing(&self) -> &Key {
        &self.keys[0]
    }

    pub(crate) fn all(&self) -> &[Key] {
        &self.keys
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The `kid` of the signing key.
    pub fn current_kid(&self) -> &str {
        &self.signing().kid
    }
}

impl Key {
    fn from_secret(secret: &Secret) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        let bytes = secret.expose().as_bytes();
        Ok(Self {
            kid: key_id(secret)?,
            encoding: EncodingKey::from_secret(bytes).map_err(|_| KeyError::Unusable)?,
            decoding: DecodingKey::from_secret(bytes).map_err(|_| KeyError::Unusable)?,
            mac: Hmac::new_from_slice(bytes).map_err(|_| KeyError::Unusable)?,
        })
    }
}

/// A key's id: the first 16 characters of base64url(HMAC-SHA256(secret, "kid")).
/// Stable for a secret, so every instance and both servers agree on it without
/// configuration, and it reveals nothing about the secret.
pub fn key_id(secret: &Secret) -> Result<String, KeyError> {
    let key = EncodingKey::from_secret(secret.expose().as_bytes()).map_err(|_| KeyError::Unusable)?;
    let mac = jsonwebtoken::crypto::sign(b"kid", &key, Algorithm::HS256).map_err(|_| KeyError::Unusable)?;
    Ok(mac.chars().take(16).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        let err = KeySet::single(&Secret::new("x".repeat(31))).expect_err("31 bytes is too short");
        assert_eq!(err, KeyError::TooShort(31));
        assert!(KeySet::single(&Secret::new("x".repeat(32))).is_ok());
    }

    #[test]
    fn kid_is_stable_and_differs_between_secrets() {
        let a = Secret::new("a".repeat(32));
        let b = Secret::new("b".repeat(32));
        assert_eq!(key_id(&a), key_id(&a));
        assert_ne!(key_id(&a), key_id(&b));
        assert_eq!(key_id(&a).expect("kid").len(), 16);
    }

    #[test]
    fn newest_signs_and_all_are_found() {
        let a = Secret::new("a".repeat(32));
        let b = Secret::new("b".repeat(32));
        let set = KeySet::new(&a, std::slice::from_ref(&b)).expect("valid keys");
        assert_eq!(set.current_kid(), key_id(&a).expect("kid"));
        assert!(set.find(&key_id(&b).expect("kid")).is_some());
        assert!(set.find("unknown").is_none());
    }
}
