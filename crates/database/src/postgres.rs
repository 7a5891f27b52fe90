//! Opening a PostgreSQL database the way a server needs it: a pool sized and
//! timed by [`DatabaseArgs`], patience with a database that is still starting,
//! and the embedded migrations applied.

use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgPool};
use tokio::time::Instant;

use crate::error::is_unavailable;
use settings::duration::{format_duration, parse_duration, parse_positive_duration};

/// The first wait between two attempts to reach the database at start-up.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts: doubling stops here.
const LONGEST_RETRY: Duration = Duration::from_secs(2);

/// Database pool settings both servers read. They apply to PostgreSQL; the
/// embedded SQLite database has fixed settings of its own.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct DatabaseArgs {
    /// Most connections a server keeps open to PostgreSQL at once.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub database_max_connections: u32,

    /// How long a request waits for a free (or new) connection before it is answered `503`.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub database_acquire_timeout: Duration,

    /// Longest a single SQL statement may run (PostgreSQL's `statement_timeout`); a
    /// request whose statement is cut short is answered `503`. `0s` means no limit.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_statement_timeout: Duration,

    /// How long start-up keeps retrying a database that cannot be reached (still
    /// starting, network not up yet) before the server gives up and exits.
    #[arg(long, env = "DATABASE_STARTUP_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub database_startup_timeout: Duration,
}

impl Default for DatabaseArgs {
    /// The same values as the command line's defaults.
    fn default() -> Self {
        Self {
            database_max_connections: 10,
            database_acquire_timeout: Duration::from_secs(5),
            database_statement_timeout: Duration::from_secs(5),
            database_startup_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connects to the database at a `postgres://` URL and applies `migrator`.
///
/// A database that cannot be reached yet (connection refused, a host name that
/// does not resolve yet, a server still starting or out of connection slots) is
/// tried again, waiting 100 ms, then twice as long each time up to 2 s, with one
/// warning logged per failed attempt, until `database_startup_timeout` has
/// passed. Any other failure (a wrong password, a database that does not exist)
/// ends the start at once. Messages name the database without its password.
///
/// Several servers may start at once on one database: PostgreSQL migrations
/// run under an advisory lock, so each migration is applied exactly once.
///
/// Connections are checked before each use, so that ones the server closed
/// (a restart, `pg_terminate_backend`) are replaced instead of failing a request:
/// the pool recovers by itself once the database is back.
pub async fn open(url: &str, migrator: &Migrator, args: &DatabaseArgs) -> Result<PgPool, String> {
    let untimed = parse(url)?;
    let target = describe(&untimed);
    // A connection of its own until the database answers: the pool would retry a refused
    // connection silently until its acquire timeout, and say only that it timed out.
    let probe = connect_patiently(
        &untimed,
        &target,
        args.database_startup_timeout,
        args.database_acquire_timeout,
    )
    .await?;
    let _ = probe.close().await;
    // Migrations run without the statement timeout: a migration may rightly take long, and
    // so may waiting for the migration lock while another server holds it.
    let migrating = PgPoolOptions::new().max_connections(1).connect_lazy_with(untimed);
    let migrated = migrator.run(&migrating).await;
    migrating.close().await;
    migrated.map_err(|e| format!("cannot migrate PostgreSQL database {target} ({e})"))?;
    Ok(PgPoolOptions::new()
        .max_connections(args.database_max_connections)
        .acquire_timeout(args.database_acquire_timeout)
        .test_before_acquire(true)
        .connect_lazy_with(connect_options(url, args)?))
}

/// The connect options of `url`, with the statement timeout applied to every session.
pub fn connect_options(url: &str, args: &DatabaseArgs) -> Result<PgConnectOptions, String> {
    let statement_timeout = format!("{}ms", args.database_statement_timeout.as_millis());
    Ok(parse(url)?.options([("statement_timeout", statement_timeout)]))
}

fn parse(url: &str) -> Result<PgConnectOptions, String> {
    // sqlx's parse errors describe the fault, never the URL (which may hold a password).
    PgConnectOptions::from_str(url).map_err(|e| format!("not a usable PostgreSQL URL ({e})"))
}

/// `postgres://user@host:port/database`: enough to tell which database is meant,
/// never the password (nor any other query parameter).
pub fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    let database = options.get_database().unwrap_or(options.get_username());
    format!(
        "postgres://{}@{host}:{}/{database}",
        options.get_username(),
        options.get_port()
    )
}

/// Connects, trying again while the database is unavailable, until `patience` has passed.
/// An attempt lasts at most `attempt_timeout` (and no longer than the patience left).
async fn connect_patiently(
    options: &PgConnectOptions,
    target: &str,
    patience: Duration,
    attempt_timeout: Duration,
) -> Result<PgConnection, String> {
    let deadline = Instant::now() + patience;
    let mut wait = FIRST_RETRY;
    let mut attempt: u32 = 1;
    loop {
        // The first attempt may take its full time even when the patience is shorter.
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = if attempt == 1 {
            attempt_timeout
        } else {
            attempt_timeout.min(left)
        };
        let err = match tokio::time::timeout(limit, options.connect()).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(err)) => err,
            Err(_) => sqlx::Error::PoolTimedOut,
        };
        if !is_unavailable(&err) {
            return Err(format!("cannot connect to PostgreSQL database {target} ({err})"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "cannot reach PostgreSQL database {target} ({}); gave up after {attempt} attempts in {} \
                 (DATABASE_STARTUP_TIMEOUT)",
                describe_error(&err, limit),
                format_duration(patience)
            ));
        }
        let pause = wait.min(left);
        tracing::warn!(
            database = %target,
            error = %describe_error(&err, limit),
            attempt,
            retry_in = %format_duration(whole_millis(pause)),
            "database not reachable yet; retrying"
        );
        tokio::time::sleep(pause).await;
        wait = (wait * 2).min(LONGEST_RETRY);
        attempt += 1;
    }
}

