//! `cargo dev --watch`: notices a saved source file of either server or of a crate they use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::Result;

/// What is watched, relative to the workspace root: the servers and the crates they use.
pub const WATCHED_DIRS: [&str; 3] = ["auth-server", "posts-server", "crates"];
/// And these files at the root: the workspace's manifest and lock file.
const WATCHED_FILES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];
/// A save often comes as several events (write, rename, metadata): a change counts once nothing
/// more has happened for this long.
const QUIET: Duration = Duration::from_millis(300);

/// Changed source files, as the operating system reports them (inotify on Linux).
pub struct Changes {
    root: PathBuf,
    events: mpsc::UnboundedReceiver<PathBuf>,
    // Watching stops when it is dropped.
    _watcher: RecommendedWatcher,
}

impl Changes {
    /// Starts watching the tree at `root` (the workspace root).
    pub fn watch(root: &Path) -> Result<Self> {
        let (sender, events) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if !matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) {
                return;
            }
            for path in event.paths.into_iter().filter(|path| is_source(path)) {
                // The receiver is gone only when the launcher is stopping.
                let _ = sender.send(path);
            }
        })
        .map_err(|error| format!("cannot watch the source files: {error}"))?;
        let dirs = WATCHED_DIRS.iter().map(|dir| (dir, RecursiveMode::Recursive));
        let files = WATCHED_FILES.iter().map(|file| (file, RecursiveMode::NonRecursive));
        for (name, mode) in dirs.chain(files) {
            let path = root.join(name);
            watcher
                .watch(&path, mode)
                .map_err(|error| format!("cannot watch {}: {error}", path.display()))?;
        }
        Ok(Self {
            root: root.to_owned(),
            events,
            _watcher: watcher,
        })
    }

    /// Waits for a change and then for quiet; returns the changed files, relative to the root,
    /// without repeats. Cancel-safe: a change that arrives meanwhile is kept for the next call.
    pub async fn next(&mut self) -> Vec<PathBuf> {
        let Some(first) = self.events.recv().await else {
            return std::future::pending().await;
        };
        let mut changed = vec![first];
        while let Ok(Some(path)) = tokio::time::timeout(QUIET, self.events.recv()).await {
            if !changed.contains(&path) {
                changed.push(path);
            }
        }
        changed
            .into_iter()
            .map(|path| path.strip_prefix(&self.root).map(Path::to_owned).unwrap_or(path))
            .collect()
    }
}

/// Whether a change to `path` can change a server: Rust sources, manifests, SQL migrations and
/// the lock file; not build output, editors' swap and backup files, or anything else.
fn is_source(path: &Path) -> bool {
    let ignored_dir = path
        .components()
        .any(|part| matches!(part.as_os_str().to_str(), Some("target" | "node_modules" | ".git")));
    if ignored_dir {
        return false;
    }
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    name == "Cargo.lock"
        || path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| matches!(extension, "rs" | "toml" | "sql"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_count_and_build_output_and_editor_files_do_not() {
        for source in [
            "/w/posts-server/src/routes/posts.rs",
            "/w/crates/jwt-tokens/Cargo.toml",
            "/w/auth-server/migrations/sqlite/0001_init.sql",
            "/w/Cargo.lock",
        ] {
            assert!(is_source(Path::new(source)), "{source}");
        }
        for other in [
            "/w/crates/jwt-tokens/target/debug/build/x.rs",
            "/w/posts-server/src/routes/.posts.rs.swp",
            "/w/posts-server/src/routes/posts.rs~",
            "/w/posts-server/src/routes/4913",
            "/w/frontend/node_modules/a/index.toml",
            "/w/auth-server/README.md",
        ] {
            assert!(!is_source(Path::new(other)), "{other}");
        }
    }
}
