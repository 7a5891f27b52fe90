//! What the servers' black-box tests share: a temporary directory per test and a server binary run as a process.

mod dir;
mod process;

pub use dir::TestDir;
pub use process::{CONTRACT_VARIABLES, Exit, Refusal, ServerBinary, ServerProcess};
