//! The launcher binary as the tests that start it run it.

use std::path::Path;
use std::process::{Command, Stdio};

use test_support::CONTRACT_VARIABLES;

/// Local addresses never go through a proxy the environment may name.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// The launcher binary cargo built for the tests.
pub const LAUNCHER: &str = env!("CARGO_BIN_EXE_dev-launcher");

/// The launcher at `program` (usually [`LAUNCHER`]), to run in `dir` (so that `data/` and any `.env` are the test's) as `cargo dev`
/// runs it: `CARGO` is the cargo running the tests, none of the contract's settings comes from
/// the test's own environment, the demo frontend takes any free port (its usual one may be taken,
/// and is not tested here), and its output is piped.
pub fn command(program: &Path, dir: &Path) -> Command {
    let mut command = Command::new(program);
    for variable in CONTRACT_VARIABLES {
        command.env_remove(variable);
    }
    command
        .current_dir(dir)
        .env("CARGO", env!("CARGO"))
        .env("FRONTEND_ADDR", "127.0.0.1:0")
        .env("NO_PROXY", NO_PROXY)
        .env("no_proxy", NO_PROXY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
