//! The single SQLite writer, with group commit.
//!
//! SQLite admits one writer at a time, and a durable commit costs an fsync (milliseconds),
//! while the statements of one request cost microseconds. So write transactions take turns on
//! one connection (a fair FIFO lock) and run their statements synchronously, each inside a
//! savepoint of one shared outer transaction; a transaction that commits only releases its
//! savepoint and waits. A committer task then takes its turn on the lock (behind every request
//! that queued before it), commits the outer transaction once (one fsync for the whole batch,
//! on a blocking thread) and only then tells each waiting transaction that it is durable. No
//! response is sent before the fsync that covers it, and a transaction that fails or is dropped
//! rolls back to its savepoint without touching the others.
//!
//! If SQLite ever rolls back the outer transaction itself (it may on I/O errors or a full
//! disk), every transaction that was waiting on it is told its commit failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use rusqlite::Connection;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use super::checkpoint::Checkpointer;
use crate::storage::{Result, StorageError};

type Done = oneshot::Sender<Result<(), String>>;

/// Why waiting transactions fail when SQLite rolled their shared transaction back itself.
const ROLLED_BACK: &str = "the transaction was rolled back by the database";
const CLOSED: &str = "the database was closed";

/// The writer connection and the transactions waiting for the next commit.
pub struct WriterConn {
    /// `None` once the store is closed.
    conn: Option<Connection>,
    /// Transactions whose savepoint is released, in the current outer transaction.
    waiting: Vec<Done>,
}

impl WriterConn {
    pub fn conn(&self) -> Result<&Connection> {
        self.conn.as_ref().ok_or(StorageError::Closed)
    }

    /// Opens the outer transaction if none is open, then this transaction's savepoint.
    fn begin(&mut self) -> Result<()> {
        let conn = self.conn()?;
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        conn.execute_batch("SAVEPOINT request")?;
        Ok(())
    }

    /// Keeps this transaction's changes in the outer transaction and queues `done` to hear
    /// when they are durable.
    fn release(&mut self, done: Done) -> Result<()> {
        let conn = self.conn()?;
        if conn.is_autocommit() {
            // SQLite rolled the outer transaction back under this one (an I/O error, a full
            // disk): this one's changes are gone, and so are those of everyone waiting.
            self.fail_waiting(ROLLED_BACK);
            return Err(StorageError::CommitFailed(ROLLED_BACK.into()));
        }
        if let Err(e) = conn.execute_batch("RELEASE request") {
            self.rollback_to_savepoint();
            return Err(e.into());
        }
        self.waiting.push(done);
        Ok(())
    }

    /// Undoes this transaction's changes, keeping the other transactions of the batch.
    fn rollback_to_savepoint(&mut self) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        if conn.is_autocommit() {
            self.fail_waiting(ROLLED_BACK);
            return;
        }
        if let Err(e) = conn.execute_batch("ROLLBACK TO request; RELEASE request") {
            tracing::error!(error = %e, "rolling back a write transaction failed");
            let _ = conn.execute_batch("ROLLBACK");
            self.fail_waiting(&format!("rolling back another transaction failed: {e}"));
        }
    }

    /// Commits the outer transaction (the fsync), calls `committed` if that kept anything, and
    /// only then answers every waiting transaction (so that what `committed` records, such as
    /// the readers' cache generation, is in place before any of them hears back).
    fn commit_batch(&mut self, committed: impl FnOnce()) {
        if self.waiting.is_empty() {
            return;
        }
        let outcome = match self.conn.as_ref() {
            None => Err(CLOSED.to_owned()),
            Some(conn) if conn.is_autocommit() => Err(ROLLED_BACK.to_owned()),
            Some(conn) => conn.execute_batch("COMMIT").map_err(|e| {
                tracing::error!(error = %e, "commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                e.to_string()
            }),
        };
        if outcome.is_ok() {
            committed();
        }
        for done in self.waiting.drain(..) {
            let _ = done.send(outcome.clone());
        }
    }

    fn fail_waiting(&mut self, why: &str) {
        for done in self.waiting.drain(..) {
            let _ = done.send(Err(why.to_owned()));
        }
    }
}

/// The shared writer: the connection behind a fair lock, and the committer's wake-up.
pub struct Writer {
    conn: Arc<Mutex<WriterConn>>,
    commit_wanted: Notify,
    /// Raised after every commit that kept something; readers' caches compare it.
    generation: Arc<AtomicU64>,
    checkpoint: Arc<Checkpointer>,
}

