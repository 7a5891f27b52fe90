//! Bare axum (`posts-bare`) on the allocator the servers use, mimalloc: the outside anchor
//! with the one difference of the servers' allocator taken away, so that the table shows how
//! much of the servers' distance to bare axum the allocator makes. Only `bench` starts it.

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    bench::bare::serve("posts-bare-mimalloc").await
}
