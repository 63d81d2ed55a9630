//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside a commit: the committing connection copies the WAL
//! into the database file and fsyncs it, while holding the only write lock. Profiled under the
//! create scenario, that was a fifth of the server's CPU, all of it on the writer's turn. Here
//! the writer's automatic checkpoint is off, and this thread checkpoints on its own connection
//! (PASSIVE: it never blocks the writer or the readers) shortly after commits, so the copy and
//! its fsync overlap with the next transactions instead of delaying them.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::storage::Result;

/// How long commits may pile up in the WAL before a checkpoint copies them back.
const INTERVAL: Duration = Duration::from_millis(200);

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint.
    pending: u64,
    stopping: bool,
}

pub struct Checkpointer {
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on its own connection.
    pub fn start(conn: Connection) -> Result<Arc<Checkpointer>> {
        let checkpointer = Arc::new(Checkpointer {
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
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
