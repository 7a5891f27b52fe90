//! Checks that a server's settings are documented where operators look: its `--help` and the
//! repository's `.env.example`, both checked against the settings clap itself knows, so that
//! neither can drift from the code.

use clap::{Arg, Command};

/// The settings of `command` that have an environment variable: `(--flag, VARIABLE, default
/// as `--help` shows it, the argument)`.
pub fn settings(command: &Command) -> Vec<(String, String, Option<String>, &Arg)> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?.to_owned();
            let flag = format!("--{}", arg.get_long()?);
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|value| value.to_string_lossy().into_owned())
                .collect();
            // An empty or hidden default is not shown, so there is nothing to check.
            let shown = !arg.is_hide_default_value_set() && defaults.iter().any(|value| !value.is_empty());
            let default = shown.then(|| defaults.join(","));
            Some((flag, variable, default, arg))
        })
        .collect()
}

/// `help` (a server's `--help` output) lists every setting of `command` with its flag, its
/// variable (`[env: VAR=…]`, or `[env: VAR]` alone for a secret) and its default.
pub fn assert_help_lists_every_setting(command: &Command, help: &str) {
    let settings = settings(command);
    assert!(!settings.is_empty(), "{} has settings", command.get_name());
    for (flag, variable, default, arg) in settings {
        let entry = help_entry(help, &flag).unwrap_or_else(|| panic!("--help lists {flag}:\n{help}"));
        if arg.is_hide_env_values_set() {
            assert!(
                entry.contains(&format!("[env: {variable}]")),
                "{flag} names {variable}:\n{entry}"
            );
        } else {
            assert!(
                entry.contains(&format!("[env: {variable}=")),
                "{flag} names {variable}:\n{entry}"
            );
        }
        if let Some(default) = default {
            assert!(
                entry.contains(&format!("[default: {default}]")),
                "{flag} shows its default {default}:\n{entry}"
            );
        }
    }
}

/// Every secret setting of `command` (one whose environment value `--help` hides) warns in
/// `help` that, given as a flag, it is visible to every local user in the process list.
pub fn assert_secret_flags_warn_of_the_process_list(command: &Command, help: &str) {
    let secrets: Vec<String> = settings(command)
        .into_iter()
        .filter(|(_, _, _, arg)| arg.is_hide_env_values_set())
        .map(|(flag, ..)| flag)
        .collect();
    assert!(!secrets.is_empty(), "{} has secret settings", command.get_name());
    for flag in secrets {
        let entry = help_entry(help, &flag).unwrap_or_else(|| panic!("--help lists {flag}:\n{help}"));
        let entry = entry.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            entry.contains("visible to every local user in the process list"),
            "{flag} warns that a flag is visible in the process list:\n{entry}"
        );
    }
}

/// The part of a long `--help` about `flag`: from its line to the next flag's.
fn help_entry<'a>(help: &'a str, flag: &str) -> Option<&'a str> {
    // Flags are indented by 2 (`  -h, --help`) or 6 (`      --addr`), descriptions by 10.
    let is_flag_line = |line: &str| {
        let text = line.trim_start_matches(' ');
        text.starts_with('-') && line.len() - text.len() <= 6
    };
    let mut start = None;
    let mut offset = 0;
    for line in help.split_inclusive('\n') {
        if is_flag_line(line) {
            if let Some(start) = start {
                return Some(&help[start..offset]);
            }
            let named = line
                .trim_end()
                .split([' ', ',', '='])
                .any(|word| word == flag || word.strip_prefix(flag).is_some_and(|rest| rest.starts_with('<')));
            if named {
                start = Some(offset);
            }
        }
        offset += line.len();
    }
    start.map(|start| &help[start..])
}

/// `env_example` (the repository's `.env.example`) names every variable of `command`, as
/// `VAR=…` or commented out as `# VAR=…`.
pub fn assert_env_example_lists_every_setting(command: &Command, env_example: &str) {
    for (_, variable, _, _) in settings(command) {
        let listed = env_example.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.strip_prefix(&variable).is_some_and(|rest| rest.starts_with('='))
        });
        assert!(
            listed,
            ".env.example lists {variable} (as `{variable}=` or `# {variable}=`)"
        );
    }
}

/// Every variable of `command` is one the binary tests clear from the environment before they
/// start a server ([`crate::CONTRACT_VARIABLES`]), so that a developer's shell never reaches
/// a test's server.
pub fn assert_binary_tests_clear_every_setting(command: &Command) {
    let missing: Vec<String> = settings(command)
        .into_iter()
        .map(|(_, variable, _, _)| variable)
        .filter(|variable| !crate::CONTRACT_VARIABLES.contains(&variable.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "test_support::CONTRACT_VARIABLES does not clear {missing:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::help_entry;

    const HELP: &str = "Usage: x [OPTIONS]

Options:
      --addr <ADDR>
          Listen address.

          [env: ADDR=]
          [default: 127.0.0.1:4000]

      --addr-two <ADDR_TWO>
          Another.

          [env: ADDR_TWO=]

  -h, --help
          Print help
";

    #[test]
    fn an_entry_runs_from_its_flag_to_the_next() {
        let entry = help_entry(HELP, "--addr").expect("listed");
        assert!(
            entry.contains("[default: 127.0.0.1:4000]") && !entry.contains("ADDR_TWO"),
            "{entry}"
        );
        let entry = help_entry(HELP, "--addr-two").expect("listed");
        assert!(
            entry.contains("[env: ADDR_TWO=]") && !entry.contains("Print help"),
            "{entry}"
        );
        assert!(help_entry(HELP, "--help").is_some());
        assert!(help_entry(HELP, "--nothing").is_none());
    }
}
