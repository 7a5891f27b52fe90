//! What the servers' black-box tests share: a temporary directory per test, a PostgreSQL database per
//! test, and a server binary run as a process.

mod backend;
pub mod build;
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
pub mod relay;
pub mod table;

pub use backend::{Backend, TestData};
pub use dir::TestDir;
pub use disk::SmallDisk;
pub use pg::{DEFAULT_TEST_POSTGRES_URL, DatabaseProxy, TestDatabase};
pub use process::{CONTRACT_VARIABLES, Exit, Refusal, ServerBinary, ServerProcess};

/// Fails a test that cannot run here, saying why and what it needs. No test of this workspace is
/// ever skipped: `cargo test` shows a returned-early test as `ok`, so a passing run must mean
/// that every test ran. What the tests need (PostgreSQL, Chromium, node and npm, root for a
/// small `tmpfs`) is listed in the README; `.ci/run` installs or starts all of it.
pub fn cannot_run(why: &str) -> ! {
    panic!(
        "this test cannot run here: {why}. The tests need what the README lists (`bash .ci/run` installs or starts it); none is ever skipped"
    )
}