/// `pause` without its sub-millisecond part, for a log line people read.
fn whole_millis(pause: Duration) -> Duration {
    Duration::from_millis(u64::try_from(pause.as_millis()).unwrap_or(u64::MAX))
}

/// sqlx calls a connection that does not answer in time a pool time-out; here there is no pool.
fn describe_error(err: &sqlx::Error, limit: Duration) -> String {
    match err {
        sqlx::Error::PoolTimedOut => format!("no answer within {}", format_duration(limit)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Settings {
        #[command(flatten)]
        database: DatabaseArgs,
    }

    #[test]
    fn defaults_match_the_command_line() {
        let parsed = Settings::try_parse_from(["server"]).expect("the defaults parse");
        assert_eq!(parsed.database, DatabaseArgs::default());
    }

    #[test]
    fn reads_durations_and_refuses_nonsense() {
        let parsed = Settings::try_parse_from([
            "server",
            "--database-max-connections",
            "3",
            "--database-acquire-timeout",
            "250ms",
            "--database-statement-timeout",
            "0s",
            "--database-startup-timeout",
            "1m",
        ])
        .expect("valid settings");
        assert_eq!(
            parsed.database,
            DatabaseArgs {
                database_max_connections: 3,
                database_acquire_timeout: Duration::from_millis(250),
                database_statement_timeout: Duration::ZERO,
                database_startup_timeout: Duration::from_secs(60),
            }
        );
        for (flag, value) in [
            ("--database-max-connections", "0"),
            ("--database-acquire-timeout", "0s"),
            ("--database-statement-timeout", "5"),
            ("--database-startup-timeout", "soon"),
        ] {
            assert!(
                Settings::try_parse_from(["server", flag, value]).is_err(),
                "{flag} {value}"
            );
        }
    }

    #[test]
    fn describes_a_database_without_its_password() {
        let args = DatabaseArgs::default();
        let options =
            connect_options("postgres://app:hunter2@db.internal:6543/posts?sslmode=disable", &args).expect("a URL");
        assert_eq!(describe(&options), "postgres://app@db.internal:6543/posts");
        let options = connect_options("postgres://app@db.internal/posts?password=hunter2", &args).expect("a URL");
        assert!(!describe(&options).contains("hunter2"));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let err = connect_options("postgres://app:hunter2@db:notaport/posts", &DatabaseArgs::default())
            .expect_err("a bad port");
        assert!(err.starts_with("not a usable PostgreSQL URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn recognises_both_schemes() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("sqlite://posts.db"));
        assert!(!is_postgres_url("postgres:h"));
    }
}
