//! The embedded SQLite backend: WAL mode, one writer connection, a pool of readers.
//!
//! SQLite admits one writer at a time, so writes share a single connection (they queue in the
//! pool instead of failing with SQLITE_BUSY) while readers run in parallel on the WAL snapshot.
//! `synchronous=FULL` makes every commit durable before it returns.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};

use super::backend::sql_backend;
use super::sql::{self, Dialect, Sql};
use super::{Result, Storage, StorageError, Tx};
use crate::filter::{Filter, Select};
use crate::record::{Record, Value};
use crate::registry::Table;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://PATH` URL.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get().max(4)) as u32;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { writer, reader })
    }
}

#[async_trait]
impl Storage for SqliteStore {
    async fn select(&self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        let mut conn = self.reader.acquire().await?;
        fetch(
            &mut conn,
            table,
            sql::select(table, select, Dialect::Sqlite),
        )
        .await
    }

    async fn count(&self, table: &'static Table, filter: &Filter) -> Result<u64> {
        let mut conn = self.reader.acquire().await?;
        let sql = sql::count(table, filter, Dialect::Sqlite);
        let n: i64 = sqlx::query_scalar_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
            .fetch_one(&mut *conn)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(SqliteTx {
            tx: self.writer.begin().await?,
        }))
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    async fn columns(&self, table: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    async fn close(&self) {
        self.reader.close().await;
        // Closing the last connection checkpoints the WAL into the main file.
        self.writer.close().await;
    }
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

sql_backend! {
    tx: SqliteTx,
    dialect: Dialect::Sqlite,
    connection: SqliteConnection,
    arguments: SqliteArguments,
    extra: {
    /// One writer at a time: every write transaction already holds every lock.
    async fn lock(&mut self, _name: &str) -> Result<()> {
        Ok(())
    }

    /// One process per database file: the writer invalidates its own caches.
    async fn notify(&mut self, _channel: &str) -> Result<()> {
        Ok(())
    }

    async fn next_number(&mut self, counter: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO sys_counter (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        )
        .bind(counter)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sys_counter (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
        )
        .bind(counter)
        .bind(at_least)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
    }
}

/// Turns a unique-key violation into [`StorageError::Unique`], naming the fields.
fn on_constraint(table: &Table, e: sqlx::Error) -> StorageError {
    if let Some(db) = e.as_database_error()
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
    {
        // SQLite says "UNIQUE constraint failed: t.a, t.b".
        let fields = db
            .message()
            .rsplit(": ")
            .next()
            .unwrap_or_default()
            .split(", ")
            .map(|c| c.rsplit('.').next().unwrap_or(c))
            .collect::<Vec<_>>()
            .join(", ");
        return StorageError::Unique {
            table: table.name.to_owned(),
            fields,
        };
    }
    StorageError::Database(e)
}
