//! The operators' command line: `auth-server user …`, working on the configured database
//! directly (no server needs to run, and no token secret is needed), and `auth-server keys …`,
//! which makes and reads the Ed25519 key files of `ACCESS_TOKEN_ALG=EdDSA`.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;
use serde::Serialize;
use service_kit::now_unix_ms;

use crate::config::Config;
use crate::domain::{Password, Username};
use crate::open_store;
use crate::password::Hasher;
use crate::store::{AuthStore, NewUser, StoreError, UserRecord};

/// What an operator can do instead of starting the server.
#[derive(Subcommand, Debug, Clone)]
pub enum Operation {
    /// Add, list and delete users, and end their sessions.
    #[command(subcommand, subcommand_required = true, arg_required_else_help = false)]
    User(UserCommand),
    /// Make and read the Ed25519 key files of `ACCESS_TOKEN_ALG=EdDSA`.
    #[command(subcommand, subcommand_required = true, arg_required_else_help = false)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug, Clone)]
pub enum KeysCommand {
    /// Writes a new Ed25519 private key to a new file that only its owner can read (PKCS#8
    /// PEM, for `ACCESS_TOKEN_PRIVATE_KEY_FILE`), and prints its public key (PEM, for
    /// `ACCESS_TOKEN_PUBLIC_KEYS_FILE` during a rotation) and its kid. Never overwrites a file.
    Generate {
        /// The file to create.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Prints the public key (PEM) and the kid of a private key file.
    Public {
        /// A PKCS#8 PEM Ed25519 private key file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Adds a user (the same rules as `POST /register`) and prints its id. The password is
    /// one line of standard input, or asked for without echo when that is a terminal.
    Add { username: String },
    /// Lists every user, oldest first, one a line: id, username, created (UTC) and live
    /// sessions, separated by tabs.
    List {
        /// A JSON array of `{"id","username","createdAt","sessions"}` instead.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a user and every session of theirs.
    Delete { username: String },
    /// Ends every session of a user (their access tokens still work until they expire)
    /// and prints how many were ended.
    RevokeSessions { username: String },
}

/// A failed operation: the one line printed after `auth-server: `.
#[derive(Debug)]
struct Failure(String);

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Self(format!("database: {err}"))
    }
}

/// Runs `operation` on the database of `config`; exit code 1 with one line on stderr if it fails.
pub async fn run(config: &Config, operation: Operation) -> ExitCode {
    let operation = match operation {
        Operation::Keys(command) => return finish(keys(command)),
        user => user,
    };
    let outcome = match open_store(
        &config.database_url,
        &config.server.database,
        database::sqlite::Access::Shared,
    )
    .await
    {
        Ok(store) => {
            let outcome = match operation {
                Operation::User(command) => user(&store, command).await,
                Operation::Keys(_) => unreachable!("handled without a database"),
            };
            store.close().await;
            outcome
        }
        Err(err) => Err(Failure(err.to_string())),
    };
    finish(outcome)
}

/// Exit code 0, or 1 with the failure's one line on stderr.
fn finish(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(line)) => {
            eprintln!("auth-server: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn user(store: &Arc<dyn AuthStore>, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add { username } => add(store, username).await,
        UserCommand::List { json } => list(store, json).await,
        UserCommand::Delete { username } => {
            let user = existing(store, username).await?;
            if !store.delete_user(&user.id).await? {
                return Err(no_such_user(&user.username));
            }
            println!("deleted {}", user.username);
            Ok(())
        }
        UserCommand::RevokeSessions { username } => {
            let user = existing(store, username).await?;
            let ended = store.revoke_all_sessions(&user.id).await?;
            println!("{ended}");
            Ok(())
        }
    }
}

async fn add(store: &Arc<dyn AuthStore>, username: String) -> Result<(), Failure> {
    let username = Username::parse(username).map_err(|e| Failure(format!("invalid username: {}", e.message())))?;
    // Checked before the password is asked for; the insert below still settles a race.
    if store.find_user(&username.key()).await?.is_some() {
        return Err(taken(username.as_str()));
    }
    let password = read_password()?;
    password
        .validate()
        .map_err(|e| Failure(format!("invalid password: {}", e.message())))?;
    let hasher = Hasher::new()
        .await
        .map_err(|e| Failure(format!("password hashing: {e}")))?;
    let password_hash = hasher
        .hash(password)
        .await
        .map_err(|e| Failure(format!("password hashing: {}", e.message())))?;
    let user = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.as_str().to_owned(),
        username_key: username.key(),
        password_hash,
        created_at_ms: now_unix_ms(),
    };
    match store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::UsernameTaken) => return Err(taken(username.as_str())),
        Err(err) => return Err(err.into()),
    }
    println!("{}", user.id);
    Ok(())
}

