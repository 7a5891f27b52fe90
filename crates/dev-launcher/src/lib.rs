//! What `cargo dev` shares with its tests: the demo frontend's static file server and the
//! browser origins the development servers accept.

pub mod frontend;

/// `CORS_ALLOWED_ORIGINS` for the development servers (unless the user set it): pages served
/// from any port of this machine, such as the demo frontend, may call them.
pub const DEV_CORS_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*";
