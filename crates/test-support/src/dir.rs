//! `TestDir`: a unique directory under the system temp dir, removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A unique directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TestDir(PathBuf);

impl TestDir {
    /// Creates an empty directory, unique to this process and call.
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "black-box-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The `sqlite://` URL of the database file `file` in this directory.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.0.join(file).display())
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TestDir;

    #[test]
    fn is_unique_and_removed_on_drop() {
        let first = TestDir::new();
        let second = TestDir::new();
        assert_ne!(first.path(), second.path());
        assert!(first.path().is_dir());
        let path = first.path().to_owned();
        drop(first);
        assert!(!path.exists(), "{path:?} is removed on drop");
    }

    #[test]
    fn names_a_sqlite_file_inside_it() {
        let dir = TestDir::new();
        let url = dir.sqlite_url("app.db");
        assert_eq!(url, format!("sqlite://{}", dir.path().join("app.db").display()));
    }
}
