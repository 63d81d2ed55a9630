//! Named snapshots of the whole world, and wiping it, in SQL both backends speak.
//!
//! A snapshot is a copy of every registry table (`CREATE TABLE ... AS SELECT *`) and of the
//! counters, in tables of its own named `_sbs<id>_<table>`, listed in a catalog
//! (`_sb_snapshot`). Restoring empties every table and copies the snapshot back, in one
//! transaction: a reader sees the world before or after, never a mix. Every name in these
//! statements is the registry's or made here from a number; a snapshot's name is checked
//! ([`valid_name`]) before it is written into one.

use super::{Result, StorageError, Tx};
use crate::model::registry::TABLES;

/// The catalog of snapshots, created when the first snapshot is saved.
const CATALOG: &str = "_sb_snapshot";

/// A saved snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub name: String,
    /// When it was saved (UTC, `yyyy-MM-dd HH:mm:ss`).
    pub created_on: String,
    /// Records it holds, in every table.
    pub records: u64,
}

/// Why a snapshot operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot named '{0}'")]
    NotFound(String),
    #[error(
        "snapshot '{0}' was saved by a build with another schema (its migrations differ): save it again"
    )]
    OtherSchema(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A name a snapshot may have: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn copy_of(id: i64, table: &str) -> String {
    format!("_sbs{id}_{table}")
}

fn counters_of(id: i64) -> String {
    format!("_sbs{id}__counters")
}

async fn ensure_catalog(tx: &mut Tx) -> Result<()> {
    tx.run_script(&format!(
        "CREATE TABLE IF NOT EXISTS {CATALOG} (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, \
         created_on TEXT NOT NULL, schema_version TEXT NOT NULL, records BIGINT NOT NULL)"
    ))
    .await
}

/// The migrations applied: a snapshot restores only into the schema it was saved from.
async fn schema_version(tx: &mut Tx) -> Result<String> {
    let sql =
        "SELECT CAST(COUNT(*) AS TEXT) || '/' || CAST(MAX(version) AS TEXT) FROM _sqlx_migrations";
    Ok(first_cell(tx, sql).await?.unwrap_or_default())
}

/// The first cell of a query's first row, if it has one.
async fn first_cell(tx: &mut Tx, sql: &str) -> Result<Option<String>> {
    Ok(tx.query_text(sql).await?.into_iter().flatten().next())
}

/// The first cell as a number, if there is one and it is.
async fn first_number<N: std::str::FromStr>(tx: &mut Tx, sql: &str) -> Result<Option<N>> {
    Ok(first_cell(tx, sql).await?.and_then(|n| n.parse().ok()))
}

/// Saves the world as `name`, replacing a snapshot of that name; the snapshot saved.
pub async fn save(tx: &mut Tx, name: &str, now: &str) -> Result<Snapshot> {
    debug_assert!(valid_name(name));
    ensure_catalog(tx).await?;
    if let Some(id) = id_of(tx, name).await? {
        drop_copies(tx, id).await?;
    }
    let next = format!("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS TEXT) FROM {CATALOG}");
    let id: i64 = first_number(tx, &next).await?.unwrap_or(1);
    let mut script = String::new();
    let mut counts = Vec::new();
    for table in TABLES {
        let copy = copy_of(id, table.name);
        script.push_str(&format!(
            "CREATE TABLE {copy} AS SELECT * FROM {};\n",
            table.name
        ));
        counts.push(format!("SELECT COUNT(*) AS n FROM {copy}"));
    }
    script.push_str(&format!(
        "CREATE TABLE {} (name TEXT NOT NULL, value BIGINT NOT NULL);\n",
        counters_of(id)
    ));
    for (counter, last) in tx.counters().await? {
        // Counter names are switchboard's own (`interaction`, `outbound_event`...).
        debug_assert!(valid_name(&counter));
        script.push_str(&format!(
            "INSERT INTO {} (name, value) VALUES ('{counter}', {last});\n",
            counters_of(id)
        ));
    }
    tx.run_script(&script).await?;
    let sum = format!(
        "SELECT CAST(SUM(n) AS TEXT) FROM ({}) AS counts",
        counts.join(" UNION ALL ")
    );
    let records: u64 = first_number(tx, &sum).await?.unwrap_or(0);
    let version = schema_version(tx).await?;
    tx.run_script(&format!(
        "DELETE FROM {CATALOG} WHERE name = '{name}';\n\
         INSERT INTO {CATALOG} (id, name, created_on, schema_version, records) \
         VALUES ({id}, '{name}', '{now}', '{version}', {records});"
    ))
    .await?;
    Ok(Snapshot {
        name: name.to_owned(),
        created_on: now.to_owned(),
        records,
    })
}

/// Every snapshot, oldest first.
pub async fn list(tx: &mut Tx) -> Result<Vec<Snapshot>> {
    ensure_catalog(tx).await?;
    let rows = tx
        .query_text(&format!(
            "SELECT name, created_on, CAST(records AS TEXT) FROM {CATALOG} ORDER BY id"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Snapshot {
            name: row[0].clone(),
            created_on: row[1].clone(),
            records: row[2].parse().unwrap_or(0),
        })
        .collect())
}

/// Deletes the snapshot `name`.
pub async fn delete(tx: &mut Tx, name: &str) -> Result<(), SnapshotError> {
    ensure_catalog(tx).await?;
    let id = id_of(tx, name)
        .await?
        .ok_or_else(|| SnapshotError::NotFound(name.to_owned()))?;
    drop_copies(tx, id).await?;
    tx.run_script(&format!("DELETE FROM {CATALOG} WHERE id = {id}"))
        .await?;
    Ok(())
}

/// Puts the world back as snapshot `name` holds it: every table and counter.
pub async fn restore(tx: &mut Tx, name: &str) -> Result<(), SnapshotError> {
    ensure_catalog(tx).await?;
    let id = id_of(tx, name)
        .await?
        .ok_or_else(|| SnapshotError::NotFound(name.to_owned()))?;
    let saved = format!("SELECT schema_version FROM {CATALOG} WHERE id = {id}");
    if first_cell(tx, &saved).await? != Some(schema_version(tx).await?) {
        return Err(SnapshotError::OtherSchema(name.to_owned()));
    }
    lock_everything(tx).await?;
    let mut script = String::new();
    for table in TABLES {
        script.push_str(&format!(
            "DELETE FROM {0};\nINSERT INTO {0} SELECT * FROM {1};\n",
            table.name,
            copy_of(id, table.name)
        ));
    }
    tx.run_script(&script).await?;
    let saved = tx
        .query_text(&format!(
            "SELECT name, CAST(value AS TEXT) FROM {}",
            counters_of(id)
        ))
        .await?;
    let saved: Vec<(String, i64)> = saved
        .into_iter()
        .map(|row| (row[0].clone(), row[1].parse().unwrap_or(0)))
        .collect();
    for (counter, _) in tx.counters().await? {
        let last = saved
            .iter()
            .find(|(name, _)| *name == counter)
            .map_or(0, |(_, last)| *last);
        tx.set_counter(&counter, last).await?;
    }
    Ok(())
}

/// Empties every table and starts every counter over. Snapshots are kept.
pub async fn wipe(tx: &mut Tx) -> Result<()> {
    lock_everything(tx).await?;
    let mut script = String::new();
    for table in TABLES {
        script.push_str(&format!("DELETE FROM {};\n", table.name));
    }
    tx.run_script(&script).await?;
    for (counter, _) in tx.counters().await? {
        tx.set_counter(&counter, 0).await?;
    }
    Ok(())
}

/// Every table locked first, in one order: another node's transaction waits for the whole
/// change rather than seeing part of it.
pub async fn lock_everything(tx: &mut Tx) -> Result<()> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    tx.lock_tables(&names).await
}

async fn id_of(tx: &mut Tx, name: &str) -> Result<Option<i64>> {
    debug_assert!(valid_name(name));
    let sql = format!("SELECT CAST(id AS TEXT) FROM {CATALOG} WHERE name = '{name}'");
    first_number(tx, &sql).await
}

async fn drop_copies(tx: &mut Tx, id: i64) -> Result<()> {
    let mut script = String::new();
    for table in TABLES {
        script.push_str(&format!(
            "DROP TABLE IF EXISTS {};\n",
            copy_of(id, table.name)
        ));
    }
    script.push_str(&format!("DROP TABLE IF EXISTS {};\n", counters_of(id)));
    tx.run_script(&script).await
}
