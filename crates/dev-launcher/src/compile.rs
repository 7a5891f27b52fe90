//! Builds the two server binaries with the cargo, target directory and profile that built the launcher.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::Result;

/// Paths of the freshly built server binaries.
pub struct Binaries {
    pub auth: PathBuf,
    pub posts: PathBuf,
}

/// Builds both server binaries ([`dev_launcher::BUILD_SERVERS`]) and returns where they are.
///
/// The binaries are looked up beside the launcher's own executable, so the build is
/// pointed at that very directory: its parent is the target directory (which honours
/// `CARGO_TARGET_DIR` and `--target-dir`) and its name is the profile's (`debug` for
/// the dev profile, `release`, or a custom profile's name).
///
/// `quiet` (a rebuild under `--watch`) leaves out cargo's progress: a build that works then
/// prints nothing, one that fails prints the compiler's errors.
pub async fn build_servers(quiet: bool) -> Result<Binaries> {
    let exe = std::env::current_exe().map_err(|error| format!("cannot find the launcher's own executable: {error}"))?;
    let profile_dir = exe
        .parent()
        .ok_or("the launcher's executable has no parent directory")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("the launcher's executable is not inside a cargo target directory")?;
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or("the launcher's profile directory has no readable name")?;

    // Under `cargo run`, CARGO names the cargo that started us (the right toolchain).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        // Inside the workspace, whatever the launcher's own working directory (where `data/` goes).
        .current_dir(workspace_root())
        .args(dev_launcher::BUILD_SERVERS)
        .arg("--target-dir")
        .arg(target_dir);
    if profile != "debug" {
        command.args(["--profile", profile]);
    }

    if quiet {
        command.arg("--quiet");
    } else {
        println!("[dev] building auth-server and posts-server…");
    }
    let status = command
        .status()
        .await
        .map_err(|error| format!("cannot run cargo to build the servers: {error}"))?;
    if !status.success() {
        return Err(format!("building the servers failed ({status})").into());
    }

    Ok(Binaries {
        auth: existing(profile_dir, "auth-server")?,
        posts: existing(profile_dir, "posts-server")?,
    })
}

/// The workspace `cargo dev` runs in. `cargo run` tells the launcher where its package is
/// (`CARGO_MANIFEST_DIR`, `crates/dev-launcher`); run some other way, it is the tree it was built from.
pub fn workspace_root() -> PathBuf {
    let package =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    package
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| package.clone(), Path::to_owned)
}

impl Binaries {
    /// When each binary was last written and how long it is: what tells a server that a
    /// rebuild changed from one it left alone.
    pub fn stamps(&self) -> [Option<(std::time::SystemTime, u64)>; 2] {
        [&self.auth, &self.posts].map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            Some((metadata.modified().ok()?, metadata.len()))
        })
    }
}

fn existing(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("cargo built the servers but {} is missing", path.display()).into())
    }
}
