//! What the servers' black-box tests share: a temporary directory per test, a PostgreSQL database per
//! test, and a server binary run as a process.

mod backend;
pub mod cors;
mod dir;
mod disk;
pub mod help;
pub mod jose;
pub mod observe;
pub mod openapi;
mod pg;
mod process;
pub mod prometheus;
pub mod table;

pub use backend::{Backend, TestData};
pub use dir::TestDir;
pub use disk::SmallDisk;
pub use pg::{DEFAULT_TEST_POSTGRES_URL, DatabaseProxy, TestDatabase};
pub use process::{CONTRACT_VARIABLES, Exit, Refusal, ServerBinary, ServerProcess};

/// Says that a test did not run, and why, in one `SKIPPED: …` line written straight to stderr,
/// past the test harness's capture, so that it is seen even though the test passes. With
/// `CI=true` it panics instead: CI must not pass on a test that did not run.
pub fn skip(why: &str) {
    use std::io::Write;
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}; CI=true, so this test must run");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {why}; this test did not run (CI=true makes this a failure)"
    );
}
