//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside a commit: the committing connection copies the WAL
//! into the database file and fsyncs it, while holding the only write lock. Profiled under the
//! create scenario, that was a fifth of the server's CPU, all of it on the writer's turn. Here
//! the writer's automatic checkpoint is off, and this thread checkpoints on its own connection
//! (PASSIVE: it never blocks the writer or the readers) shortly after commits, so the copy and
//! its fsync overlap with the next transactions instead of delaying them.
//!
//! A PASSIVE checkpoint copies only what was in the WAL when it began. Under a steady stream of
//! writes it never catches up, and SQLite starts the WAL over only once a checkpoint has copied
//! all of it: the WAL grew without bound (4 GB while loading 130,000 interactions, and every page
//! read searches the WAL's index first). So when the WAL file has grown past a limit, the writer
//! copies the remainder itself right after a commit ([`Checkpointer::catch_up`]), when nothing
//! new can be appended; the next commit starts the WAL over and cuts the file back to the limit
//! (`journal_size_limit`).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::storage::Result;

/// How long commits may pile up in the WAL before a checkpoint copies them back.
const INTERVAL: Duration = Duration::from_millis(200);

/// WAL size past which the writer catches the checkpoint up.
pub const WAL_LIMIT_BYTES: u64 = 64 << 20;

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint.
    pending: u64,
    stopping: bool,
}

pub struct Checkpointer {
    /// The WAL file, and the size past which the writer catches up ([`WAL_LIMIT_BYTES`]).
    wal: PathBuf,
    wal_limit: u64,
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on its own connection.
    pub fn start(conn: Connection, wal: PathBuf, wal_limit: u64) -> Result<Arc<Checkpointer>> {
        let checkpointer = Arc::new(Checkpointer {
            wal,
            wal_limit,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = checkpointer.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || worker.run(conn))
            .map_err(|e| crate::storage::StorageError::Worker(e.to_string()))?;
        *checkpointer
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(thread);
        Ok(checkpointer)
    }

    /// A commit added to the WAL.
    pub fn committed(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.pending += 1;
        if state.pending == 1 {
            self.wake.notify_one();
        }
    }

    /// Tells the thread to make a last checkpoint, close its connection and end.
    pub fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.stopping = true;
        self.wake.notify_one();
    }

    /// Stops the thread and waits for it (blocking: call from a blocking context).
    pub fn stop_and_wait(&self) {
        self.stop();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    fn run(&self, conn: Connection) {
        loop {
            let stopping = {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                while state.pending == 0 && !state.stopping {
                    state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                state.stopping
            };
            if !stopping {
                // Let a few commits gather, so one checkpoint copies each page once.
                std::thread::sleep(INTERVAL);
            }
            self.state.lock().unwrap_or_else(|p| p.into_inner()).pending = 0;
            if let Err(e) = checkpoint(&conn) {
                tracing::warn!(error = %e, "WAL checkpoint failed; it is retried after the next commit");
            }
            if stopping {
                return;
            }
        }
    }

    /// Whether the writer should call [`Self::catch_up`] now (one `stat` of the WAL file).
    pub fn catch_up_wanted(&self) -> bool {
        std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > self.wal_limit)
    }

    /// On the writer's connection, between batches: checkpoints what is left of an oversized
    /// WAL, so that the next commit starts it over. Passive still: a reader holding an old
    /// snapshot stops it short, and it is tried again after the next batch.
    pub fn catch_up(&self, writer: &Connection) {
        let started = std::time::Instant::now();
        match checkpoint(writer) {
            Ok(progress) => tracing::debug!(
                wal_pages = progress.wal_pages,
                copied = progress.copied,
                took_ms = started.elapsed().as_millis() as u64,
                "the writer caught the WAL checkpoint up"
            ),
            Err(e) => tracing::warn!(error = %e, "the writer's WAL checkpoint failed"),
        }
    }
}

/// What a checkpoint found: pages in the WAL, and how many of them are now in the database.
#[derive(Debug, Clone, Copy)]
struct Progress {
    wal_pages: i64,
    copied: i64,
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Progress {
            wal_pages: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}
