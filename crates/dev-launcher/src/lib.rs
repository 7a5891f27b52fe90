//! What `cargo dev` shares with its tests: the demo frontend's static file server, the
//! browser origins the development servers accept, and how the servers are built.

pub mod frontend;

/// `CORS_ALLOWED_ORIGINS` for the development servers (unless the user set it): pages served
/// from any port of this machine, such as the demo frontend, may call them.
pub const DEV_CORS_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*";

/// The arguments after `cargo` that build both server binaries, as `cargo dev` does.
///
/// `cargo run -p dev-launcher` resolves the features of every dependency for the launcher's
/// graph, which holds both servers' libraries (see its `Cargo.toml`). Naming the launcher's
/// package here too makes this build resolve the very same features, so it reuses all that the
/// launcher's build compiled and only compiles and links the two `main.rs`; `--bin` keeps the
/// running launcher's own executable out of it.
pub const BUILD_SERVERS: [&str; 11] = [
    "build",
    "-p",
    "dev-launcher",
    "-p",
    "auth-server",
    "-p",
    "posts-server",
    "--bin",
    "auth-server",
    "--bin",
    "posts-server",
];
