//! The writer: one thread that owns the write connection and commits in groups.
//!
//! Each job (one interaction, or one whole transaction bundle) runs inside its own SAVEPOINT
//! when other jobs' work precedes it in the transaction, so a failing job rolls back alone (a
//! failing job with nothing before it rolls the transaction back, and a new one starts for the
//! jobs after it). All the jobs that queued while the previous commit was flushing share one
//! COMMIT, so one fsync serves many writers. A job's reply is sent only after its commit is
//! durable: nothing is acknowledged that a crash could lose.
use crate::catalog::{Catalog, Pending};
use crate::clock::Clock;
use crate::conn::Conn;
use crate::error::StoreError;
use crate::sql::write::{Hooks, Installed, WriteTx};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;

/// What a job hands back once it has run: called with the commit's outcome.
pub(crate) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job is given its transaction, or the error that kept it from getting one; it returns
/// whether its work succeeded (else its savepoint is rolled back) and what to do at commit.
pub(crate) type Job = Box<dyn FnOnce(Result<&mut WriteTx<'_>, StoreError>) -> (bool, Finish) + Send>;

/// Most jobs folded into one commit; bounds the latency a large group adds.
const MAX_GROUP: usize = 256;

pub(crate) fn spawn(
    mut conn: Box<dyn Conn>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    hooks: Hooks,
) -> Result<Sender<Job>, StoreError> {
    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
    std::thread::Builder::new()
        .name("lantern-writer".into())
        .spawn(move || run(&mut *conn, &catalog, &*clock, &hooks, rx))
        .map_err(StoreError::db)?;
    Ok(tx)
}

fn run(conn: &mut dyn Conn, catalog: &Catalog, clock: &dyn Clock, hooks: &Hooks, rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        // Hooks are read once per group: one that is installed mid-group applies from the next.
        let installed = hooks.read().clone();
        commit_group(conn, catalog, clock, &installed, group);
    }
}

/// How the writer opens a transaction. On SQLite, `BEGIN IMMEDIATE`: a deferred transaction
/// that reads before it writes cannot take the write lock if another process committed in
/// between (`SQLITE_BUSY_SNAPSHOT`, which the busy timeout does not wait out), so a command run
/// beside the server that wrote once made a job fail with "database is locked"; taking the lock
/// first waits for the other writer instead. The writer is the process's only one, so nothing
/// in the process waits for it.
fn begin(conn: &dyn Conn) -> &'static str {
    match conn.dialect() {
        crate::conn::Dialect::Sqlite => "BEGIN IMMEDIATE",
        crate::conn::Dialect::Postgres => "BEGIN",
    }
}

fn commit_group(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    clock: &dyn Clock,
    installed: &Installed,
    group: Vec<Job>,
) {
    let mut jobs = group.into_iter();
    if let Err(e) = conn.batch(begin(conn)) {
        jobs.for_each(|job| fail_job(job, &e));
        return;
    }
    let mut finishes: Vec<Finish> = Vec::with_capacity(jobs.len());
    let mut committed = Pending::default();
    while let Some(job) = jobs.next() {
        // A job with no successful work before it in the transaction needs no savepoint: if
        // it fails, the whole transaction rolls back and a new one starts for the rest. Under
        // a savepoint SQLite copies every page a job first touches into its sub-journal (with
        // the allocations and frees, about a tenth of the writer's time in `perf` during
        // `bench ingest`), so this spares the first job of every group, and groups of one job
        // entirely (most groups of a quiet server, every audit-only group).
        let bare = finishes.is_empty();
        if !bare {
            if let Err(e) = conn.batch("SAVEPOINT job") {
                fail_job(job, &e);
                continue;
            }
        }
        let mut wtx = WriteTx::new(&mut *conn, catalog, clock, &installed.hooks, &installed.extensions);
        let (ok, finish) = job(Ok(&mut wtx));
        let pending = std::mem::take(&mut wtx.pending);
        if ok {
            if !bare {
                let _ = conn.batch("RELEASE SAVEPOINT job");
            }
            committed.absorb(pending);
            finishes.push(finish);
            continue;
        }
        if !bare {
            let _ = conn.batch("ROLLBACK TO SAVEPOINT job");
            let _ = conn.batch("RELEASE SAVEPOINT job");
        } else {
            let _ = conn.batch("ROLLBACK");
        }
        // The job already holds its own error; the commit outcome does not change it.
        finish(Ok(()));
        if !bare {
            continue;
        }
        // Nothing is left of this transaction: start another for the jobs after this one.
        if jobs.len() == 0 {
            return;
        }
        if let Err(e) = conn.batch(begin(conn)) {
            jobs.for_each(|job| fail_job(job, &e));
            return;
        }
    }
    commit(conn, catalog, committed, finishes);
}

/// Commits the group and tells each job's waiter the outcome.
fn commit(conn: &mut dyn Conn, catalog: &Catalog, committed: Pending, finishes: Vec<Finish>) {
    match conn.batch("COMMIT") {
        Ok(()) => {
            catalog.commit(committed);
            for f in finishes {
                f(Ok(()));
            }
        }
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            for f in finishes {
                f(Err(StoreError::Database(format!("commit failed: {e}"))));
            }
        }
    }
}

/// A job that cannot run: its waiter is told why.
fn fail_job(job: Job, e: &StoreError) {
    let (_, finish) = job(Err(StoreError::Database(format!("could not start the write: {e}"))));
    finish(Ok(()));
}
