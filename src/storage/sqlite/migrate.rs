//! The SQLite migrations, run with rusqlite and kept in the bookkeeping table sqlx's migrator
//! made and filled before this backend ran them itself (`_sqlx_migrations`): a database
//! migrated by either is up to date for the other.
//!
//! The rules are sqlx's: the table is created as sqlx creates it; a migration marked as failed,
//! or one the database has but this build does not, stops everything; an applied migration
//! whose SQL changed since (its SHA-384 checksum differs) is refused; each pending migration
//! runs in its own transaction together with its bookkeeping row, and its run time is written
//! after the commit, as sqlx does. The list of migrations, with descriptions and checksums, is
//! still embedded by `sqlx::migrate!` (which needs no SQLite driver).

use std::path::Path;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sqlx::migrate::{Migration, Migrator};

use crate::storage::{Result, StorageError};

static MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

/// sqlx's bookkeeping table, created with its exact statement (SQLite keeps the text).
const TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
                "#;

/// Runs every pending migration on `conn`.
pub fn run(conn: &mut Connection) -> Result<()> {
    let migrations: Vec<&Migration> = MIGRATIONS
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    conn.execute_batch(TABLE).map_err(executing)?;
    let dirty: Option<i64> = conn
        .query_row(
            "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(executing)?;
    if let Some(version) = dirty {
        return Err(failed(format!(
            "migration {version} is partially applied; fix and remove row from `_sqlx_migrations` table"
        )));
    }
    let applied = applied(conn)?;
    if let Some((version, _)) = applied
        .iter()
        .find(|(version, _)| !migrations.iter().any(|m| m.version == *version))
    {
        return Err(failed(format!(
            "migration {version} was previously applied but is missing in the resolved migrations"
        )));
    }
    for migration in &migrations {
        match applied
            .iter()
            .find(|(version, _)| *version == migration.version)
        {
            Some((_, checksum)) => unchanged(migration, checksum)?,
            None => apply(conn, migration)?,
        }
    }
    Ok(())
}

/// Every applied migration's version and checksum.
fn applied(conn: &Connection) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut statement = conn
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .map_err(executing)?;
    statement
        .query_map([], |row| {
            Ok((row.get(0)?, row.get_ref(1)?.as_bytes()?.to_vec()))
        })
        .and_then(|rows| rows.collect())
        .map_err(executing)
}

/// An applied migration must be the one this build has: its SQL unchanged since.
fn unchanged(migration: &Migration, applied_checksum: &[u8]) -> Result<()> {
    if applied_checksum == &*migration.checksum {
        Ok(())
    } else {
        Err(failed(format!(
            "migration {} was previously applied but has been modified",
            migration.version
        )))
    }
}

/// Runs a pending migration and records it, in one transaction (unless the migration asks for
/// none, `-- no-transaction`, as sqlx allowed). Inside the transaction, which holds the write
/// lock, it is looked for again: a second process migrating the same file at the same moment
/// skips what the first applied.
fn apply(conn: &mut Connection, migration: &Migration) -> Result<()> {
    let started = Instant::now();
    let version = migration.version;
    let run = |conn: &Connection| -> Result<()> {
        conn.execute_batch(migration.sql.as_str())
            .map_err(|e| failed(format!("while executing migration {version}: {e}")))?;
        conn.execute(
            "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
             VALUES ( ?1, ?2, TRUE, ?3, -1 )",
            rusqlite::params![version, &*migration.description, &*migration.checksum],
        )
        .map_err(executing)?;
        Ok(())
    };
    if migration.no_tx {
        run(conn)?;
    } else {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(executing)?;
        let raced: Option<Vec<u8>> = tx
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = ?1",
                [version],
                |row| Ok(row.get_ref(0)?.as_bytes()?.to_vec()),
            )
            .optional()
            .map_err(executing)?;
        if let Some(checksum) = raced {
            return unchanged(migration, &checksum);
        }
        run(&tx)?;
        tx.commit().map_err(executing)?;
    }
    // As sqlx: the run time is only for the record, so it is written after the commit.
    let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    conn.execute(
        "UPDATE _sqlx_migrations SET execution_time = ?1 WHERE version = ?2",
        [nanos, version],
    )
    .map_err(executing)?;
    Ok(())
}

/// Opens a connection to `path` for migrating, with the settings sqlx's migrator had.
pub fn connect(path: &Path) -> Result<Connection> {
    let conn = super::connect(path, super::Role::Migrator)?;
    // sqlx turned foreign keys on for every connection; migrations were written under it.
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

fn failed(why: String) -> StorageError {
    StorageError::Migrate(why)
}

/// A failure of the bookkeeping itself, in sqlx's words.
fn executing(e: rusqlite::Error) -> StorageError {
    failed(format!("while executing migrations: {e}"))
}
