//! The embedded SQLite backend: WAL mode, one writer with group commit, a pool of readers.
//!
//! Statements run synchronously on rusqlite connections, on the calling thread: a statement
//! costs microseconds, far less than handing it to another thread and back (which is what
//! dominated the profile when every statement went through a driver thread). Only work that can
//! take long — commits (an fsync), counts and large pages — moves to a blocking thread.
//! `synchronous=FULL` makes every commit durable before it returns; see [`writer`] for how
//! concurrent writes share one commit.

mod checkpoint;
mod count_cache;
mod error;
mod exec;
mod migrate;
mod url;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use self::checkpoint::Checkpointer;
use self::count_cache::CountCache;
use self::writer::{WriteTx, Writer};
use super::sql::{self, Dialect};
use super::{IdentityListener, IdentityWatch, RawTx, Result, Storage, StorageError, Tx};
use crate::model::aggregate::{Aggregation, Group};
use crate::model::filter::{Filter, Select};
use crate::model::registry::Table;
use crate::model::value::Record;

/// Pages up to this many rows are read on the request's own thread; larger ones (and anything
/// with a large offset) on a blocking thread, so they cannot stall other requests.
const INLINE_ROWS: u64 = 100;
const INLINE_OFFSET: u64 = 1_000;

pub struct SqliteStore {
    writer: Arc<Writer>,
    checkpoint: Arc<Checkpointer>,
    readers: Arc<Readers>,
    counts: CountCache,
    /// Told when a transaction here changes users, roles or grants.
    identity: IdentityWatch,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://PATH` URL ([`url::path`]).
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with_wal_limit(url, checkpoint::WAL_LIMIT_BYTES).await
    }

    /// [`Self::open`], catching the WAL checkpoint up past `wal_limit` bytes (tests set it low).
    async fn open_with_wal_limit(url: &str, wal_limit: u64) -> Result<Self> {
        let path = url::path(url)?;
        let (writer_conn, checkpoint_conn) = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                let writer = connect(&path, Role::Writer { wal_limit })?;
                Ok::<_, StorageError>((writer, connect(&path, Role::Checkpointer)?))
            })
            .await
            .map_err(|e| StorageError::Worker(e.to_string()))??
        };
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let checkpoint = Checkpointer::start(checkpoint_conn, wal.into(), wal_limit)?;
        let generation = Arc::new(AtomicU64::new(0));
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get().max(4));
        Ok(SqliteStore {
            writer: Writer::start(writer_conn, generation.clone(), checkpoint.clone()),
            checkpoint,
            readers: Arc::new(Readers {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(readers),
            }),
            counts: CountCache::new(generation),
            identity: IdentityWatch::default(),
        })
    }

    /// Runs a read on a reader connection: inline when `inline`, else on a blocking thread.
    async fn read<T, F>(&self, inline: bool, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StorageError::Closed)?;
        let readers = self.readers.clone();
        let work = move || {
            let conn = readers.take()?;
            let answer = read(&conn);
            readers.put(conn);
            answer
        };
        if inline {
            work()
        } else {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| StorageError::Worker(format!("a read: {e}")))?
        }
    }
}

#[async_trait]
impl Storage for SqliteStore {
    async fn select(&self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        let inline =
            select.limit.is_some_and(|l| l <= INLINE_ROWS) && select.offset <= INLINE_OFFSET;
        let sql = sql::select(table, select, Dialect::Sqlite);
        self.read(inline, move |conn| exec::fetch(conn, table, &sql))
            .await
    }

    async fn count(&self, table: &'static Table, filter: &Filter) -> Result<u64> {
        let sql = sql::count(table, filter, Dialect::Sqlite);
        let key = CountCache::key(&sql);
        if let Some(n) = self.counts.get(&key) {
            return Ok(n);
        }
        let generation = self.counts.generation();
        let n: i64 = self
            .read(false, move |conn| exec::scalar(conn, table, &sql))
            .await?;
        let n = u64::try_from(n).unwrap_or(0);
        self.counts.put(key, generation, n);
        Ok(n)
    }

    async fn aggregate(
        &self,
        table: &'static Table,
        aggregation: &Aggregation,
    ) -> Result<Vec<Group>> {
        let sql = sql::aggregate(table, aggregation, Dialect::Sqlite);
        let aggregation = aggregation.clone();
        self.read(false, move |conn| {
            exec::fetch_groups(conn, table, &aggregation, &sql)
        })
        .await
    }

    async fn begin(&self) -> Result<Tx> {
        let raw = SqliteTx(self.writer.begin().await?);
        Ok(Tx::new(Box::new(raw), self.identity.clone()))
    }

    /// One process per database file: only this store's own transactions change identities.
    fn watch_identity_changes(&self, news: IdentityListener) {
        self.identity.set(news);
    }

    /// On a connection of its own, before any request.
    async fn migrate(&self) -> Result<()> {
        let path = self.readers.path.clone();
        tokio::task::spawn_blocking(move || migrate::run(&mut migrate::connect(&path)?))
            .await
            .map_err(|e| StorageError::Worker(format!("the migrations: {e}")))?
    }

