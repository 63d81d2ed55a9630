//! The database a test runs on, and the two passes of the suite: SQLite, then (with
//! `SWITCHBOARD_TEST_DATABASE_URL`) PostgreSQL.

use std::path::PathBuf;

use tempfile::TempDir;

/// The variable naming the PostgreSQL server the PostgreSQL pass of this suite runs against.
pub const POSTGRES_URL_VAR: &str = "SWITCHBOARD_TEST_DATABASE_URL";
/// Set (by `backends::the_whole_suite_passes_on_postgres`) in the process that runs the suite
/// on PostgreSQL.
pub const BACKEND_VAR: &str = "SWITCHBOARD_TEST_BACKEND";

/// Whether this process runs the suite on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VAR).as_deref() == Ok("postgres")
}

/// The first line of every PostgreSQL-only test (several nodes on one database, a server to
/// take away). Such a test is marked
/// `#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]`:
/// on SQLite it is listed as ignored, with that reason, and the PostgreSQL pass runs it
/// (`--include-ignored`). Run on SQLite all the same (`--include-ignored` by hand), it fails
/// here rather than test nothing.
pub fn assert_postgres_pass() {
    assert!(
        on_postgres(),
        "PostgreSQL only: this test runs in the PostgreSQL pass \
         ({POSTGRES_URL_VAR}=postgres://... cargo test), not on SQLite"
    );
}

/// A database of a test's own: a temporary SQLite file, or, in the PostgreSQL pass, a fresh
/// schema of the PostgreSQL database, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    /// The SQLite file's folder, or the PostgreSQL (server URL, schema).
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    Postgres { server: String, schema: String },
}

impl TestDb {
    pub fn new() -> TestDb {
        if !on_postgres() {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
            return TestDb {
                url,
                place: Place::Sqlite(dir),
            };
        }
        let server = std::env::var(POSTGRES_URL_VAR).expect("the PostgreSQL pass needs its URL");
        let schema = format!("test_{}", switchboard::model::value::new_sys_id());
        postgres(&server, &format!("CREATE SCHEMA {schema}"));
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        TestDb {
            url,
            place: Place::Postgres { server, schema },
        }
    }

    /// The SQLite file, when the test runs on SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.place {
            Place::Sqlite(dir) => Some(dir.path().join("switchboard.db")),
            Place::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { server, schema } = &self.place {
            postgres(server, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Runs one statement on the PostgreSQL server, from any context (async or not).
fn postgres(server: &str, statement: &str) {
    let (server, statement) = (server.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&server)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .expect("schema statement");
        });
    })
    .join()
    .expect("schema thread");
}
