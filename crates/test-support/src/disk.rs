//! `SmallDisk`: a small file system of a test's own (a `tmpfs` mount), to fill up and free again.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;

use crate::TestDir;

/// A `tmpfs` of a fixed size mounted on a fresh directory, unmounted and removed on drop.
/// [`SmallDisk::fill`] takes every free byte; [`SmallDisk::free`] gives them back.
#[derive(Debug)]
pub struct SmallDisk {
    dir: TestDir,
}

impl SmallDisk {
    /// Mounts a `bytes`-sized `tmpfs`. Where this process may not mount one (not root, no
    /// `mount`), the test fails, saying so ([`crate::cannot_run`]).
    pub fn mount(bytes: u64) -> Self {
        let dir = TestDir::new();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output();
        let why = match mounted {
            Ok(output) if output.status.success() => return Self { dir },
            Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        crate::cannot_run(&format!(
            "cannot mount a small tmpfs to fill up ({why}); run the tests as root"
        ))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `sqlite://` URL of the database file `file` on this disk.
    pub fn sqlite_url(&self, file: &str) -> String {
        self.dir.sqlite_url(file)
    }

    /// Takes every free byte (in files of its own); returns how many it took.
    pub fn fill(&self) -> u64 {
        let mut taken = 0;
        for (index, chunk) in [64 * 1024, 4096, 512, 1].into_iter().enumerate() {
            let path = self.path().join(format!("filler-{index}"));
            let mut file = std::fs::File::create(&path).expect("create a filler file");
            let bytes = vec![0x5a_u8; chunk];
            loop {
                match file.write_all(&bytes).and_then(|()| file.sync_all()) {
                    Ok(()) => taken += chunk as u64,
                    Err(e) if e.kind() == ErrorKind::StorageFull || e.raw_os_error() == Some(28) => break,
                    Err(e) => panic!("fill {} ({e})", path.display()),
                }
            }
        }
        taken
    }

    /// Folds the write-ahead log of the SQLite database `url` back into its file and empties it,
    /// as a quiet moment would, so that the next commit needs new space on the disk. Run beside a
    /// server on the file, through a connection of its own.
    pub async fn empty_sqlite_log(&self, url: &str) {
        use sqlx::ConnectOptions as _;
        let mut conn = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
            .expect("a SQLite URL")
            .connect()
            .await
            .expect("open the database beside the server");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
    }

    /// Gives back what [`SmallDisk::fill`] took.
    pub fn free(&self) {
        for index in 0..4 {
            let _ = std::fs::remove_file(self.path().join(format!("filler-{index}")));
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server of the test may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).output();
    }
}

#[cfg(test)]
mod tests {
    use super::SmallDisk;

    #[test]
    fn fills_up_and_frees_again() {
        let disk = SmallDisk::mount(256 * 1024);
        let taken = disk.fill();
        assert!(taken > 200 * 1024, "took {taken} bytes");
        let full = std::fs::write(disk.path().join("more"), [1_u8; 8192]);
        assert!(full.is_err(), "nothing more fits");
        disk.free();
        std::fs::write(disk.path().join("more"), [1_u8; 8192]).expect("space again");
    }
}
