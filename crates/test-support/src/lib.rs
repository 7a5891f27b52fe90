//! What the servers' black-box tests share: a temporary directory per test, a PostgreSQL database per
//! test, and a server binary run as a process.

mod backend;
pub mod cors;
mod dir;
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
pub use pg::{DEFAULT_TEST_POSTGRES_URL, DatabaseProxy, TestDatabase};
pub use process::{CONTRACT_VARIABLES, Exit, Refusal, ServerBinary, ServerProcess};
