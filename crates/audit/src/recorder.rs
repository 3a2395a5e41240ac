//! [`Audit`], the handle the service records through. With a journal installed on the store
//! (SQLite, see [`crate::journal`]) a record is a line written on the caller's thread, and the
//! tables are brought up to date by a write job per [`FOLD_AT`] records and before every read
//! of the log. Without one (PostgreSQL) it turns concurrent `record` calls into as few write
//! jobs as the writer's pace allows (see the crate documentation, "Cost").
use crate::chain::append_access;
use crate::entry::Entry;
use crate::journal::{Journal, BACKLOG, FOLD_AT};
use crate::read::{list, who_looked, Look, Page, Query, Record};
use crate::verify::{verify, Anchor, VerifyReport};
use lantern_store::{Store, StoreError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The audit log over a store: cheap to clone, one per process (clones share one queue).
#[derive(Clone)]
pub struct Audit {
    store: Store,
    queue: Arc<Mutex<Queue>>,
    journal: Option<Arc<Journal>>,
    /// Set when another process holds the journal: every record fails (see
    /// [`crate::journal::install_or_read_only`]).
    elsewhere: Option<Arc<crate::journal::Elsewhere>>,
}

/// Entries recorded but not yet taken by a write job, and who waits for them.
#[derive(Default)]
struct Queue {
    entries: Vec<Entry>,
    waiters: Waiters,
    /// A job is queued on the writer and has not drained the queue yet.
    scheduled: bool,
    /// How many times a job has drained the queue.
    drains: u64,
}

type Waiters = Vec<(usize, oneshot::Sender<Result<Vec<i64>, StoreError>>)>;

impl Audit {
    /// The log of `store`, through its journal if one is installed ([`crate::journal::install`]).
    pub fn new(store: Store) -> Audit {
        let journal = store.extension::<Journal>();
        let elsewhere = store.extension::<crate::journal::Elsewhere>();
        Audit { store, queue: Arc::default(), journal, elsewhere }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Appends `entries` (in order, with consecutive seqs) and returns their seqs once they
    /// are committed. An error means they were not recorded: the caller must not go on.
    ///
    /// Calls made while an earlier one waits for the writer join it: one job, one head read
    /// and update, for all of them (measured: concurrent single-record appends cost about
    /// half the writer time they would as separate jobs).
    pub async fn record(&self, entries: Vec<Entry>) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(e) = &self.elsewhere {
            return Err(StoreError::Unavailable(e.0.clone()));
        }
        if let Some(j) = &self.journal {
            // A write of a few hundred bytes to the page cache: microseconds, so it runs here
            // rather than on a blocking thread (whose hand-off would cost more).
            let done = j.append(&entries, self.store.now_micros())?;
            if done.unfolded >= BACKLOG {
                self.fold(false).await?;
            } else if done.unfolded >= FOLD_AT {
                j.fold_soon();
            }
            return Ok(done.seqs);
        }
        let (tx, rx) = oneshot::channel();
        let schedule = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.waiters.push((entries.len(), tx));
            q.entries.extend(entries);
            (!std::mem::replace(&mut q.scheduled, true)).then_some(q.drains)
        };
        if let Some(drains) = schedule {
            self.schedule(drains);
        }
        rx.await.map_err(|_| StoreError::Unavailable("the audit write was abandoned".into()))?
    }

    /// Queues one write job that takes everything recorded until the writer reaches it, and
    /// hands each waiter its seqs from the writer's thread once the group has committed (no
    /// task in between: on a busy server each task hop is a wait in the scheduler's queue).
    /// Records that arrive while the writer is busy wait in the queue for the next job, so
    /// the busier the server, the more records share a commit.
    fn schedule(&self, drains: u64) {
        let queue = self.queue.clone();
        let on_done = self.queue.clone();
        self.store.write_detached(
            move |tx| {
                let (entries, waiters) = {
                    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                    q.scheduled = false;
                    q.drains += 1;
                    (std::mem::take(&mut q.entries), std::mem::take(&mut q.waiters))
                };
                match append_access(tx, &entries) {
                    Ok(seqs) => Ok((seqs, waiters)),
                    Err(e) => {
                        fail(waiters, &e);
                        Err(e)
                    }
                }
            },
            move |outcome| match outcome {
                Ok((seqs, waiters)) => hand_out(seqs, waiters),
                Err(e) => {
                    // A job that never ran (the writer could not start a transaction, or has
                    // stopped) left the queue undrained: fail its waiters and let the next
                    // record schedule afresh. (After a failed commit the waiters were dropped
                    // with the job's result, and each sees its write abandoned: an error too.)
                    let mut q = on_done.lock().unwrap_or_else(|p| p.into_inner());
                    if q.scheduled && q.drains == drains {
                        q.scheduled = false;
                        q.entries.clear();
                        fail(std::mem::take(&mut q.waiters), &e);
                    }
                }
            },
        );
    }

    /// Brings the tables and their patient index up to date with the journal (if any), so
    /// that a read of them sees every record appended before this call.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.fold(true).await
    }

    /// Folds the journal's records into the tables (and their index rows if `index`, or if
    /// enough wait; see [`crate::journal`]).
    async fn fold(&self, index: bool) -> Result<(), StoreError> {
        let Some(j) = self.journal.as_ref() else { return Ok(()) };
        if j.unfolded() == 0 && (!index || j.unindexed() == 0) {
            return Ok(());
        }
        let jj = j.clone();
        let done = self.store.write(move |tx| jj.fold(tx, index)).await?;
        j.folded(done);
        Ok(())
    }

    /// How many write jobs have written records to the tables so far (for `lantern bench
    /// trust`, which reports records per commit).
    pub fn commits(&self) -> u64 {
        match &self.journal {
            Some(j) => j.folds(),
            None => self.queue.lock().map(|q| q.drains).unwrap_or(0),
        }
    }

    /// With a journal: the writer time of the folds its appends queued (for `lantern bench
    /// trust`).
    pub fn fold_time(&self) -> Option<crate::journal::FoldTime> {
        self.journal.as_ref().map(|j| j.fold_time())
    }

    /// Appends one entry; returns its seq.
    pub async fn record_one(&self, entry: Entry) -> Result<i64, StoreError> {
        let seqs = self.record(vec![entry]).await?;
        seqs.first().copied().ok_or_else(|| StoreError::Database("no audit seq returned".into()))
    }

    /// Verifies the whole log (see [`verify()`]).
    pub async fn verify(&self, expect_head: Option<Anchor>) -> Result<VerifyReport, StoreError> {
        self.flush().await?;
        let journal = self.journal.as_ref().map(|j| j.path().to_path_buf());
        self.store.with_reader(move |c, _| verify(c, expect_head.as_ref(), journal.as_deref())).await
    }

    /// A page of records (see [`crate::read::list`]).
    pub async fn list(&self, q: Query) -> Result<Page<Record>, StoreError> {
        self.flush().await?;
        self.store.with_reader(move |c, _| list(c, &q)).await
    }

    /// A page of the patient-facing list (see [`crate::read::who_looked`]).
    pub async fn who_looked(
        &self,
        patients: Vec<String>,
        before_seq: Option<i64>,
        count: usize,
    ) -> Result<Page<Look>, StoreError> {
        self.flush().await?;
        self.store.with_reader(move |c, _| who_looked(c, &patients, before_seq, count)).await
    }
}

fn fail(waiters: Waiters, e: &StoreError) {
    for (_, w) in waiters {
        let _ = w.send(Err(StoreError::Database(format!("audit append failed: {e}"))));
    }
}

/// Gives each waiter its own entries' seqs, in the order they were queued.
fn hand_out(seqs: Vec<i64>, waiters: Waiters) {
    let mut rest = seqs.as_slice();
    for (n, w) in waiters {
        let (mine, later) = rest.split_at(n.min(rest.len()));
        rest = later;
        let _ = w.send(Ok(mine.to_vec()));
    }
}
