//! Storage behind one trait, so the HTTP layer and the record rules never see a database.
//!
//! Reads go straight to [`Storage`]; writes happen in a [`Tx`], which commits durably (the
//! response is sent only after the commit returned) or, if dropped, rolls back.

pub mod postgres;
mod rows;
pub mod snapshot;
pub mod sql;
pub mod sqlite;
mod tx;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use tx::{IdentityWatch, RawTx, Tx};

use crate::model::aggregate::{Aggregation, Group};
use crate::model::filter::{Filter, Select};
use crate::model::registry::Table;
use crate::model::value::Record;

/// What went wrong in storage, in terms every backend shares: no driver's type appears here.
/// Each backend turns its driver's errors into these at its own boundary, keeping the
/// distinctions callers act on (a client's mistake, a conflict worth replaying, an outage worth
/// a 503) and the driver's own words as the message.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique key already holds this value: a client error, not a fault.
    #[error("a record with the same {fields} already exists in {table}")]
    Unique { table: String, fields: String },
    /// Text the database cannot store (PostgreSQL refuses NUL): a client error.
    #[error("a value holds a character the database cannot store")]
    InvalidText,
    /// The database rolled the transaction back to break a deadlock, or because it could not
    /// be serialised with a concurrent one (PostgreSQL's SQLSTATE 40P01 and 40001): nothing of
    /// it was kept, and running it again will most likely succeed.
    #[error("database error: {0}")]
    Conflict(String),
    /// The database cannot be reached or cannot write for now (down, restarting, out of
    /// connections, a full disk, an I/O error).
    #[error("database error: {0}")]
    Unavailable(String),
    /// Any other failure of a statement.
    #[error("database error: {0}")]
    Database(String),
    /// The database URL or one of its options is not valid.
    #[error("database error: error with configuration: {0}")]
    InvalidUrl(String),
    /// The store was closed (the server is shutting down).
    #[error("the database is closed")]
    Closed,
    /// A commit shared with other transactions (group commit) failed, or the transaction
    /// holding them was rolled back: nothing of this transaction was kept.
    #[error("the commit failed: {0}")]
    CommitFailed(String),
    /// A thread the backend runs its work on could not be started, or stopped with a panic.
    #[error("a database worker failed: {0}")]
    Worker(String),
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// No connection to the database could be had (it is down, refuses connections, or every
    /// connection is busy past the pool's timeout).
    #[error("no database connection: {0}")]
    Connect(String),
    /// The database server could not be reached at start.
    #[error("cannot reach the database at {url}: {cause}")]
    Unreachable { url: String, cause: String },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// The transaction lost a conflict ([`StorageError::Conflict`]): running it again will
    /// most likely succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StorageError::Conflict(_))
    }

    /// The database cannot serve the request now: not the request's fault, and worth retrying
    /// later. Answered as a 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable(_)
                // A shared commit failed (on SQLite, an I/O error or a full disk under the
                // batch), or the store is closing: nothing was kept.
                | StorageError::CommitFailed(_)
                | StorageError::Connect(_)
                | StorageError::Closed
                | StorageError::Unreachable { .. }
        )
    }
}

/// A database holding every table of the registry.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    async fn select(&self, table: &'static Table, select: &Select) -> Result<Vec<Record>>;
    async fn count(&self, table: &'static Table, filter: &Filter) -> Result<u64>;
    /// The groups of an aggregate query, in its order (one group when it has no group-by).
    async fn aggregate(
        &self,
        table: &'static Table,
        aggregation: &Aggregation,
    ) -> Result<Vec<Group>>;
    async fn get(&self, table: &'static Table, sys_id: &str) -> Result<Option<Record>> {
        let select = Select::filter(Filter::eq(table.sys_id(), sys_id.into())).limit(1);
        Ok(self.select(table, &select).await?.pop())
    }
    /// Starts a write transaction.
    async fn begin(&self) -> Result<Tx>;
    /// Runs the embedded migrations for this backend.
    async fn migrate(&self) -> Result<()>;
    /// Finishes outstanding work and closes connections.
    async fn close(&self);
    /// Tells `news` whenever a transaction commits a write to users, roles or grants: at once
    /// for this store's own transactions ([`Tx::commit`]), and, where several nodes share a
    /// database, when another node's is heard of, with whether such news can be heard at all.
    fn watch_identity_changes(&self, news: IdentityListener);
}

/// What a node hears of identity changes made elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityNews {
    /// Another connection committed an identity change.
    Changed,
    /// Changes can no longer be heard (not listening yet, or the listening connection was
    /// lost): nothing learnt from now on may be trusted until [`IdentityNews::Listening`].
    Deaf,
    /// Listening again (after a [`IdentityNews::Deaf`]); anything may have changed meanwhile.
    Listening,
}

/// Who is told of identity changes ([`Storage::watch_identity_changes`]).
pub type IdentityListener = Arc<dyn Fn(IdentityNews) + Send + Sync>;

/// The channel on which committed identity changes are announced to every node.
pub const IDENTITY_CHANNEL: &str = "switchboard_identity";

impl From<&str> for crate::model::value::Value {
    fn from(s: &str) -> Self {
        crate::model::value::Value::text(s)
    }
}

/// Connection pool settings for client-server databases (PostgreSQL).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens the database a URL names, with default pool settings.
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    open_with(url, &PoolSettings::default()).await
}

/// Opens the database a URL names: `sqlite://PATH` or `postgres://...`.
pub async fn open_with(url: &str, pool: &PoolSettings) -> Result<Arc<dyn Storage>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url, pool).await?))
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
