//! Binaries of other packages of the workspace, for a test that runs them as processes: cargo
//! gives a package's tests its own binaries only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Where the running test was built: what a build of other binaries for it must use.
#[derive(Debug)]
pub struct TestTarget {
    /// The target directory (`CARGO_TARGET_DIR`, or `target/`).
    pub target_dir: PathBuf,
    /// `<target_dir>/<profile>`, where the binaries are.
    pub profile_dir: PathBuf,
    /// `debug`, `release`, or a custom profile's name.
    pub profile: String,
}

/// The target directory and profile of the running test (an executable in
/// `<target>/<profile>/deps/`).
pub fn test_target() -> TestTarget {
    let exe = std::env::current_exe().expect("the test's own executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from a cargo target directory")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("a target directory").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a profile name")
        .to_owned();
    TestTarget {
        target_dir,
        profile_dir,
        profile,
    }
}

/// The path of binary `bin` of package `package`, built now (once per test process) into the
/// running test's own target directory and profile. `alongside` is the running test's package:
/// named in the same build, it makes cargo resolve the same features as the test's build did,
/// so that only `bin`'s `main.rs` is compiled and linked.
pub fn workspace_binary(package: &str, bin: &str, alongside: &str) -> &'static str {
    static BUILT: Mutex<Option<HashMap<String, &'static str>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(bin) {
        return path;
    }
    let TestTarget {
        target_dir,
        profile_dir,
        profile,
    } = test_target();
    let mut command = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", package, "-p", alongside, "--bin", bin, "--quiet"])
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(std::process::Stdio::null());
    if profile != "debug" {
        command.args(["--profile", &profile]);
    }
    let output = command.output().expect("run cargo build");
    assert!(
        output.status.success(),
        "building {bin} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path: PathBuf = profile_dir.join(bin);
    let path: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
    built.insert(bin.to_owned(), path);
    path
}
