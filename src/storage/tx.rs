//! A write transaction: a backend's statements ([`RawTx`]) plus what every backend shares, kept
//! as the statements run: which records the transaction holds, and whether it changed who a
//! caller is or may be, which its commit announces by itself.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use super::{IDENTITY_CHANNEL, IdentityListener, IdentityNews, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, Table, Write};
use crate::model::value::Record;

/// The statements a backend runs inside one of its transactions. Dropping it without
/// [`RawTx::commit`] rolls it back.
#[async_trait]
pub trait RawTx: Send {
    async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>>;
    async fn lock(&mut self, name: &str) -> Result<()>;
    /// Announces `channel` to every listener when (and only if) the transaction commits.
    async fn notify(&mut self, channel: &str) -> Result<()>;
    async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()>;
    async fn upsert(
        &mut self,
        table: &'static Table,
        record: &Record,
        key: &[&str],
        update: &[&str],
    ) -> Result<String>;
    async fn update(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        changes: &Record,
    ) -> Result<bool>;
    async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool>;
    /// Deletes every record `filter` matches, in one statement; returns how many.
    async fn delete_where(&mut self, table: &'static Table, filter: &Filter) -> Result<u64>;
    async fn next_number(&mut self, counter: &str) -> Result<i64>;
    async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()>;
    /// Every counter and the last number it gave.
    async fn counters(&mut self) -> Result<Vec<(String, i64)>>;
    /// Sets a counter, lower or higher: its next number is `last + 1`.
    async fn set_counter(&mut self, counter: &str, last: i64) -> Result<()>;
    /// Runs statements switchboard wrote itself: names from the registry and its own, never a
    /// client's value (snapshots, [`super::snapshot`]).
    async fn run_script(&mut self, sql: &str) -> Result<()>;
    /// Locks whole tables until the transaction ends, excluding every other reader and writer
    /// (PostgreSQL; SQLite's one writer already excludes every other writer).
    async fn lock_tables(&mut self, tables: &[&str]) -> Result<()>;
    /// The rows of a query switchboard wrote itself, each column read as text (NULL as "").
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<String>>>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Who on this node hears that a transaction committed here changed users, roles or grants
/// (the credential cache). Each store has one; its transactions tell it on commit.
#[derive(Clone, Default)]
pub struct IdentityWatch(Arc<OnceLock<IdentityListener>>);

impl IdentityWatch {
    /// Sets who is told; a store has one listener, so a second is ignored.
    pub fn set(&self, news: IdentityListener) {
        if self.0.set(news).is_err() {
            tracing::warn!("a store's identity changes already have a listener");
        }
    }

    fn changed(&self) {
        if let Some(news) = self.0.get() {
            news(IdentityNews::Changed);
        }
    }
}

/// The records a write transaction created or read with a lock: a reference to one of them is
/// already safe (nobody else can delete it before this transaction ends), so holding it again
/// needs no read ([`Tx::hold`]).
///
/// A set: one transaction can write thousands of records (an attachment's chunks).
#[derive(Debug, Default)]
struct Held(HashSet<(&'static str, String)>);

impl Held {
    fn add(&mut self, table: &'static Table, sys_id: &str) {
        if !self.contains(table, sys_id) {
            self.0.insert((table.name, sys_id.to_owned()));
        }
    }

    fn remove(&mut self, table: &'static Table, sys_id: &str) {
        self.0.remove(&(table.name, sys_id.to_owned()));
    }

    /// Forgets every record of `table` (after a delete by filter, which names none).
    fn remove_table(&mut self, table: &'static Table) {
        self.0.retain(|(t, _)| *t != table.name);
    }

    fn contains(&self, table: &'static Table, sys_id: &str) -> bool {
        self.0.contains(&(table.name, sys_id.to_owned()))
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    raw: Box<dyn RawTx>,
    held: Held,
    /// A user, role, grant, application or token was written.
    identity_changed: bool,
    watch: IdentityWatch,
}

impl Tx {
    /// A transaction over a backend's `raw` one, telling `watch` of identity changes it commits.
    pub fn new(raw: Box<dyn RawTx>, watch: IdentityWatch) -> Tx {
        Tx {
            raw,
            held: Held::default(),
            identity_changed: false,
            watch,
        }
    }

    fn wrote(&mut self, table: &Table, write: Write) {
        self.identity_changed |= registry::stales_credentials(table, write);
    }

    /// Whether a write of this transaction changed who a caller is or what it may do.
    pub fn identity_changed(&self) -> bool {
        self.identity_changed
    }

    pub async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        let records = self.raw.select(table, select).await?;
        if select.lock.is_some() {
            for record in &records {
                self.held.add(table, record.sys_id());
            }
        }
        Ok(records)
    }

    pub async fn get(&mut self, table: &'static Table, sys_id: &str) -> Result<Option<Record>> {
        let select = Select::filter(Filter::eq(table.sys_id(), sys_id.into())).limit(1);
        Ok(self.select(table, &select).await?.pop())
    }

    /// Reads one record and locks it until the transaction ends: the way to read a record
    /// that is about to be changed, so concurrent changes serialise.
    pub async fn get_locked(
        &mut self,
        table: &'static Table,
        sys_id: &str,
    ) -> Result<Option<Record>> {
        self.get_held(table, sys_id, RowLock::Update).await
    }

    /// Reads one record and holds it with `lock` until the transaction ends (see [`RowLock`]).
    pub async fn get_held(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        lock: RowLock,
    ) -> Result<Option<Record>> {
        let select = Select::filter(Filter::eq(table.sys_id(), sys_id.into()))
            .limit(1)
            .locked_as(lock);
        Ok(self.select(table, &select).await?.pop())
    }

    /// Makes sure the record `sys_id` of `table` exists and stays until this transaction ends,
    /// because a reference to it is being written: a `FOR KEY SHARE` read on PostgreSQL (what a
    /// foreign key takes), unless this transaction created or already holds the record.
    pub async fn hold(&mut self, table: &'static Table, sys_id: &str) -> Result<bool> {
        if self.held.contains(table, sys_id) {
            return Ok(true);
        }
        Ok(self
            .get_held(table, sys_id, RowLock::KeyShare)
            .await?
            .is_some())
    }

    /// Takes a named lock held until the transaction ends, serialising every transaction that
    /// takes it (across nodes too). For derived data computed from many rows.
    pub async fn lock(&mut self, name: &str) -> Result<()> {
        self.raw.lock(name).await
    }

    pub async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()> {
        self.raw.insert(table, record).await?;
        self.held.add(table, record.sys_id());
        self.wrote(table, Write::Insert);
        Ok(())
    }

    /// Inserts `record` unless one with the same `key` values exists, in which case that one's
    /// `update` fields are set. Atomic under concurrency (a unique key and `ON CONFLICT`, never
    /// check-then-insert). Returns the sys_id of the record holding the key.
    pub async fn upsert(
        &mut self,
        table: &'static Table,
        record: &Record,
        key: &[&str],
        update: &[&str],
    ) -> Result<String> {
        let id = self.raw.upsert(table, record, key, update).await?;
        let write = match id == record.sys_id() {
            true => Write::Insert,
            false => Write::Update,
        };
        self.wrote(table, write);
        Ok(id)
    }

    /// Sets the given fields of one record; false if there is no such record.
    pub async fn update(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        changes: &Record,
    ) -> Result<bool> {
        let updated = self.raw.update(table, sys_id, changes).await?;
        self.wrote(table, Write::Update);
        Ok(updated)
    }

    pub async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool> {
        self.held.remove(table, sys_id);
        let deleted = self.raw.delete(table, sys_id).await?;
        self.wrote(table, Write::Delete);
        Ok(deleted)
    }

    /// Deletes every record of `table` that `filter` matches, in one statement, without the
    /// rules and cascades of `domain::delete`: for records nothing refers to and no rule
    /// watches (an attachment's chunks, [`registry::OnDelete::Purge`]).
    pub async fn delete_where(&mut self, table: &'static Table, filter: &Filter) -> Result<u64> {
        self.held.remove_table(table);
        let deleted = self.raw.delete_where(table, filter).await?;
        self.wrote(table, Write::Delete);
        Ok(deleted)
    }

    /// The next value of a named counter (1, 2, ...), unique across every writer.
    pub async fn next_number(&mut self, counter: &str) -> Result<i64> {
        self.raw.next_number(counter).await
    }

    /// Raises a counter so that the next number is above `at_least` (never lowers it).
    pub async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()> {
        self.raw.raise_counter(counter, at_least).await
    }

    /// Every counter and the last number it gave.
    pub async fn counters(&mut self) -> Result<Vec<(String, i64)>> {
        self.raw.counters().await
    }

    /// Sets a counter, lower or higher: its next number is `last + 1`.
    pub async fn set_counter(&mut self, counter: &str, last: i64) -> Result<()> {
        self.raw.set_counter(counter, last).await
    }

    /// Runs statements switchboard wrote itself (see [`RawTx::run_script`]). The transaction
    /// is taken to have changed everything: what it held, and who callers are.
    pub async fn run_script(&mut self, sql: &str) -> Result<()> {
        self.held = Held::default();
        self.identity_changed = true;
        self.raw.run_script(sql).await
    }

    /// Locks whole tables until the transaction ends (see [`RawTx::lock_tables`]).
    pub async fn lock_tables(&mut self, tables: &[&str]) -> Result<()> {
        self.raw.lock_tables(tables).await
    }

    /// The rows of a query switchboard wrote itself, each column as text.
    pub async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        self.raw.query_text(sql).await
    }

    /// Makes every write durable before returning. When the transaction changed users, roles or
    /// grants, every node's credential cache is emptied: this node's at once (before the
    /// response that follows is sent, so no request that starts after it passes on the old
    /// credentials), the others' through a notification sent with the commit.
    pub async fn commit(mut self) -> Result<()> {
        if !self.identity_changed {
            return self.raw.commit().await;
        }
        self.raw.notify(IDENTITY_CHANNEL).await?;
        let committed = self.raw.commit().await;
        // Even when the commit failed: it may have been kept (a lost connection at commit).
        self.watch.changed();
        committed
    }
}
