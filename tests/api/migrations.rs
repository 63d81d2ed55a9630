//! SQLite's migrations, run by switchboard itself (sqlx's migrator ran them before), keep
//! sqlx's bookkeeping table: a database sqlx migrated is up to date, a new database gets the
//! rows sqlx wrote, and a database whose migrations differ from this build's is refused.
//! They open SQLite files of their own, so both passes run them; PostgreSQL's migrations
//! still run through sqlx.

use std::path::Path;

use sha2::{Digest, Sha384};

use crate::helpers::sqlite_query;

/// What sqlx 0.9 made of a new database (a dump of it; see its first lines).
const SQLX_MIGRATED: &str = include_str!("../fixtures/sqlx_migrated.sql");

/// A SQLite file in a temporary folder, and its URL.
fn database(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let path = dir.path().join("t.db");
    let url = format!("sqlite://{}", path.display());
    (path, url)
}

fn bookkeeping(path: &Path) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    sqlite_query(&conn, "SELECT * FROM _sqlx_migrations ORDER BY version")
}

fn schema(path: &Path) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    sqlite_query(
        &conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
    )
}

/// The database sqlx's migrator left, restored from its dump.
fn restore_sqlx_migrated(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(SQLX_MIGRATED).unwrap();
}

async fn migrate(url: &str) -> Result<(), switchboard::storage::StorageError> {
    let store = switchboard::storage::open(url).await.unwrap();
    let migrated = store.migrate().await;
    store.close().await;
    migrated
}

/// Each migration file's version and the SHA-384 of its SQL (sqlx's checksum), in hex.
fn migration_files() -> Vec<(i64, String)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<(i64, String)> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let version = name.split('_').next().unwrap().parse().unwrap();
            let checksum = hex::encode_upper(Sha384::digest(std::fs::read(&path).unwrap()));
            (version, checksum)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_database_sqlx_migrated_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url) = database(&dir);
    restore_sqlx_migrated(&path);
    let (rows, objects) = (bookkeeping(&path), schema(&path));
    assert_eq!(rows.len(), 3, "{rows:?}");

    migrate(&url).await.unwrap();

    // Nothing sqlx recorded ran again or was rewritten (its run times and dates are as they
    // were), and every table and index is as sqlx's run left it.
    let after = bookkeeping(&path);
    assert_eq!(after[..rows.len()], rows[..]);
    assert_eq!(after.len(), migration_files().len());
    let after = schema(&path);
    for object in &objects {
        assert!(
            after.contains(object) || extended(object, &after),
            "{object:?} changed or went"
        );
    }
}

/// Whether a later migration only added columns to this table (`ALTER TABLE ... ADD COLUMN`,
/// which SQLite records by appending them to the table's `CREATE TABLE` text).
fn extended(object: &[String], after: &[Vec<String>]) -> bool {
    let [kind, name, _, sql] = object else {
        return false;
    };
    let Some(columns) = sql.strip_suffix(')') else {
        return false;
    };
    kind == "table"
        && after.iter().any(|a| {
            a[1] == *name && a[3].starts_with(columns) && a[3][columns.len()..].starts_with(", ")
        })
}

#[tokio::test]
async fn a_new_database_gets_the_rows_sqlx_wrote() {
    let (dir, sqlx_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (path, url) = database(&dir);
    let (sqlx_path, sqlx_url) = database(&sqlx_dir);
    restore_sqlx_migrated(&sqlx_path);
    migrate(&url).await.unwrap();

    // version, description, installed_on, success, checksum, execution_time
    let rows = bookkeeping(&path);
    let files = migration_files();
    assert_eq!(rows.len(), files.len());
    for (row, (version, checksum)) in rows.iter().zip(&files) {
        assert_eq!(
            (&row[0], &row[3], &row[4]),
            (&version.to_string(), &"1".into(), checksum)
        );
        assert!(row[5].parse::<i64>().unwrap() >= 0, "{row:?}");
        assert_eq!(row[2].len(), "2025-01-01 00:00:00".len(), "{row:?}");
    }
    // Where sqlx wrote a row, the same row but for the time of the run.
    let without_times = |rows: Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.into_iter()
            .map(|r| vec![r[0].clone(), r[1].clone(), r[3].clone(), r[4].clone()])
            .collect()
    };
    let sqlx_rows = without_times(bookkeeping(&sqlx_path));
    assert_eq!(without_times(rows)[..sqlx_rows.len()], sqlx_rows[..]);
    // The same schema, bookkeeping table included, statement for statement, once the database
    // sqlx migrated has the migrations added since (the dump predates them).
    migrate(&sqlx_url).await.unwrap();
    assert_eq!(schema(&path), schema(&sqlx_path));
}

#[tokio::test]
async fn migrations_that_differ_from_this_build_are_refused() {
    let cases = [
        (
            "UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = 2",
            "migration 2 was previously applied but has been modified",
        ),
        (
            "INSERT INTO _sqlx_migrations VALUES (9999, 'later', '2025-01-01 00:00:00', 1, X'00', 1)",
            "migration 9999 was previously applied but is missing",
        ),
        (
            "UPDATE _sqlx_migrations SET success = 0 WHERE version = 3",
            "migration 3 is partially applied",
        ),
    ];
    for (change, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (path, url) = database(&dir);
        restore_sqlx_migrated(&path);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(change)
            .unwrap();
        let error = migrate(&url).await.unwrap_err().to_string();
        assert!(error.starts_with("migration failed: "), "{error}");
        assert!(error.contains(says), "{change}: {error}");
    }
}
