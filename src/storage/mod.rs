//! Storage behind one trait, so the HTTP layer and the record rules never see a database.
//!
//! Reads go straight to [`Storage`]; writes happen in a [`Tx`], which commits durably (the
//! response is sent only after the commit returned) or, if dropped, rolls back.

pub mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::filter::{Filter, Select};
use crate::record::Record;
use crate::registry::Table;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique key already holds this value: a client error, not a fault.
    #[error("a record with the same {fields} already exists in {table}")]
    Unique { table: String, fields: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL '{0}': use sqlite://PATH")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A database holding every table of the registry.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    async fn select(&self, table: &'static Table, select: &Select) -> Result<Vec<Record>>;
    async fn count(&self, table: &'static Table, filter: &Filter) -> Result<u64>;
    async fn get(&self, table: &'static Table, sys_id: &str) -> Result<Option<Record>> {
        let select = Select::filter(Filter::eq(table, "sys_id", sys_id.into())).limit(1);
        Ok(self.select(table, &select).await?.pop())
    }
    /// Starts a write transaction.
    async fn begin(&self) -> Result<Box<dyn Tx>>;
    /// Runs the embedded migrations for this backend.
    async fn migrate(&self) -> Result<()>;
    /// The columns each table has in the database, for the registry check.
    async fn columns(&self, table: &str) -> Result<Vec<String>>;
    /// Finishes outstanding work and closes connections.
    async fn close(&self);
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
#[async_trait]
pub trait Tx: Send {
    async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>>;
    async fn get(&mut self, table: &'static Table, sys_id: &str) -> Result<Option<Record>> {
        let select = Select::filter(Filter::eq(table, "sys_id", sys_id.into())).limit(1);
        Ok(self.select(table, &select).await?.pop())
    }
    async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()>;
    /// Inserts `record` unless one with the same `key` values exists, in which case that one's
    /// `update` fields are set. Atomic under concurrency (a unique key and `ON CONFLICT`, never
    /// check-then-insert). Returns the sys_id of the record holding the key.
    async fn upsert(
        &mut self,
        table: &'static Table,
        record: &Record,
        key: &[&str],
        update: &[&str],
    ) -> Result<String>;
    /// Sets the given fields of one record; false if there is no such record.
    async fn update(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        changes: &Record,
    ) -> Result<bool>;
    async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool>;
    /// The next value of a named counter (1, 2, ...), unique across every writer.
    async fn next_number(&mut self, counter: &str) -> Result<i64>;
    /// Raises a counter so that the next number is above `at_least` (never lowers it).
    async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()>;
    /// Makes every write durable before returning.
    async fn commit(self: Box<Self>) -> Result<()>;
}

impl From<&str> for crate::record::Value {
    fn from(s: &str) -> Self {
        crate::record::Value::text(s)
    }
}

/// Opens the database a URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        Err(StorageError::UnsupportedUrl(redact(url)))
    }
}

/// A database URL with any password replaced, fit for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
