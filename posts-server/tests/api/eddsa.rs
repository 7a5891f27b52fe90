//! The black-box tests of `modules.rs` (see `main.rs`) on SQLite with `ACCESS_TOKEN_ALG=EdDSA`:
//! `ALG` tells `spawn_app()` and friends to start every server following a stand-in for
//! auth-server that publishes the test issuer's Ed25519 key, and the tokens of the tests are
//! signed with that key. Below, what only `EdDSA` has: following the auth server's keys, and a
//! rotation of them with a real auth server (here only, not on PostgreSQL too: they do not
//! depend on where posts are kept).
//!
//! SQLite's own modules of `main.rs` (`connections`, `full_disk`, `one_file`) test storage and
//! connections, which do not depend on how tokens are signed: they run in `api` alone.

include!("modules.rs");

mod follow;
mod rotation;

use helpers::Backend;

/// Where every test server of this target keeps its posts.
pub const BACKEND: Backend = Backend::Sqlite;
/// How every test server of this target verifies access tokens.
pub const ALG: jwt_tokens::TokenAlgorithm = jwt_tokens::TokenAlgorithm::EdDsa;
