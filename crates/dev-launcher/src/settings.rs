//! Which settings the user gave (environment or `.env`), so the launcher's defaults never override them.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::Path;

use tokio::process::Command;

/// The keys the user set, in the environment or in `.env` in the working directory.
///
/// The servers read `.env` themselves, but a variable the launcher passes would take
/// precedence over it; so a key found in `.env` is left for the server to read.
pub struct UserSettings {
    dotenv_keys: HashSet<String>,
}

impl UserSettings {
    /// Reads the keys of `.env` in the working directory, the file the servers read too.
    pub fn load() -> Self {
        Self::with_dotenv(Path::new(".env"))
    }

    fn with_dotenv(path: &Path) -> Self {
        let mut dotenv_keys = HashSet::new();
        match dotenvy::from_path_iter(path) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok((key, _value)) => {
                            dotenv_keys.insert(key);
                        }
                        Err(error) => {
                            eprintln!("[dev] warning: skipping a line of {}: {error}", path.display());
                        }
                    }
                }
            }
            Err(error) if error.not_found() => {}
            Err(error) => eprintln!("[dev] warning: cannot read {}: {error}", path.display()),
        }
        Self { dotenv_keys }
    }

    /// Whether the user chose a value for `key` themselves.
    pub fn gives(&self, key: &str) -> bool {
        std::env::var_os(key).is_some() || self.dotenv_keys.contains(key)
    }

    /// Sets `key` on the child unless the user gave it, in which case the child reads theirs.
    pub fn set_default(&self, command: &mut Command, key: &str, value: impl AsRef<OsStr>) {
        if !self.gives(key) {
            command.env(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_dotenv_count_as_given() -> Result<(), Box<dyn std::error::Error>> {
        let path = std::env::temp_dir().join(format!("dev-launcher-dotenv-{}", std::process::id()));
        std::fs::write(&path, "# a comment\nDEV_LAUNCHER_TEST_ADDR=127.0.0.1:4001\n")?;
        let settings = UserSettings::with_dotenv(&path);
        std::fs::remove_file(&path)?;

        assert!(settings.gives("DEV_LAUNCHER_TEST_ADDR"));
        assert!(!settings.gives("DEV_LAUNCHER_TEST_NEVER_SET"));
        Ok(())
    }

    #[test]
    fn a_missing_dotenv_gives_nothing() {
        let settings = UserSettings::with_dotenv(Path::new("/nonexistent/.env"));
        assert!(!settings.gives("DEV_LAUNCHER_TEST_NEVER_SET"));
    }
}