impl Writer {
    /// Takes over `conn` and starts the committer task.
    pub fn start(
        conn: Connection,
        generation: Arc<AtomicU64>,
        checkpoint: Arc<Checkpointer>,
    ) -> Arc<Writer> {
        let writer = Arc::new(Writer {
            conn: Arc::new(Mutex::new(WriterConn {
                conn: Some(conn),
                waiting: Vec::new(),
            })),
            commit_wanted: Notify::new(),
            generation,
            checkpoint,
        });
        tokio::spawn(committer(writer.clone()));
        writer
    }

    /// Waits for the writer's turn and opens a transaction on it.
    pub async fn begin(self: &Arc<Self>) -> Result<WriteTx> {
        // Registered once, not looked up in the registry on every write.
        static QUEUE: LazyLock<metrics::Gauge> =
            LazyLock::new(|| metrics::gauge!("switchboard_sqlite_writer_queue"));
        let queue = &*QUEUE;
        queue.increment(1.0);
        let mut conn = self.conn.clone().lock_owned().await;
        queue.decrement(1.0);
        conn.begin()?;
        Ok(WriteTx {
            conn: Some(conn),
            writer: self.clone(),
        })
    }

    /// Commits what is waiting, then closes the connection (which checkpoints the WAL).
    pub async fn close(&self) {
        let mut conn = self.conn.clone().lock_owned().await;
        let _ = tokio::task::spawn_blocking(move || {
            conn.commit_batch(|| ());
            if let Some(c) = conn.conn.take()
                && let Err((_, e)) = c.close()
            {
                tracing::warn!(error = %e, "closing the database");
            }
        })
        .await;
        self.commit_wanted.notify_one();
    }
}

/// Commits batches for as long as the store is open. Each turn on the lock comes after every
/// transaction that queued before it, so they all share one fsync.
async fn committer(writer: Arc<Writer>) {
    loop {
        writer.commit_wanted.notified().await;
        let mut conn = writer.conn.clone().lock_owned().await;
        if conn.conn.is_none() {
            conn.fail_waiting(CLOSED);
            return;
        }
        if conn.waiting.is_empty() {
            continue;
        }
        let generation = writer.generation.clone();
        let checkpoint = writer.checkpoint.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let transactions = conn.waiting.len();
            metrics::histogram!("switchboard_sqlite_commit_batch_size").record(transactions as f64);
            conn.commit_batch(|| {
                generation.fetch_add(1, Ordering::Release);
                checkpoint.committed();
            });
            tracing::trace!(transactions, "group commit");
            // Everyone in the batch has been answered; the next batch waits for this.
            if checkpoint.catch_up_wanted()
                && let Some(c) = conn.conn.as_ref()
            {
                checkpoint.catch_up(c);
            }
        })
        .await;
        if let Err(e) = joined {
            // The guard went down with the panic; waiting transactions got an error.
            tracing::error!(error = %e, "the committer panicked");
        }
    }
}

/// One write transaction: a savepoint in the writer's current batch, holding the writer's turn.
pub struct WriteTx {
    /// `None` once committed.
    conn: Option<OwnedMutexGuard<WriterConn>>,
    writer: Arc<Writer>,
}

impl WriteTx {
    pub fn conn(&self) -> Result<&Connection> {
        match &self.conn {
            Some(conn) => conn.conn(),
            None => Err(StorageError::Closed),
        }
    }

    /// Keeps the changes, gives up the writer's turn, and waits until they are durable.
    pub async fn commit(mut self) -> Result<()> {
        let mut conn = self.conn.take().ok_or(StorageError::Closed)?;
        let (done, durable) = oneshot::channel();
        conn.release(done)?;
        drop(conn);
        self.writer.commit_wanted.notify_one();
        match durable.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(StorageError::CommitFailed(why)),
            Err(_) => Err(StorageError::CommitFailed(
                "the committer stopped before committing".into(),
            )),
        }
    }
}

impl Drop for WriteTx {
    /// Not committed: undo this transaction's changes only.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.rollback_to_savepoint();
            if !conn.waiting.is_empty() {
                drop(conn);
                self.writer.commit_wanted.notify_one();
            }
        }
    }
}
