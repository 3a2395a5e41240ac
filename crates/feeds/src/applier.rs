//! The receive queue's applier: takes queued messages into the store in the order received
//! (see [`crate::queue`]), up to [`APPLIERS`] at once, one at a time per patient.
use crate::ids::content_hash;
use crate::ingest::{map_checked, outcome_str, reason_of, service_issues};
use crate::queue::{Job, Queue, APPLIERS};
use crate::queue_file::{older_path, Frame, QueueFile, QueueLock};
use crate::{FeedError, Feeds, Inner};
use lantern_hl7v2::map::Mapped;
use lantern_store::inbox::{DEAD, PROCESSED};
use lantern_store::{NewInbox, StoreError};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};

/// Longest wait between attempts while the store is unavailable.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

impl Feeds {
    /// Opens the receive queue at `path` (see [`crate::queue_file`]; `sync` makes every append
    /// survive power loss too) and starts its applier. Messages left in it by an earlier run
    /// are applied first, in order; those already applied are recognised and skipped. Returns
    /// how many were found. Feeds with `ack = "received"` use it from now on.
    pub async fn start_queue(&self, path: &Path, sync: bool) -> Result<usize, FeedError> {
        let failed = |e: crate::queue_file::QueueFileError| FeedError::Failed(e.to_string());
        let lock = QueueLock::take(path).map_err(failed)?;
        // A segment set aside before a crash holds the oldest frames.
        let older = older_path(path);
        let old_frames = match older.exists() {
            true => QueueFile::open(&older, sync).map_err(failed)?.1,
            false => Vec::new(),
        };
        let (file, frames) = QueueFile::open(path, sync).map_err(failed)?;
        if old_frames.is_empty() && older.exists() {
            std::fs::remove_file(&older)
                .map_err(|e| FeedError::Failed(format!("{}: {e}", older.display())))?;
        }
        let kept = (!old_frames.is_empty()).then(|| (older.clone(), old_frames.len() as u64));
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Queue::new(lock, file, kept, tx));
        if self.inner.queue.set(queue.clone()).is_err() {
            return Err(FeedError::Config("the feeds queue is already open".into()));
        }
        let found = old_frames.len() + frames.len();
        if found > 0 {
            tracing::info!(path = %path.display(), found, "applying the messages left in the feeds queue");
        }
        for (segment, f) in old_frames.into_iter().map(|f| (0, f)).chain(frames.into_iter().map(|f| (1, f))) {
            queue.requeue(recovered(f, segment));
        }
        let inner = Arc::downgrade(&self.inner);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FeedError::Failed(format!("cannot start the feeds applier: {e}")))?;
        std::thread::Builder::new()
            .name("lantern-applier".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(run(inner, rx));
            })
            .map_err(|e| FeedError::Failed(format!("cannot start the feeds applier: {e}")))?;
        Ok(found)
    }

    /// Messages acknowledged on receipt and not yet applied (0 without a queue).
    pub fn queued(&self) -> u64 {
        self.inner.queue.get().map_or(0, |q| q.outstanding())
    }

    /// Waits until every message acknowledged on receipt has been applied or dead-lettered.
    pub async fn queue_drained(&self) {
        if let Some(q) = self.inner.queue.get() {
            q.drained().await;
        }
    }

    /// Applies one queued message, or keeps it as a dead letter; waits and tries again while
    /// the store is unavailable, since the message was acknowledged and must not be lost.
    async fn apply_queued(&self, job: Job) {
        let Job { mut record, mapped, .. } = job;
        let mut mapped = mapped;
        let mut wait = Duration::from_millis(100);
        loop {
            let m = match mapped.take() {
                Some(m) => Ok(m),
                None => self.map_again(&record),
            };
            let (outcome, reason) = match m {
                Err(why) => why,
                Ok(m) => {
                    let mut rec = record.clone();
                    if !m.merges.is_empty() {
                        rec.detail = Some(json!({"merges": m.merges}).to_string());
                    }
                    let dup = Arc::new(AtomicBool::new(false));
                    match self.apply(m.bundle, m.merges, rec, None, dup.clone()).await {
                        Ok(_) => return,
                        // Applied before (a crash left its frame in the file, or it was
                        // sent again): nothing to do, unless what is there is a dead letter.
                        Err(_) if dup.load(Ordering::Relaxed) => {
                            let store = &self.fhir().store;
                            let found =
                                store.inbox_find(&record.feed, &record.control_id, &record.hash).await;
                            if let Ok(Some(e)) =
                                found.as_ref().map(|e| e.as_ref().filter(|e| e.status == DEAD))
                            {
                                tracing::warn!(feed = %record.feed, control_id = %record.control_id, seq = e.seq,
                                    "a re-sent message matches a dead letter and is not applied again: replay it once its cause is fixed");
                            }
                            return;
                        }
                        Err(lantern_service::Error::Store(StoreError::Unavailable(e))) => {
                            tracing::error!(feed = %record.feed, control_id = %record.control_id,
                                "queued message not applied yet, the store is unavailable: {e}");
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(MAX_RETRY_WAIT);
                            continue;
                        }
                        Err(e) => ("AE", reason_of(&service_issues(&e))),
                    }
                }
            };
            record.status = DEAD.into();
            record.detail =
                Some(json!({"outcome": outcome, "reason": reason, "acknowledged": "on receipt"}).to_string());
            match self.dead_letter(record.clone()).await {
                Ok(seq) => {
                    tracing::warn!(feed = %record.feed, seq, "queued message dead-lettered after its ACK: {reason}");
                    return;
                }
                Err(e) => {
                    tracing::error!(feed = %record.feed, "queued message not dead-lettered yet: {e}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_WAIT);
                }
            }
        }
    }

    /// Keeps a message whose applying panicked (a defect: no input should make Lantern panic)
    /// as a dead letter, so that an acknowledged message is still listed and can be replayed
    /// once the defect is fixed.
    async fn dead_after_panic(&self, mut record: NewInbox, why: &str) {
        tracing::error!(feed = %record.feed, control_id = %record.control_id, "applying a queued message panicked: {why}");
        record.status = DEAD.into();
        let reason = format!("Lantern failed while applying it (a defect, please report it): {why}");
        record.detail =
            Some(json!({"outcome": "AE", "reason": reason, "acknowledged": "on receipt"}).to_string());
        if let Err(e) = self.dead_letter(record.clone()).await {
            tracing::error!(feed = %record.feed, control_id = %record.control_id,
                "the message whose applying panicked could not be dead-lettered either ({e}): it is applied again at the next start while the queue file holds it");
        }
    }

    /// Parses and maps a queued message again (its bundle was not kept, or this is start-up).
    fn map_again(&self, record: &NewInbox) -> Result<Mapped, (&'static str, String)> {
        let Some(feed) = self.feed(&record.feed) else {
            return Err(("AR", format!("feed '{}' is no longer configured", record.feed)));
        };
        let (msg, issues) = lantern_hl7v2::parse(&record.raw);
        match map_checked(&msg, &feed, issues) {
            (Some(m), _, _) => Ok(m),
            (None, outcome, issues) => Err((outcome_str(outcome), reason_of(&issues))),
        }
    }
}

