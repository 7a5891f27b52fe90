//! `Secret`: key material that cannot be printed by accident.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// A signing secret. `Debug` and `Display` never show it; only [`Secret::expose`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw secret, for handing to the signing code and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes (the secret is used as its raw UTF-8 bytes).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let secret = Secret::new("super-secret-value-that-is-long-enough");
        assert!(!format!("{secret:?}").contains("super"));
        assert!(!format!("{secret}").contains("super"));
        assert_eq!(secret.expose(), "super-secret-value-that-is-long-enough");
    }
}
