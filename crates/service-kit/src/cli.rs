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
            let rendered = err.to_string();
            let line = rendered.lines().next().unwrap_or("invalid settings");
            let line = line.strip_prefix("error: ").unwrap_or(line);
            eprintln!("{program}: {line}");
            std::process::exit(2);
        }
    }
}