    async fn close(&self) {
        self.readers.permits.close();
        self.readers
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.writer.close().await;
        // Its connection is the last: closing it checkpoints the WAL into the main file.
        let checkpoint = self.checkpoint.clone();
        let _ = tokio::task::spawn_blocking(move || checkpoint.stop_and_wait()).await;
    }
}

/// Reader connections, opened on demand up to the number of permits.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    fn take(&self) -> Result<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.path, Role::Reader),
        }
    }

    fn put(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}

impl Drop for SqliteStore {
    /// Dropped without [`Storage::close`] (tests do): the checkpoint thread must not outlive it.
    fn drop(&mut self) {
        self.checkpoint.stop();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// The one writer; `wal_limit` is the WAL size it catches the checkpoint up at.
    Writer {
        wal_limit: u64,
    },
    Reader,
    Checkpointer,
    Migrator,
}

/// Opens a connection with the settings every connection needs.
fn connect(path: &Path, role: Role) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(exec::STATEMENT_CACHE);
    // Plans must not depend on bound values: otherwise SQLite re-prepares a cached statement
    // whenever a parameter it looked at changes (it did, on every `sys_id = ?`: the parser was
    // the hottest part of SQLite in the profile of the get scenario).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;",
    )?;
    match role {
        // Checkpoints are the checkpoint thread's job, off the writer's turn.
        Role::Writer { wal_limit } => {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            // When the WAL starts over, its file is cut back to the limit.
            conn.pragma_update(None, "journal_size_limit", wal_limit as i64)?;
            // Each write transaction is a savepoint, so SQLite copies every page it first
            // touches into a sub-journal (to roll back to the savepoint). In a temporary file
            // that was ten `pwrite`s for each WAL write under the create scenario; in memory
            // it costs a copy, and it is emptied when the savepoint is released. Nothing
            // durable lives there: the WAL alone makes commits atomic.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
        }
        Role::Reader => conn.pragma_update(None, "query_only", true)?,
        Role::Checkpointer | Role::Migrator => {}
    }
    Ok(conn)
}

struct SqliteTx(WriteTx);

