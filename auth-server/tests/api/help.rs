//! `auth-server --help` lists every setting with its flag, variable and default, and the
//! repository's `.env.example` names every variable: both checked against clap's own list.

use std::path::{Path, PathBuf};

use auth_server::Config;
use clap::CommandFactory as _;
use test_support::help::{
    assert_binary_tests_clear_every_setting, assert_env_example_lists_every_setting, assert_help_lists_every_setting,
    assert_secret_flags_warn_of_the_process_list,
};

use crate::binary::AUTH_SERVER;
use crate::helpers::{ACCESS_SECRET, REFRESH_SECRET, TestDir};

const ENV_EXAMPLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example"));

#[tokio::test]
async fn help_lists_every_flag_with_its_variable_and_default_and_never_a_secret() {
    let dir = TestDir::new();
    let mut command = AUTH_SERVER.command(dir.path());
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
        .arg("--help");
    let output = command.output().await.expect("run auth-server --help");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");

    assert_help_lists_every_setting(&Config::command(), &help);
    assert_secret_flags_warn_of_the_process_list(&Config::command(), &help);
    for secret in [ACCESS_SECRET, REFRESH_SECRET] {
        assert!(!help.contains(secret), "--help shows a secret:\n{help}");
    }
    assert!(help.contains("user"), "--help lists the operators' commands:\n{help}");
}

#[test]
fn the_binary_tests_clear_every_variable_from_their_environment() {
    assert_binary_tests_clear_every_setting(&Config::command());
}

#[test]
fn the_env_example_names_every_variable() {
    assert_env_example_lists_every_setting(&Config::command(), ENV_EXAMPLE);
}

/// README.md and every `docs/*.md`, one after the other.
fn documentation() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("read docs/")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    pages.sort();
    pages.insert(0, root.join("README.md"));
    pages
        .iter()
        .map(|page| std::fs::read_to_string(page).unwrap_or_else(|err| panic!("read {}: {err}", page.display())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The documentation says only what exists: no password change while no route changes a password.
#[test]
fn the_documentation_promises_no_password_change_the_server_does_not_offer() {
    let document = auth_server::api().into_openapi();
    let changes_passwords = document.paths.paths.keys().any(|path| path.contains("password"));
    let text = documentation()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    for claim in [
        "password change",
        "change of password",
        "changing a password",
        "changes a password",
    ] {
        assert!(
            changes_passwords || !text.contains(claim),
            "the documentation mentions a {claim:?}, which no route offers"
        );
    }
}
