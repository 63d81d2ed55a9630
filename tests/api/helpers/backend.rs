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

    /// Runs a query straight on the database (not through switchboard's storage), every cell
    /// as text: on SQLite through rusqlite, on PostgreSQL (where the query must answer text
    /// columns) on a connection to this test's schema. NULL reads `NULL`.
    pub async fn query(&self, sql: &str) -> Vec<Vec<String>> {
        match &self.place {
            Place::Sqlite(_) => {
                let path = self.sqlite_path().unwrap();
                let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
                sqlite_query(&conn, sql)
            }
            Place::Postgres { .. } => {
                use sqlx::{Connection, Row};
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect to PostgreSQL");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| row.get::<Option<String>, _>(i).unwrap_or("NULL".into()))
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

/// Runs a query on a SQLite connection, every cell as text (a BLOB in hex, NULL as `NULL`).
pub fn sqlite_query(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    use rusqlite::types::ValueRef;
    let mut statement = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let width = statement.column_count();
    statement
        .query_map([], |row| {
            (0..width)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => "NULL".to_owned(),
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(x) => x.to_string(),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Blob(b) => b.iter().map(|byte| format!("{byte:02X}")).collect(),
                    })
                })
                .collect()
        })
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { server, schema } = &self.place {
            drop_schema(server, schema);
        }
    }
}

/// Drops a test's schema. The test's server may still be in a transaction on it (a background
/// task such as the outbound deliverer, half way through one) that cannot end while this runs:
/// on a current-thread runtime the drop blocks the very thread that task needs. So when the
/// schema's locks are not free within a few seconds, the sessions holding them (this test's own,
/// on a schema about to go) are ended first.
fn drop_schema(server: &str, schema: &str) {
    let (server, schema) = (server.to_owned(), schema.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::{AssertSqlSafe, Connection};
            let mut conn = sqlx::PgConnection::connect(&server)
                .await
                .expect("connect to PostgreSQL");
            let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let waited = format!("SET lock_timeout = '5s'; {drop}");
            if sqlx::raw_sql(AssertSqlSafe(waited))
                .execute(&mut conn)
                .await
                .is_ok()
            {
                return;
            }
            let holders = format!(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                 JOIN pg_class c ON c.oid = l.relation \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = '{schema}' AND l.pid <> pg_backend_pid()"
            );
            let then = format!("{holders}; SET lock_timeout = 0; {drop}");
            sqlx::raw_sql(AssertSqlSafe(then))
                .execute(&mut conn)
                .await
                .expect("drop the schema");
        });
    })
    .join()
    .expect("schema thread");
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