#[async_trait]
impl RawTx for SqliteTx {
    async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        exec::fetch(
            self.0.conn()?,
            table,
            &sql::select(table, select, Dialect::Sqlite),
        )
    }

    /// One writer at a time: every write transaction already holds every lock.
    async fn lock(&mut self, _name: &str) -> Result<()> {
        Ok(())
    }

    /// One process per database file: nobody else is listening.
    async fn notify(&mut self, _channel: &str) -> Result<()> {
        Ok(())
    }

    async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()> {
        exec::execute(
            self.0.conn()?,
            table,
            &sql::insert(table, record, Dialect::Sqlite),
        )?;
        Ok(())
    }

    async fn upsert(
        &mut self,
        table: &'static Table,
        record: &Record,
        key: &[&str],
        update: &[&str],
    ) -> Result<String> {
        let sql = sql::upsert(table, record, key, update, Dialect::Sqlite);
        exec::scalar(self.0.conn()?, table, &sql)
    }

    async fn update(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        changes: &Record,
    ) -> Result<bool> {
        let sql = sql::update(table, sys_id, changes, Dialect::Sqlite);
        Ok(exec::execute(self.0.conn()?, table, &sql)? > 0)
    }

    async fn delete_where(&mut self, table: &'static Table, filter: &Filter) -> Result<u64> {
        let sql = sql::delete_where(table, filter, Dialect::Sqlite);
        Ok(exec::execute(self.0.conn()?, table, &sql)? as u64)
    }

    async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool> {
        let sql = sql::delete(table, sys_id, Dialect::Sqlite);
        Ok(exec::execute(self.0.conn()?, table, &sql)? > 0)
    }

    async fn next_number(&mut self, counter: &str) -> Result<i64> {
        Ok(self
            .0
            .conn()?
            .prepare_cached(
                "INSERT INTO sys_counter (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            )?
            .query_row([counter], |row| row.get(0))?)
    }

    async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()> {
        self.0
            .conn()?
            .prepare_cached(
                "INSERT INTO sys_counter (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            )?
            .execute(rusqlite::params![counter, at_least])?;
        Ok(())
    }

    async fn counters(&mut self) -> Result<Vec<(String, i64)>> {
        let conn = self.0.conn()?;
        let mut statement = conn.prepare_cached("SELECT name, value FROM sys_counter")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    async fn set_counter(&mut self, counter: &str, last: i64) -> Result<()> {
        self.0
            .conn()?
            .prepare_cached(
                "INSERT INTO sys_counter (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )?
            .execute(rusqlite::params![counter, last])?;
        Ok(())
    }

    async fn run_script(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.conn()?.execute_batch(sql)?)
    }

    /// One writer: no other writer runs; readers see the last commit until this one.
    async fn lock_tables(&mut self, _tables: &[&str]) -> Result<()> {
        Ok(())
    }

    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        let conn = self.0.conn()?;
        let mut statement = conn.prepare(sql)?;
        let columns = statement.column_count();
        let rows = statement.query_map([], |row| {
            (0..columns)
                .map(|i| Ok(row.get::<_, Option<String>>(i)?.unwrap_or_default()))
                .collect::<rusqlite::Result<Vec<String>>>()
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::registry;
    use crate::model::value::{Value, new_sys_id};

    async fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, Arc::new(store))
    }

    fn queue(name: &str) -> Record {
        Record::new()
            .with("sys_id", Value::text(new_sys_id()))
            .with("sys_created_on", Value::text(crate::model::value::now()))
            .with("sys_updated_on", Value::text(crate::model::value::now()))
            .with("sys_mod_count", Value::Int(0))
            .with("name", Value::text(name))
    }

    async fn names(store: &SqliteStore) -> Vec<String> {
        let queues = &registry::AWA_QUEUE;
        let mut names: Vec<String> = store
            .select(queues, &Select::all())
            .await
            .unwrap()
            .iter()
            .map(|r| r.str("name").unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Concurrent transactions share commits; those that roll back (dropped, or failed on a
    /// unique key) leave nothing, and take nothing of the others with them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_batch_keeps_exactly_the_committed_transactions() {
        let (_dir, store) = store().await;
        let queues = &registry::AWA_QUEUE;
        let taken = queue("taken");
        let mut tx = store.begin().await.unwrap();
        tx.insert(queues, &taken).await.unwrap();
        tx.commit().await.unwrap();

        let mut tasks = Vec::new();
        for i in 0..60 {
            let store = store.clone();
            let taken = taken.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                tx.insert(queues, &queue(&format!("q{i:02}")))
                    .await
                    .unwrap();
                match i % 3 {
                    0 => tx.commit().await.map(|()| true),
                    1 => Ok(false), // dropped: rolled back
                    _ => {
                        // A second row with a sys_id already taken: the insert fails and the
                        // request gives up, rolling back its first insert too.
                        let error = tx.insert(queues, &taken).await.unwrap_err();
                        assert!(matches!(error, StorageError::Unique { .. }), "{error}");
                        Ok(false)
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let mut expected: Vec<String> = (0..60)
            .filter(|i| i % 3 == 0)
            .map(|i| format!("q{i:02}"))
            .collect();
        expected.push("taken".into());
        assert_eq!(names(&store).await, expected);
    }

    /// A commit answers only once the batch is committed: what it wrote is then visible to a
    /// reader (another connection), and is still there after the store is closed and reopened.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_returns_after_the_batch_is_committed() {
        let (dir, store) = store().await;
        let queues = &registry::AWA_QUEUE;
        for i in 0..20 {
            let mut tx = store.begin().await.unwrap();
            tx.insert(queues, &queue(&format!("q{i:02}")))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(names(&store).await.len(), i + 1);
        }
        store.close().await;
        assert!(matches!(store.begin().await, Err(StorageError::Closed)));
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let reopened = SqliteStore::open(&url).await.unwrap();
        assert_eq!(names(&reopened).await.len(), 20);
        reopened.close().await;
    }

    /// A count is remembered until the next commit, and never outlives one.
    #[tokio::test]
    async fn counts_follow_commits() {
        let (_dir, store) = store().await;
        let queues = &registry::AWA_QUEUE;
        for before in 0..3 {
            // Counted (and remembered) before the commit...
            assert_eq!(store.count(queues, &Filter::All).await.unwrap(), before);
            assert_eq!(store.count(queues, &Filter::All).await.unwrap(), before);
            let mut tx = store.begin().await.unwrap();
            tx.insert(queues, &queue("q")).await.unwrap();
            tx.commit().await.unwrap();
            // ...and not used once the commit has answered.
            assert_eq!(store.count(queues, &Filter::All).await.unwrap(), before + 1);
        }
    }

    /// Under writes that never pause, the WAL still starts over: it stays far smaller than
    /// what went through it (it grew by everything written before the writer caught the
    /// checkpoint up).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_wal_stays_bounded_under_unbroken_writes() {
        const WRITERS: usize = 8;
        const TRANSACTIONS: usize = 600;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}", path.display());
        let store = Arc::new(
            SqliteStore::open_with_wal_limit(&url, 64 << 10)
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let queues = &registry::AWA_QUEUE;
        // Each row fills most of a page, so every transaction adds at least one page to the WAL.
        let filler = "x".repeat(3000);
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (store, filler) = (store.clone(), filler.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..TRANSACTIONS {
                    let mut tx = store.begin().await.unwrap();
                    tx.insert(queues, &queue(&format!("{w}-{i}-{filler}")))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        let wal = dir.path().join("t.db-wal");
        let mut largest = 0;
        while tasks.iter().any(|t| !t.is_finished()) {
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let written = (WRITERS * TRANSACTIONS * 4096) as u64;
        assert!(
            largest < written / 4,
            "the WAL reached {largest} bytes of {written} written"
        );
        assert_eq!(
            store.count(queues, &Filter::All).await.unwrap(),
            (WRITERS * TRANSACTIONS) as u64
        );
    }
}
