//! `cargo dev`: builds both servers, starts them with generated secrets and demo data, and stops
//! them together. `cargo dev --watch` also rebuilds and restarts a server when its sources change.

mod banner;
mod compile;
mod secrets;
mod seed;
mod server;
mod settings;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use tokio::process::Command;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::compile::Binaries;
use crate::secrets::DevSecrets;
use crate::server::Server;
use crate::settings::UserSettings;
use crate::watch::Changes;

/// Errors end the launcher with one line, so a plain boxed error is all it needs.
type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the databases and the secrets live, relative to the working directory (the repository root).
const DATA_DIR: &str = "data";
/// How long both servers get to answer `GET /readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: cargo dev [--watch] [--eddsa]

Builds both servers and starts them for development: embedded SQLite under data/, generated
secrets, demo users. Ctrl-C stops both.

  --watch   after a source file of either server or of a crate they use changes, rebuild and
            restart the servers whose binary changed (data, secrets and demo users stay)
  --eddsa   sign access tokens with Ed25519 (ACCESS_TOKEN_ALG=EdDSA, also taken from the
            environment): auth-server signs with a key generated once into
            data/access-ed25519.pem, posts-server holds no access secret and fetches the public
            keys from auth-server's /.well-known/jwks.json
";

/// The command line: `--watch`, `--eddsa`, or `--help`.
struct Options {
    watch: bool,
    eddsa: bool,
}

