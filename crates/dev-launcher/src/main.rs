//! `cargo dev`: builds both servers, starts them with generated secrets and demo data, and stops them together.

mod banner;
mod compile;
mod secrets;
mod seed;
mod server;
mod settings;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use tokio::process::Command;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::secrets::DevSecrets;
use crate::server::Server;
use crate::settings::UserSettings;

/// Errors end the launcher with one line, so a plain boxed error is all it needs.
type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the databases and the secrets live, relative to the working directory (the repository root).
const DATA_DIR: &str = "data";
/// How long both servers get to answer `GET /readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

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
    let binaries = compile::build_servers().await?;
    let secrets = DevSecrets::load_or_create(Path::new(DATA_DIR))?;
    let settings = UserSettings::load();

    // Listen before spawning, so a signal that arrives during start-up stops the
    // children instead of killing the launcher and leaving them orphaned.
    let mut shutdown = Shutdown::listen()?;
    let frontend = serve_frontend().await;
    let mut auth = Server::spawn(
        "auth-server",
        "[auth]",
        auth_command(&binaries.auth, &secrets, &settings),
    )?;
    let mut posts = Server::spawn(
        "posts-server",
        "[posts]",
        posts_command(&binaries.posts, &secrets, &settings),
    )?;

    let stop = supervise(&mut auth, &mut posts, &mut shutdown, &settings, frontend).await;
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

/// Runs start-up (readiness, demo data, banner), then waits until something ends the session.
async fn supervise(
    auth: &mut Server,
    posts: &mut Server,
    shutdown: &mut Shutdown,
    settings: &UserSettings,
    frontend: Option<SocketAddr>,
) -> Stop {
    let startup = start(auth, posts, settings, frontend);
    tokio::select! {
        started = startup => {
            if let Err(error) = started {
                return Stop::Failed(error);
            }
        }
        stop = wait_for_stop(auth, posts, shutdown) => return stop,
    }
    wait_for_stop(auth, posts, shutdown).await
}

/// Waits for both servers to be ready, seeds the demo data and prints the banner.
///
/// Returns a future that borrows nothing from the servers, so it can race their exit.
fn start(
    auth: &Server,
    posts: &Server,
    settings: &UserSettings,
    frontend: Option<SocketAddr>,
) -> impl Future<Output = Result<()>> + use<> {
    let auth_address = auth.address();
    let posts_address = posts.address();
    let secrets_line = banner::secrets_line(settings);
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

/// The auth server gets both secrets and its own database.
fn auth_command(program: &Path, secrets: &DevSecrets, settings: &UserSettings) -> Command {
    let mut command = Command::new(program);
    settings.set_default(&mut command, "AUTH_ADDR", "127.0.0.1:4000");
    settings.set_default(
        &mut command,
        "AUTH_DATABASE_URL",
        format!("sqlite://{DATA_DIR}/auth.db"),
    );
    settings.set_default(&mut command, secrets::ACCESS_VAR, secrets.access.expose());
    settings.set_default(&mut command, secrets::REFRESH_VAR, secrets.refresh.expose());
    settings.set_default(&mut command, "CORS_ALLOWED_ORIGINS", dev_launcher::DEV_CORS_ORIGINS);
    command
}

/// The posts server gets the access secret only: it must never be able to mint refresh tokens.
fn posts_command(program: &Path, secrets: &DevSecrets, settings: &UserSettings) -> Command {
    let mut command = Command::new(program);
    settings.set_default(&mut command, "POSTS_ADDR", "127.0.0.1:3000");
    settings.set_default(
        &mut command,
        "POSTS_DATABASE_URL",
        format!("sqlite://{DATA_DIR}/posts.db"),
    );
    settings.set_default(&mut command, secrets::ACCESS_VAR, secrets.access.expose());
    command.env_remove(secrets::REFRESH_VAR);
    settings.set_default(&mut command, "CORS_ALLOWED_ORIGINS", dev_launcher::DEV_CORS_ORIGINS);
    command
}
