//! PostgreSQL for tests: [`TestDatabase`], a database of its own for each test, dropped after it;
//! [`DatabaseProxy`], a way to make a database unreachable and reachable again; and a way to cut
//! every connection to it.
//!
//! The server is `postgres://postgres@127.0.0.1:5432/postgres` unless `TEST_POSTGRES_URL` names
//! another (its database is only used to create and drop the test databases). Where it cannot be
//! reached, a test that needs it fails, saying so ([`crate::cannot_run`]): it is never skipped.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};
use tokio::sync::OnceCell;

use crate::relay::TcpRelay;

/// The server used when `TEST_POSTGRES_URL` is not set.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long the reachability check waits for the server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A database created for one test on the test PostgreSQL server, dropped (with any connection
/// still open to it) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    options: PgConnectOptions,
    admin: PgConnectOptions,
    dropped: bool,
}

impl TestDatabase {
    /// Creates an empty database named `test_<random hex>`.
    ///
    /// Fails the test when the server cannot be reached (the check is made once per process),
    /// or when the database cannot be created.
    pub async fn create() -> Self {
        let admin = server().await;
        let name = unique_name();
        let mut conn = admin_connection(admin).await;
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap_or_else(|e| panic!("create the test database {name} on {} ({e})", describe(admin)));
        let _ = conn.close().await;
        let options = admin.clone().database(&name);
        Self {
            url: options.to_url_lossy().to_string(),
            name,
            options,
            admin: admin.clone(),
            dropped: false,
        }
    }

    /// The database's URL, `postgres://…/test_…`, for a server under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, `test_<random hex>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connect options for this database, for tests that look inside it or build another URL.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// A connection of the test's own to this database.
    pub async fn connect(&self) -> PgConnection {
        self.options
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to the test database {} ({e})", self.name))
    }

    /// Ends every session connected to this database (`pg_terminate_backend`), as a database
    /// restart or a failover would, and waits until they are gone. Returns how many there were.
    pub async fn terminate_connections(&self) -> u64 {
        let mut conn = admin_connection(&self.admin).await;
        let terminated: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("terminate the connections to {} ({e})", self.name));
        let _ = conn.close().await;
        // Termination is a signal: the sessions end a moment later.
        for _ in 0..100 {
            if self.connection_count().await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        u64::try_from(terminated).unwrap_or_default()
    }

    /// Lets new sessions connect to this database again, or refuses them as
    /// `ALTER DATABASE … ALLOW_CONNECTIONS false` does (for maintenance, or before a drop).
    /// Sessions already connected stay.
    pub async fn allow_connections(&self, allowed: bool) {
        let mut conn = admin_connection(&self.admin).await;
        let name = &self.name;
        conn.execute(format!(r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allowed}"#).as_str())
            .await
            .unwrap_or_else(|e| panic!("set ALLOW_CONNECTIONS {allowed} on {name} ({e})"));
        let _ = conn.close().await;
    }

    /// How many sessions are connected to this database now.
    pub async fn connection_count(&self) -> u64 {
        let mut conn = admin_connection(&self.admin).await;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(&self.name)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("count the connections to {} ({e})", self.name));
        let _ = conn.close().await;
        u64::try_from(count).unwrap_or_default()
    }

    /// Drops the database now, ending any session still connected to it.
    pub async fn drop_database(mut self) {
        self.dropped = true;
        if let Err(e) = drop_now(&self.admin, &self.name).await {
            warn_not_dropped(&self.name, &e);
        }
    }
}

impl Drop for TestDatabase {
    /// Drop cannot wait for a future, and may run inside a test's runtime (where blocking on
    /// another future of that runtime would hang): the database is dropped from a thread of its
    /// own with a small runtime of its own.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(drop_now(&admin, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn_not_dropped(&self.name, &e),
            Err(_) => warn_not_dropped(&self.name, "the dropping thread panicked"),
        }
    }
}

async fn drop_now(admin: &PgConnectOptions, name: &str) -> Result<(), String> {
    let mut conn = admin.connect().await.map_err(|e| e.to_string())?;
    conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(())
}

fn warn_not_dropped(name: &str, error: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "warning: the test database {name} was not dropped ({error})"
    );
}

/// The test server's admin connect options; fails the test if the server cannot be reached.
/// Checked once per process.
async fn server() -> &'static PgConnectOptions {
    static SERVER: OnceCell<Result<PgConnectOptions, String>> = OnceCell::const_new();
    match SERVER.get_or_init(probe).await {
        Ok(admin) => admin,
        Err(why) => crate::cannot_run(why),
    }
}

