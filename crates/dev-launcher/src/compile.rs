//! Builds the two server binaries with the cargo, target directory and profile that built the launcher.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::Result;

/// Paths of the freshly built server binaries.
pub struct Binaries {
    pub auth: PathBuf,
    pub posts: PathBuf,
}

/// Runs `cargo build -p auth-server -p posts-server` and returns where the binaries are.
///
/// The binaries are looked up beside the launcher's own executable, so the build is
/// pointed at that very directory: its parent is the target directory (which honours
/// `CARGO_TARGET_DIR` and `--target-dir`) and its name is the profile's (`debug` for
/// the dev profile, `release`, or a custom profile's name).
pub async fn build_servers() -> Result<Binaries> {
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
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "auth-server", "-p", "posts-server", "--target-dir"])
        .arg(target_dir);
    if profile != "debug" {
        command.args(["--profile", profile]);
    }

    println!("[dev] building auth-server and posts-server…");
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

fn existing(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("cargo built the servers but {} is missing", path.display()).into())
    }
}
