//! WAL checkpoints off the writer's thread.
//!
//! SQLite's default runs a checkpoint inside the commit that takes a WAL past 1,000 pages: the
//! writer copies those pages into the database file and waits for two fsyncs (the WAL's, then
//! the file's). Every job queued behind that commit waits too. Measured before this module:
//! ingest spent 13% of its samples there, an MLLP feed at half load saw p99 ACK latency of
//! 18 ms, and a server answering audited reads was idle 17% of the time while requests waited
//! for the audit log's commits.
//!
//! Here a thread of its own runs PASSIVE checkpoints (they never block the writer or readers)
//! a quarter of a second after commits ([`GATHER`]), so the copying and syncing happen beside
//! the writer. A WAL file starts again from its beginning only when a write transaction
//! begins after a checkpoint has copied every frame; under continuous writes that moment may
//! not come, so once a WAL file is longer than its bound the writer itself runs a RESTART
//! checkpoint after its commit. By then almost every frame has been copied and synced, so it
//! costs little more than the two fsyncs, and it bounds the WAL's size. (The writer learns the
//! length from the file's size, one `stat` per commit: `journal_size_limit` truncates the
//! file to the bound whenever the WAL starts again, so a longer file means it has not started
//! again since.)
use rusqlite::Connection;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long the thread waits after being woken, so that one checkpoint serves the commits of
/// a burst (each checkpoint that copies anything pays two fsyncs). At 20 ms a server answering
/// audited reads checkpointed the audit file after nearly every fold of the audit journal
/// (dozens a second), its fsyncs ~2% of the CPU; the frames a checkpoint copies are the same
/// either way, and the WAL's bound (see the module comment) does not depend on this.
const GATHER: Duration = Duration::from_millis(250);

pub(crate) struct Checkpointer {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    pending: bool,
    stop: bool,
}

impl Checkpointer {
    /// Starts the thread. `conn` has every file attached under `schemas`.
    pub(crate) fn start(conn: Connection, schemas: Vec<String>) -> std::io::Result<Arc<Checkpointer>> {
        let me = Arc::new(Checkpointer { state: Mutex::default(), wake: Condvar::new() });
        let worker = me.clone();
        std::thread::Builder::new()
            .name("lantern-checkpoint".into())
            .spawn(move || worker.run(conn, schemas))?;
        Ok(me)
    }

    fn run(&self, conn: Connection, schemas: Vec<String>) {
        loop {
            {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                while !s.pending && !s.stop {
                    s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                if s.stop {
                    return;
                }
            }
            {
                // Gathers, unless told to stop meanwhile (the store is closing).
                let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let (mut s, _) =
                    self.wake.wait_timeout_while(s, GATHER, |s| !s.stop).unwrap_or_else(|p| p.into_inner());
                if s.stop {
                    return;
                }
                s.pending = false;
            }
            for schema in &schemas {
                // A failure is left for the next round or the writer's RESTART; the data is
                // safe in the WAL meanwhile.
                let _ = conn.query_row(&format!("PRAGMA {schema}.wal_checkpoint(PASSIVE)"), [], |_| Ok(()));
            }
        }
    }

    /// Called after each commit.
    pub(crate) fn nudge(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.pending {
            s.pending = true;
            self.wake.notify_one();
        }
    }

    pub(crate) fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        self.wake.notify_one();
    }
}