impl Options {
    /// `None` for `--help`, which has been answered.
    fn parse() -> Result<Option<Self>> {
        let mut watch = false;
        let mut eddsa = std::env::var("ACCESS_TOKEN_ALG").is_ok_and(|alg| alg.eq_ignore_ascii_case("EdDSA"));
        for argument in std::env::args().skip(1) {
            match argument.as_str() {
                "--watch" | "-w" => watch = true,
                "--eddsa" => eddsa = true,
                "--help" | "-h" => {
                    print!("{USAGE}");
                    return Ok(None);
                }
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}").into()),
            }
        }
        Ok(Some(Self { watch, eddsa }))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("[dev] error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode> {
    let Some(options) = Options::parse()? else {
        return Ok(ExitCode::SUCCESS);
    };
    let binaries = compile::build_servers(false).await?;
    let secrets = DevSecrets::load_or_create(Path::new(DATA_DIR))?;
    let settings = UserSettings::load();
    let signing = if options.eddsa {
        Signing::EdDsa {
            key_file: secrets::ed25519_key_file(Path::new(DATA_DIR))?,
        }
    } else {
        Signing::Hs256
    };
    let auth_url = auth_url(&settings, &signing)?;
    let changes = if options.watch {
        Some(Changes::watch(&compile::workspace_root())?)
    } else {
        None
    };
    let launch = Launch {
        binaries,
        secrets,
        settings,
        signing,
        auth_url,
    };

    // Listen before spawning, so a signal that arrives during start-up stops the
    // children instead of killing the launcher and leaving them orphaned.
    let mut shutdown = Shutdown::listen()?;
    let frontend = serve_frontend().await;
    let mut auth = launch.spawn(Which::Auth)?;
    let mut posts = launch.spawn(Which::Posts)?;

    let stop = supervise(&mut auth, &mut posts, &mut shutdown, &launch, frontend, changes).await;
    match &stop {
        Stop::Requested => println!("[dev] stopping both servers…"),
        Stop::Exited { name, status } => {
            eprintln!("[dev] {name} exited on its own ({status}); stopping the other server");
        }
        Stop::Failed(error) => eprintln!("[dev] {error}; stopping both servers"),
    }
    let (auth_status, posts_status) = tokio::join!(auth.stop(), posts.stop());

    let mut clean = matches!(stop, Stop::Requested);
    // A server that ended on its own was reported above already.
    let reported = match &stop {
        Stop::Exited { name, .. } => Some(*name),
        _ => None,
    };
    for (name, status) in [("auth-server", auth_status), ("posts-server", posts_status)] {
        match status {
            Ok(status) if status.success() => {}
            Ok(_) if reported == Some(name) => clean = false,
            Ok(status) => {
                clean = false;
                eprintln!("[dev] {name} ended with {status}");
            }
            Err(error) => {
                clean = false;
                eprintln!("[dev] could not wait for {name}: {error}");
            }
        }
    }
    if clean {
        println!("[dev] both servers stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// Why the development start is ending.
enum Stop {
    /// Ctrl-C or SIGTERM.
    Requested,
    /// A server exited while it should have been running.
    Exited { name: &'static str, status: String },
    /// Start-up went wrong (a server never became ready).
    Failed(Error),
}

/// What starts a server, again and again under `--watch`.
struct Launch {
    binaries: Binaries,
    secrets: DevSecrets,
    settings: UserSettings,
    signing: Signing,
    /// The `AUTH_URL` posts-server gets, unless the user gives their own: where it follows
    /// auth-server's ended sessions (and, signing with Ed25519, fetches its public keys).
    auth_url: Option<String>,
}

/// How access tokens are signed in this session.
enum Signing {
    /// With the generated access secret, which both servers get.
    Hs256,
    /// With the Ed25519 key in `key_file`, which auth-server alone gets; posts-server fetches
    /// the public keys from auth-server (`AUTH_URL`).
    EdDsa { key_file: PathBuf },
}

/// Where posts-server finds auth-server, so that it refuses the access tokens of ended sessions
/// within a second (and, under `--eddsa`, verifies with auth-server's public keys): from
/// `AUTH_ADDR` (the environment's, else `.env`'s, else `127.0.0.1:4000`). `None` when the user
/// gives `AUTH_URL` (posts-server reads theirs), or when auth-server takes any free port: then
/// an HS256 posts-server follows no auth-server (it says so, and so does the launcher), and
/// `--eddsa`, which cannot verify anything without the keys, refuses to start.
fn auth_url(settings: &UserSettings, signing: &Signing) -> Result<Option<String>> {
    if settings.gives("AUTH_URL") {
        return Ok(None);
    }
    let addr = std::env::var("AUTH_ADDR")
        .ok()
        .or_else(dotenv_auth_addr)
        .unwrap_or_else(|| "127.0.0.1:4000".into());
    let addr = addr.trim();
    if addr.ends_with(":0") {
        return match signing {
            Signing::EdDsa { .. } => {
                Err("--eddsa needs auth-server on a known port: set AUTH_ADDR to one, or AUTH_URL".into())
            }
            Signing::Hs256 => {
                eprintln!(
                    "[dev] warning: auth-server takes any free port (AUTH_ADDR={addr}), so posts-server \
                     cannot follow its ended sessions: a logged-out access token works until it expires; \
                     set AUTH_ADDR to a fixed port, or AUTH_URL"
                );
                Ok(None)
            }
        };
    }
    Ok(Some(format!("http://{addr}")))
}

/// `AUTH_ADDR` from `.env` in the working directory, which auth-server reads too.
fn dotenv_auth_addr() -> Option<String> {
    dotenvy::from_path_iter(".env")
        .ok()?
        .filter_map(std::result::Result::ok)
        .find_map(|(key, value)| (key == "AUTH_ADDR").then_some(value))
}

#[derive(Clone, Copy)]
enum Which {
    Auth,
    Posts,
}

impl Launch {
    fn spawn(&self, which: Which) -> Result<Server> {
        match which {
            Which::Auth => Server::spawn(
                "auth-server",
                "[auth]",
                auth_command(&self.binaries.auth, &self.secrets, &self.settings, &self.signing),
            ),
            Which::Posts => Server::spawn(
                "posts-server",
                "[posts]",
                posts_command(
                    &self.binaries.posts,
                    &self.secrets,
                    &self.settings,
                    &self.signing,
                    self.auth_url.as_deref(),
                ),
            ),
        }
    }
}

/// Runs start-up (readiness, demo data, banner), then waits until something ends the session,
/// restarting servers after changes under `--watch`.
async fn supervise(
    auth: &mut Server,
    posts: &mut Server,
    shutdown: &mut Shutdown,
    launch: &Launch,
    frontend: Option<SocketAddr>,
    changes: Option<Changes>,
) -> Stop {
    let startup = start(auth, posts, launch, frontend);
    tokio::select! {
        started = startup => {
            if let Err(error) = started {
                return Stop::Failed(error);
            }
        }
        stop = wait_for_stop(auth, posts, shutdown) => return stop,
    }
    match changes {
        None => wait_for_stop(auth, posts, shutdown).await,
        Some(changes) => watch_and_restart(auth, posts, shutdown, launch, changes).await,
    }
}

/// `--watch`: after each change, rebuilds both servers and restarts those whose binary the build
/// rewrote, one line each. A change that does not build leaves the servers running (cargo has
/// printed why); a server that exits on its own is started again after the next change.
async fn watch_and_restart(
    auth: &mut Server,
    posts: &mut Server,
    shutdown: &mut Shutdown,
    launch: &Launch,
    mut changes: Changes,
) -> Stop {
    let client = match seed::client() {
        Ok(client) => client,
        Err(error) => return Stop::Failed(error),
    };
    let dirs: Vec<String> = watch::WATCHED_DIRS.iter().map(|dir| format!("{dir}/")).collect();
    println!("[dev] watching {} for changes", dirs.join(", "));
    let mut stamps = launch.binaries.stamps();
    let mut down = [false, false];
    loop {
        let changed = tokio::select! {
            () = shutdown.recv() => return Stop::Requested,
            status = auth.wait(), if !down[0] => {
                eprintln!("[dev] auth-server exited ({}); it starts again after the next change", describe(status));
                down[0] = true;
                continue;
            }
            status = posts.wait(), if !down[1] => {
                eprintln!("[dev] posts-server exited ({}); it starts again after the next change", describe(status));
                down[1] = true;
                continue;
            }
            changed = changes.next() => changed,
        };
        let what = describe_change(&changed);
        if let Err(error) = compile::build_servers(true).await {
            eprintln!("[dev] {what}: {error}; the servers keep running their last good build");
            continue;
        }
        let built = launch.binaries.stamps();
        let mut restarted = false;
        for (index, (which, server)) in [(Which::Auth, &mut *auth), (Which::Posts, &mut *posts)]
            .into_iter()
            .enumerate()
        {
            if built[index] == stamps[index] && !down[index] {
                continue;
            }
            restarted = true;
            down[index] = !restart(server, which, launch, &client, &what).await;
        }
        if !restarted {
            println!("[dev] {what}: rebuilt, and neither server changed");
        }
        stamps = built;
    }
}

/// Stops `server` and starts the new build in its place; whether it became ready.
async fn restart(server: &mut Server, which: Which, launch: &Launch, client: &reqwest::Client, what: &str) -> bool {
    let name = server.name();
    // Its exit is the one asked for: nothing to report.
    let _ = server.stop().await;
    *server = match launch.spawn(which) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("[dev] {error}");
            return false;
        }
    };
    let ready = tokio::time::timeout(READY_TIMEOUT, server::wait_ready(client, name, server.address()));
    tokio::select! {
        ready = ready => match ready {
            Ok(Ok(url)) => {
                println!("[dev] restarted {name} ({url}) after a change to {what}");
                true
            }
            Ok(Err(error)) => {
                eprintln!("[dev] {name} did not start again: {error}");
                false
            }
            Err(_) => {
                eprintln!("[dev] {name} was not ready within {} s of its restart", READY_TIMEOUT.as_secs());
                false
            }
        },
        status = server.wait() => {
            eprintln!("[dev] {name} exited as it started again ({}); it starts again after the next change", describe(status));
            false
        }
    }
}

/// `posts-server/src/routes/posts.rs`, or `… and 2 other files`.
fn describe_change(changed: &[std::path::PathBuf]) -> String {
    match changed {
        [] => "a change".to_owned(),
        [one] => one.display().to_string(),
        [first, rest @ ..] => format!("{} and {} other file(s)", first.display(), rest.len()),
    }
}

/// Waits for both servers to be ready, seeds the demo data and prints the banner.
///
/// Returns a future that borrows nothing from the servers, so it can race their exit.
fn start(
    auth: &Server,
    posts: &Server,
    launch: &Launch,
    frontend: Option<SocketAddr>,
) -> impl Future<Output = Result<()>> + use<> {
    let auth_address = auth.address();
    let posts_address = posts.address();
    let secrets_line = match &launch.signing {
        Signing::Hs256 => banner::secrets_line(&launch.settings),
        Signing::EdDsa { key_file, .. } => banner::eddsa_line(&launch.settings, key_file),
    };
    async move {
        let client = seed::client()?;
        let ready = async {
            tokio::try_join!(
                server::wait_ready(&client, "auth-server", auth_address),
                server::wait_ready(&client, "posts-server", posts_address),
            )
        };
        let (auth_url, posts_url) = tokio::time::timeout(READY_TIMEOUT, ready)
            .await
            .map_err(|_| format!("the servers were not ready within {} s", READY_TIMEOUT.as_secs()))??;
        seed::demo_data(&client, &auth_url, &posts_url).await;
        let frontend_url = frontend.map(|address| banner::frontend_url(address, &auth_url, &posts_url));
        banner::print(&auth_url, &posts_url, frontend_url.as_deref(), &secrets_line);
        Ok(())
    }
}

/// Resolves on Ctrl-C, SIGTERM, or the exit of either server.
async fn wait_for_stop(auth: &mut Server, posts: &mut Server, shutdown: &mut Shutdown) -> Stop {
    tokio::select! {
        () = shutdown.recv() => Stop::Requested,
        status = auth.wait() => Stop::Exited { name: auth.name(), status: describe(status) },
        status = posts.wait() => Stop::Exited { name: posts.name(), status: describe(status) },
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("its status is unknown: {error}"),
    }
}

/// Serves the demo frontend on `FRONTEND_ADDR` (default 127.0.0.1:5173) in the background.
///
/// A convenience like the demo data: if the port is taken, the servers start all the same.
async fn serve_frontend() -> Option<SocketAddr> {
    let address = std::env::var("FRONTEND_ADDR").unwrap_or_else(|_| dev_launcher::frontend::DEFAULT_ADDR.into());
    let bound = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener.local_addr().map(|local| (listener, local)),
        Err(error) => Err(error),
    };
    match bound {
        Ok((listener, local)) => {
            let root = dev_launcher::frontend::default_root();
            tokio::spawn(async move {
                if let Err(error) = dev_launcher::frontend::serve(listener, root).await {
                    eprintln!("[dev] the frontend server stopped: {error}");
                }
            });
            Some(local)
        }
        Err(error) => {
            eprintln!("[dev] not serving the frontend: cannot listen on {address} ({error}); set FRONTEND_ADDR");
            None
        }
    }
}

/// The signals that end a development session.
struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
}

impl Shutdown {
    fn listen() -> Result<Self> {
        let listen = |kind| signal(kind).map_err(|error| format!("cannot listen for Ctrl-C and SIGTERM: {error}"));
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// The auth server gets both secrets (or, signing with Ed25519, the refresh secret and the
/// private key) and its own database.
fn auth_command(program: &Path, secrets: &DevSecrets, settings: &UserSettings, signing: &Signing) -> Command {
    let mut command = Command::new(program);
    settings.set_default(&mut command, "AUTH_ADDR", "127.0.0.1:4000");
    settings.set_default(
        &mut command,
        "AUTH_DATABASE_URL",
        format!("sqlite://{DATA_DIR}/auth.db"),
    );
    match signing {
        Signing::Hs256 => settings.set_default(&mut command, secrets::ACCESS_VAR, secrets.access.expose()),
        Signing::EdDsa { key_file, .. } => {
            command.env("ACCESS_TOKEN_ALG", "EdDSA").env_remove(secrets::ACCESS_VAR);
            settings.set_default(&mut command, "ACCESS_TOKEN_PRIVATE_KEY_FILE", key_file);
        }
    }
    settings.set_default(&mut command, secrets::REFRESH_VAR, secrets.refresh.expose());
    settings.set_default(&mut command, "CORS_ALLOWED_ORIGINS", dev_launcher::DEV_CORS_ORIGINS);
    command
}

/// The posts server gets the access secret only: it must never be able to mint refresh tokens.
/// Signing with Ed25519, it gets no secret at all. Either way it gets where auth-server is
/// (`AUTH_URL`, unless the user gives their own), to follow its ended sessions.
fn posts_command(
    program: &Path,
    secrets: &DevSecrets,
    settings: &UserSettings,
    signing: &Signing,
    auth_url: Option<&str>,
) -> Command {
    let mut command = Command::new(program);
    settings.set_default(&mut command, "POSTS_ADDR", "127.0.0.1:3000");
    settings.set_default(
        &mut command,
        "POSTS_DATABASE_URL",
        format!("sqlite://{DATA_DIR}/posts.db"),
    );
    match signing {
        Signing::Hs256 => settings.set_default(&mut command, secrets::ACCESS_VAR, secrets.access.expose()),
        Signing::EdDsa { .. } => {
            command.env("ACCESS_TOKEN_ALG", "EdDSA").env_remove(secrets::ACCESS_VAR);
        }
    }
    if let Some(auth_url) = auth_url {
        settings.set_default(&mut command, "AUTH_URL", auth_url);
    }
    command.env_remove(secrets::REFRESH_VAR);
    settings.set_default(&mut command, "CORS_ALLOWED_ORIGINS", dev_launcher::DEV_CORS_ORIGINS);
    command
}
