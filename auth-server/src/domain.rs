//! Usernames and passwords: parsed at the edge, trusted inside.

use std::fmt;

use serde::Deserialize;
use service_kit::ApiError;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;

/// 3 to 64 ASCII letters, digits, `.`, `_` or `-`, kept as given. ASCII only,
/// so no two usernames can look alike through Unicode look-alikes; compared
/// case-insensitively through [`Username::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: String) -> Result<Self, ApiError> {
        let valid_chars = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&value.len()) || !valid_chars {
            return Err(ApiError::new(
                crate::error::AuthError::InvalidUsername,
                format!(
                    "a username is {USERNAME_MIN} to {USERNAME_MAX} characters of letters, digits, '.', '_' and '-'"
                ),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness and lookup use: `Kyle` and `kyle` are one user.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password as received. It is never logged: `Debug` is redacted, and it
/// has no `Display` or `Serialize`.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// A password read elsewhere than from a JSON body (the operators' command line).
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// 8 to 1024 characters of any kind, as NIST SP 800-63B advises (no composition rules).
    pub fn validate(&self) -> Result<(), ApiError> {
        let chars = self.0.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&chars) {
            return Err(ApiError::new(
                crate::error::AuthError::InvalidPassword,
                format!("a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long"),
            ));
        }
        Ok(())
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The body of `/register` and `/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// Letters, digits, `.`, `_` and `-`; unique regardless of case.
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]+$", example = "Kyle")]
    pub username: String,
    /// Any characters; the length counts Unicode code points.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub password: Password,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["Kyle", "abc", "a.b_c-d", &"x".repeat(64)] {
            assert!(Username::parse(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in ["ab", "", &"x".repeat(65), "with space", "Kylé", "Kуle", "a/b", "a\0b"] {
            assert!(Username::parse(bad.to_owned()).is_err(), "{bad}");
        }
        assert_eq!(Username::parse("KyLe".into()).expect("valid").key(), "kyle");
    }

    #[test]
    fn passwords() {
        assert!(Password("1234567".into()).validate().is_err());
        assert!(Password("12345678".into()).validate().is_ok());
        assert!(Password("ü".repeat(1024)).validate().is_ok());
        assert!(Password("x".repeat(1025)).validate().is_err());
        assert_eq!(format!("{:?}", Password("hunter22".into())), "Password(<redacted>)");
    }
}
