//! `posts-server --help` lists every setting with its flag, variable and default, and the
//! repository's `.env.example` names every variable: both checked against clap's own list.

use clap::CommandFactory as _;
use posts_server::Config;
use test_support::help::{
    assert_binary_tests_clear_every_setting, assert_env_example_lists_every_setting, assert_help_lists_every_setting,
    assert_secret_flags_warn_of_the_process_list,
};

use crate::binary::POSTS_SERVER;
use crate::helpers::{ACCESS_SECRET, TestDir};

const ENV_EXAMPLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example"));

#[tokio::test]
async fn help_lists_every_flag_with_its_variable_and_default_and_never_a_secret() {
    let dir = TestDir::new();
    let mut command = POSTS_SERVER.command(dir.path());
    command.env("ACCESS_TOKEN_SECRET", ACCESS_SECRET).arg("--help");
    let output = command.output().await.expect("run posts-server --help");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");

    assert_help_lists_every_setting(&Config::command(), &help);
    assert_secret_flags_warn_of_the_process_list(&Config::command(), &help);
    assert!(!help.contains(ACCESS_SECRET), "--help shows a secret:\n{help}");
}

#[test]
fn the_binary_tests_clear_every_variable_from_their_environment() {
    assert_binary_tests_clear_every_setting(&Config::command());
}

#[test]
fn the_env_example_names_every_variable() {
    assert_env_example_lists_every_setting(&Config::command(), ENV_EXAMPLE);
}