/// One line of standard input (its line ending removed), or, on a terminal, a prompt that
/// does not echo, asked twice.
fn read_password() -> Result<Password, Failure> {
    if std::io::stdin().is_terminal() {
        let unreadable = |e: std::io::Error| Failure(format!("cannot read the password ({e})"));
        let first = rpassword::prompt_password("Password: ").map_err(unreadable)?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(unreadable)?;
        if first != second {
            return Err(Failure("the passwords do not match".into()));
        }
        return Ok(Password::new(first));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure(format!("cannot read the password from standard input ({e})")))?;
    if line.is_empty() {
        return Err(Failure(
            "no password on standard input (give it as one line, or run on a terminal to be asked)".into(),
        ));
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(Password::new(line.to_owned()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    username: String,
    created_at: String,
    sessions: i64,
}

async fn list(store: &Arc<dyn AuthStore>, json: bool) -> Result<(), Failure> {
    let users: Vec<Listed> = store
        .list_users()
        .await?
        .into_iter()
        .map(|user| Listed {
            created_at: rfc3339(user.created_at_ms),
            id: user.id,
            username: user.username,
            sessions: user.live_sessions,
        })
        .collect();
    if json {
        let text = serde_json::to_string(&users).map_err(|e| Failure(format!("cannot write JSON ({e})")))?;
        println!("{text}");
    } else {
        for user in users {
            println!("{}\t{}\t{}\t{}", user.id, user.username, user.created_at, user.sessions);
        }
    }
    Ok(())
}

/// `2024-05-01T12:34:56Z`, in UTC.
fn rfc3339(unix_ms: i64) -> String {
    let since_epoch = Duration::from_millis(u64::try_from(unix_ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(UNIX_EPOCH + since_epoch).to_string()
}

/// The user named `username` (regardless of case), or the failure that says there is none.
async fn existing(store: &Arc<dyn AuthStore>, username: String) -> Result<UserRecord, Failure> {
    // A name that cannot be a username names no user either.
    let Ok(parsed) = Username::parse(username.clone()) else {
        return Err(no_such_user(&username));
    };
    store
        .find_user(&parsed.key())
        .await?
        .ok_or_else(|| no_such_user(&username))
}

fn no_such_user(username: &str) -> Failure {
    Failure(format!("no user named {username:?}"))
}

fn taken(username: &str) -> Failure {
    Failure(format!("username taken: {username:?} already exists"))
}

/// `auth-server keys …`: no database, no secret.
fn keys(command: KeysCommand) -> Result<(), Failure> {
    use jwt_tokens::Ed25519PrivateKey;
    let private = match &command {
        KeysCommand::Generate { out } => {
            let private = Ed25519PrivateKey::generate().map_err(|e| Failure(format!("the key {e}")))?;
            let pem = private.to_pkcs8_pem().map_err(|e| Failure(format!("the key {e}")))?;
            write_owner_only(out, pem.expose().as_bytes())
                .map_err(|e| Failure(format!("cannot create {} ({e})", out.display())))?;
            eprintln!(
                "auth-server: wrote a new Ed25519 private key to {} (owner-only)",
                out.display()
            );
            private
        }
        KeysCommand::Public { file } => {
            let text =
                std::fs::read_to_string(file).map_err(|e| Failure(format!("cannot read {} ({e})", file.display())))?;
            Ed25519PrivateKey::from_pkcs8_pem(&text).map_err(|e| Failure(format!("{} {e}", file.display())))?
        }
    };
    let public = private.public_key();
    let pem = public.to_pem().map_err(|e| Failure(format!("the public key {e}")))?;
    print!("# kid {}\n{pem}", public.kid());
    Ok(())
}

/// Creates `path` (never replacing a file) readable and writable by its owner alone, with
/// `bytes` in it.
fn write_owner_only(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
