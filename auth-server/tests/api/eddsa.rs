//! The black-box tests of `modules.rs` (see `main.rs`) on SQLite, every test server signing
//! access tokens with Ed25519 (`ACCESS_TOKEN_ALG=EdDSA`) unless the test says otherwise: the
//! same files, with `ALG` telling `spawn_app()` and the binary's helpers to give each server
//! the test key (see `helpers::config_in`) and telling the token tools to verify with it.
//!
//! SQLite's own modules of `main.rs` (`full_disk`, `one_file`) are not repeated here: they are
//! about the database file (a full disk, a file one process holds), and no access token
//! passes through what they check, so the algorithm that signs them changes nothing there.

include!("modules.rs");

use helpers::Backend;
use jwt_tokens::TokenAlgorithm;

/// Where every test server of this target keeps its data.
pub const BACKEND: Backend = Backend::Sqlite;
/// How the test servers of this target sign access tokens, unless a test says otherwise.
pub const ALG: TokenAlgorithm = TokenAlgorithm::EdDsa;