async fn probe() -> Result<PgConnectOptions, String> {
    let url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
    let admin = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("TEST_POSTGRES_URL is not a usable PostgreSQL URL ({e})"));
    let error = match tokio::time::timeout(PROBE_TIMEOUT, admin.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Ok(admin);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {PROBE_TIMEOUT:?}"),
    };
    Err(format!(
        "PostgreSQL is not reachable at {} ({error}); start it, or set TEST_POSTGRES_URL",
        describe(&admin)
    ))
}

async fn admin_connection(admin: &PgConnectOptions) -> PgConnection {
    admin
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL server {} ({e})", describe(admin)))
}

/// `postgres://user@host:port/database`, never the password.
fn describe(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// `test_` and 16 hex digits: unique across processes and calls, random enough not to meet
/// a database left behind by a killed run.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    NEXT.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    SystemTime::now().hash(&mut hasher);
    format!("test_{:016x}", hasher.finish())
}

/// A TCP relay in front of a [`TestDatabase`]'s server, on a port of its own, that a test can
/// take down (every relayed connection is cut and new ones are refused, as when the database
/// host goes away) and bring back up (on the same port), while a server under test keeps running.
#[derive(Debug)]
pub struct DatabaseProxy {
    url: String,
    relay: TcpRelay,
}

impl DatabaseProxy {
    /// Starts relaying to `database`'s server, up. Its [`DatabaseProxy::url`] names the same
    /// database, through the relay.
    pub async fn start(database: &TestDatabase) -> Self {
        let options = database.connect_options();
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("resolve the test PostgreSQL server {}", describe(&options)));
        let relay = TcpRelay::start(upstream).await;
        let url = options
            .host("127.0.0.1")
            .port(relay.addr().port())
            .to_url_lossy()
            .to_string();
        Self { url, relay }
    }

    /// The database's URL through this relay.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Makes the database unreachable: every relayed connection is cut, and connecting is
    /// refused. Returns once both are true.
    pub async fn take_down(&mut self) {
        self.relay.take_down().await;
    }

    /// Makes the database reachable again, on the same port.
    pub async fn bring_up(&mut self) {
        self.relay.bring_up().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_identifiers() {
        let first = unique_name();
        let second = unique_name();
        assert_ne!(first, second);
        assert_eq!(first.len(), "test_".len() + 16);
        assert!(first.starts_with("test_"));
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn describes_a_server_without_its_password() {
        let options = PgConnectOptions::from_str("postgres://app:hunter2@db:6543/postgres").expect("a URL");
        assert_eq!(describe(&options), "postgres://app@db:6543/postgres");
    }

    async fn table_count(database: &TestDatabase) -> i64 {
        let mut conn = database.connect().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&mut conn)
            .await
            .expect("count tables")
    }

    #[tokio::test]
    async fn creates_a_fresh_database_and_drops_it() {
        let database = TestDatabase::create().await;
        assert!(database.url().contains(database.name()), "{}", database.url());
        assert_eq!(table_count(&database).await, 0);
        let admin = database.admin.clone();
        let name = database.name().to_owned();

        // Dropped with a connection still open to it.
        let _open = database.connect().await;
        drop(database);

        let mut conn = admin.connect().await.expect("connect to the server");
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .expect("look for the database");
        assert!(!exists, "{name} is dropped");
    }

    #[tokio::test]
    async fn terminates_every_connection() {
        let database = TestDatabase::create().await;
        let mut first = database.connect().await;
        let _second = database.connect().await;
        assert_eq!(database.connection_count().await, 2);

        assert_eq!(database.terminate_connections().await, 2);

        assert_eq!(database.connection_count().await, 0);
        assert!(sqlx::query("SELECT 1").execute(&mut first).await.is_err());
        database.drop_database().await;
    }

    #[tokio::test]
    async fn the_proxy_goes_down_and_comes_back() {
        let database = TestDatabase::create().await;
        let mut proxy = DatabaseProxy::start(&database).await;
        let through = PgConnectOptions::from_str(proxy.url()).expect("the proxy's URL");
        assert_eq!(through.get_database(), Some(database.name()));
        let mut conn = through.connect().await.expect("connect through the proxy");
        sqlx::query("SELECT 1").execute(&mut conn).await.expect("a query");

        proxy.take_down().await;

        assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err(), "cut");
        assert!(through.connect().await.is_err(), "refused");

        proxy.bring_up().await;

        let mut conn = through.connect().await.expect("connect again");
        sqlx::query("SELECT 1").execute(&mut conn).await.expect("a query");
    }
}