/// A frame found in the queue file at start-up, as a job for the applier.
fn recovered(f: Frame, segment: u64) -> Job {
    let (msg, _) = lantern_hl7v2::parse(&f.raw);
    let control_id = msg.header().map(|h| h.control_id().to_string()).unwrap_or_default();
    let turn = crate::order::patient_key(&f.feed, &msg);
    let record = NewInbox {
        feed: f.feed,
        control_id,
        hash: content_hash(&f.raw),
        kind: "hl7v2".into(),
        received: f.received,
        raw: f.raw,
        status: PROCESSED.into(),
        detail: None,
    };
    Job { record, turn, mapped: None, segment }
}

/// The applier works on a thread of its own at a lower CPU priority: when the machine is busy,
/// accepting and acknowledging messages (latency a sender waits on) and serving reads go first,
/// and applying (throughput, already promised) takes the rest. On one shared runtime the
/// applier's tasks queued ahead of ACKs and stretched their tail (p99 41 ms at 2,500/s).
fn lower_priority() {
    // On Linux the nice value is per thread, and "the current process" (no pid) in
    // setpriority names the calling thread; raising one's own needs no privilege.
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::warn!("the feeds applier keeps normal CPU priority: {e}");
    }
}

/// Takes jobs in queue order: each waits for its patient's turn, then for one of the
/// [`APPLIERS`] slots, and is applied on a task of its own. Ends when the feeds service is
/// dropped.
async fn run(inner: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let slots = Arc::new(Semaphore::new(APPLIERS));
    while let Some(job) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let feeds = Feeds { inner };
        let turn = match &job.turn {
            Some(k) => Some(feeds.inner.order.lock_owned(k).await),
            None => None,
        };
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let done = feeds.inner.queue.get().map(|q| Done(q.clone(), job.key(), job.segment));
        let record = job.record.clone();
        tokio::spawn(async move {
            let applying = tokio::spawn({
                let feeds = feeds.clone();
                async move { feeds.apply_queued(job).await }
            });
            if let Err(e) = applying.await {
                if e.is_panic() {
                    feeds.dead_after_panic(record, &panic_reason(e.into_panic())).await;
                }
            }
            drop((turn, slot, done));
        });
    }
}

/// What a panic said, for the dead letter.
fn panic_reason(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "an unexplained panic".into(), |s| s.to_string()),
    }
}

/// Tells the queue a message is finished with when dropped, so that nothing (not even a task
/// that panicked, whose message is dead-lettered) leaves the count of outstanding messages,
/// and whoever waits for it to drain, stuck.
struct Done(Arc<Queue>, crate::queue::Key, u64);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done(&self.1, self.2);
    }
}

#[cfg(test)]
mod tests {
    use super::panic_reason;

    #[test]
    fn a_panic_says_why_for_the_dead_letter() {
        let said = |f: fn()| panic_reason(std::panic::catch_unwind(f).unwrap_err());
        assert_eq!(said(|| panic!("index out of range")), "index out of range");
        assert_eq!(said(|| panic!("{} of {}", 3, 2)), "3 of 2");
        assert_eq!(said(|| std::panic::panic_any(7)), "an unexplained panic");
    }
}
