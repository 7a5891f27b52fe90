//! Which database a test target runs its servers on, and the data of one test on it.

use crate::{TestDatabase, TestDir};

/// Where the servers of a test target keep their data. A server's black-box tests are one set
/// of files compiled twice, as a SQLite target and a PostgreSQL target, each naming its backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test server's data on a backend: a directory of its own (the SQLite file, or the working
/// directory of a server binary) and, on PostgreSQL, a database of its own. Both are removed on
/// drop. Share it (`Arc`) between servers that restart on it or run side by side.
#[derive(Debug)]
pub struct TestData {
    dir: TestDir,
    sqlite_file: &'static str,
    postgres: Option<TestDatabase>,
}

impl TestData {
    /// Fresh, empty data on `backend`; on SQLite, the database is `sqlite_file` in the directory.
    /// Where PostgreSQL cannot be reached, the test fails, saying so ([`TestDatabase::create`]).
    pub async fn new(backend: Backend, sqlite_file: &'static str) -> Self {
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create().await),
        };
        Self {
            dir: TestDir::new(),
            sqlite_file,
            postgres,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.postgres {
            Some(_) => Backend::Postgres,
            None => Backend::Sqlite,
        }
    }

    pub fn dir(&self) -> &TestDir {
        &self.dir
    }

    /// The database URL of a server on this data.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(database) => database.url().to_owned(),
            None => self.dir.sqlite_url(self.sqlite_file),
        }
    }

    /// The PostgreSQL database, for tests that act on it directly; `None` on SQLite.
    pub fn postgres(&self) -> Option<&TestDatabase> {
        self.postgres.as_ref()
    }

    /// Runs one SQL statement on this data's database, over a connection of its own, beside any
    /// server running on it; panics, naming the statement, if it fails.
    pub async fn execute(&self, statement: &str) {
        use sqlx::Connection as _;
        let done = match &self.postgres {
            Some(database) => {
                let mut connection = database.connect().await;
                let done = sqlx::query(statement).execute(&mut connection).await.map(|_| ());
                connection.close().await.expect("close the test database");
                done
            }
            None => {
                let mut connection = sqlx::SqliteConnection::connect(&self.database_url())
                    .await
                    .expect("open the test database");
                let done = sqlx::query(statement).execute(&mut connection).await.map(|_| ());
                connection.close().await.expect("close the test database");
                done
            }
        };
        done.unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}
