//! Reading a server's settings: flags, then environment, then `.env`, checked before anything starts.

use clap::Parser;
use clap::error::ErrorKind;

/// Parses `C` from the command line and environment (after loading `.env`
/// from the working directory only, if present, without overriding variables
/// already set). A bad setting ends the process with one line that names it.
pub fn parse_or_exit<C: Parser>(program: &str) -> C {
    let _ = dotenvy::from_path(".env");
    match C::try_parse() {
        Ok(config) => config,
        Err(err) if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => err.exit(),
        Err(err) => {
            eprintln!("{program}: {}", one_line(&err.to_string()));
            std::process::exit(2);
        }
    }
}

/// clap's error as one line. Its first line says what is wrong; when that line ends in a
/// colon, the indented lines after it name what it is about (the missing arguments), and
/// join it.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid settings");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if !first.ends_with(':') {
        return first.to_owned();
    }
    let named: Vec<&str> = lines
        .take_while(|line| line.starts_with(' ') && !line.trim().is_empty())
        .map(str::trim)
        .collect();
    if named.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn missing_arguments_are_named_on_the_line() {
        let rendered = "error: the following required arguments were not provided:\n  <USERNAME>\n  <OTHER>\n\n\
                        Usage: auth-server user add <USERNAME>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "the following required arguments were not provided: <USERNAME>, <OTHER>"
        );
        let invalid = "error: invalid value 'x' for '--addr <AUTH_ADDR>': invalid socket address syntax\n\n\
                       For more information, try '--help'.\n";
        assert_eq!(
            one_line(invalid),
            "invalid value 'x' for '--addr <AUTH_ADDR>': invalid socket address syntax"
        );
    }
}
