//! Acknowledge on receipt: a feed whose transport says `ack = "received"` has each good
//! message written to the receive queue ([`crate::queue_file`]) and acknowledged at once; an
//! applier takes the queue into the store in the order received.
//!
//! This is how integration engines usually run a high-volume feed (InterSystems' "immediate"
//! ACK mode, Rhapsody and Mirth acknowledging after their own store): the sender's queue
//! drains at the speed of a file append instead of the speed of the whole mapping and
//! matching pipeline, and what HL7 v2 calls a commit acknowledgement (enhanced mode CA:
//! "committed to safe storage") is exactly what is sent. What does not change:
//! - Parsing and mapping still happen before the ACK, so a message that cannot be parsed or
//!   mapped is still dead-lettered and answered AE/AR.
//! - A message that fails later, when applied (rare: a store constraint, a merge that cannot
//!   be made), is kept as a dead letter with the reason, listed and replayable like any other;
//!   the sender was told AA, so the dead-letter list is where it shows.
//! - Per-patient order: messages are queued under one lock in the order received, and the
//!   applier takes each patient's turn lock ([`crate::order`]) in queue order before applying.
//! - Exactly once: after a crash every frame still in the file is applied again; the inbox
//!   key (feed, control id, content hash) makes those already applied no-ops.
//!
//! Bounded: past [`MAX_OUTSTANDING`] unapplied messages an ACK waits for room, so a sender
//! faster than the applier for long is slowed to its pace instead of growing memory and file
//! without end. Only the first [`KEEP_MAPPED`] outstanding messages keep their mapped bundle
//! in memory; later ones are mapped again when applied. The file is emptied whenever everything
//! is applied; a queue that does not drain for long has its file set aside past [`ROTATE_AT`]
//! and removed once the messages in it are applied, so disk use stays bounded too.
use crate::queue_file::{older_path, Frame, QueueFile, QueueLock};
use lantern_hl7v2::map::Mapped;
use lantern_store::NewInbox;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::{mpsc, Notify};

/// Unapplied messages past which an ACK waits.
pub const MAX_OUTSTANDING: u64 = 100_000;
/// Unapplied messages up to which the mapped bundle is kept for the applier.
const KEEP_MAPPED: u64 = 4_096;
/// Once everything is applied, a file larger than this is emptied (smaller ones are left, to
/// save a truncate per message on a quiet feed; start-up skips their frames as duplicates).
const CLEAR_AT: u64 = 4 << 20;
/// A segment past this size is set aside (renamed, see [`older_path`]) and a new one started, so
/// that a queue which never drains (a sender faster than the applier for hours) does not grow
/// one file without end; the set-aside one is deleted once every message in it is applied.
const ROTATE_AT: u64 = 64 << 20;
/// Messages applied at once by the applier (different patients; one patient's wait in turn).
pub(crate) const APPLIERS: usize = 16;

/// Which messages a feed acknowledges before they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckWhen {
    /// After the message is applied (or dead-lettered): the ACK reports the outcome.
    #[default]
    Applied,
    /// After the message is parsed, mapped and written to the receive queue.
    Received,
}

impl std::str::FromStr for AckWhen {
    type Err = String;
    fn from_str(s: &str) -> Result<AckWhen, String> {
        match s {
            "applied" => Ok(AckWhen::Applied),
            "received" => Ok(AckWhen::Received),
            other => Err(format!("ack must be 'applied' or 'received', not '{other}'")),
        }
    }
}

/// A message's inbox key: feed, control id, content hash.
pub(crate) type Key = (String, String, String);

/// One queued message on its way to the applier.
pub(crate) struct Job {
    pub(crate) record: NewInbox,
    /// The patient-order key ([`crate::order::patient_key`]).
    pub(crate) turn: Option<String>,
    /// The bundle mapped at receipt, if kept.
    pub(crate) mapped: Option<Mapped>,
    /// The segment its frame is in (set when queued).
    pub(crate) segment: u64,
}

impl Job {
    pub(crate) fn key(&self) -> Key {
        (self.record.feed.clone(), self.record.control_id.clone(), self.record.hash.clone())
    }
}

struct State {
    file: QueueFile,
    /// Id of the current segment; the set-aside one, if any, is the one before.
    segment: u64,
    /// The set-aside segment and how many of its messages are not yet applied.
    older: Option<(PathBuf, u64)>,
    tx: mpsc::UnboundedSender<Job>,
    outstanding: u64,
    pending: HashSet<Key>,
    rotate_at: u64,
}

/// The receive queue of a running server.
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Woken when a message has been applied (room for a waiting ACK, or the queue drained).
    progress: Notify,
    _lock: QueueLock,
}

/// What [`Queue::accept`] did.
pub(crate) enum Accepted {
    Queued,
    /// The same message is already queued and not yet applied.
    AlreadyQueued,
}

impl Queue {
    /// The queue over its current segment `file` and, if one was set aside and still holds
    /// messages, `older` (its path and how many frames it holds; they must be requeued with
    /// segment 0). The current segment is segment 1.
    pub(crate) fn new(
        lock: QueueLock,
        file: QueueFile,
        older: Option<(PathBuf, u64)>,
        tx: mpsc::UnboundedSender<Job>,
    ) -> Queue {
        Queue {
            state: Mutex::new(State {
                file,
                segment: 1,
                older,
                tx,
                outstanding: 0,
                pending: HashSet::new(),
                rotate_at: ROTATE_AT,
            }),
            progress: Notify::new(),
            _lock: lock,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Messages queued and not yet applied.
    pub(crate) fn outstanding(&self) -> u64 {
        self.state().outstanding
    }

    /// Hands a frame already in the file (found at start-up) to the applier.
    pub(crate) fn requeue(&self, job: Job) {
        let mut st = self.state();
        st.pending.insert(job.key());
        st.outstanding += 1;
        let _ = st.tx.send(Job { mapped: None, ..job });
    }

    /// Makes a message durable in the queue and hands it to the applier. When this returns
    /// `Queued`, the message survives the process being killed and may be acknowledged.
    pub(crate) async fn accept(&self, mut job: Job) -> std::io::Result<Accepted> {
        loop {
            let progress = self.progress.notified();
            if self.outstanding() < MAX_OUTSTANDING {
                break;
            }
            progress.await;
        }
        let key = job.key();
        let mut st = self.state();
        if st.pending.contains(&key) {
            return Ok(Accepted::AlreadyQueued);
        }
        let r = &job.record;
        st.file.append(&Frame { feed: r.feed.clone(), received: r.received, raw: r.raw.clone() })?;
        st.pending.insert(key);
        st.outstanding += 1;
        if st.outstanding > KEEP_MAPPED {
            job.mapped = None;
        }
        job.segment = st.segment;
        let _ = st.tx.send(job);
        if st.file.len() > st.rotate_at && st.older.is_none() {
            // Every outstanding message is in the current segment (there is no older one).
            let to = older_path(st.file.path());
            match st.file.rotate(&to) {
                Ok(()) => {
                    st.older = Some((to, st.outstanding));
                    st.segment += 1;
                }
                Err(e) => {
                    tracing::error!(path = %to.display(), "could not set the feeds queue segment aside: {e}")
                }
            }
        }
        Ok(Accepted::Queued)
    }

    /// The applier is done with a message (applied, found applied before, or dead-lettered).
    pub(crate) fn done(&self, key: &Key, segment: u64) {
        let mut st = self.state();
        st.pending.remove(key);
        st.outstanding = st.outstanding.saturating_sub(1);
        if segment != st.segment {
            if let Some((path, left)) = &mut st.older {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    if let Err(e) = std::fs::remove_file(&*path) {
                        tracing::error!(path = %path.display(), "could not remove an applied feeds queue segment: {e}");
                    }
                    st.older = None;
                }
            }
        }
        if st.outstanding == 0 && st.file.len() > CLEAR_AT {
            if let Err(e) = st.file.clear() {
                tracing::error!(path = %st.file.path().display(), "could not empty the feeds queue: {e}");
            }
        }
        drop(st);
        self.progress.notify_waiters();
    }

    /// Waits until every queued message has been applied.
    pub(crate) async fn drained(&self) {
        loop {
            let progress = self.progress.notified();
            if self.outstanding() == 0 {
                return;
            }
            progress.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue_file::{decode, QUEUE_FILE};

    fn job(n: usize) -> Job {
        let record = NewInbox {
            feed: "f".into(),
            control_id: format!("C{n}"),
            hash: format!("h{n}"),
            kind: "hl7v2".into(),
            received: 0,
            raw: vec![b'x'; 100],
            status: "processed".into(),
            detail: None,
        };
        Job { record, turn: None, mapped: None, segment: 0 }
    }

    #[tokio::test]
    async fn a_full_segment_is_set_aside_and_removed_once_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(QUEUE_FILE);
        let lock = QueueLock::take(&path).unwrap();
        let (file, _) = QueueFile::open(&path, false).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let q = Queue::new(lock, file, None, tx);
        q.state().rotate_at = 300;
        for n in 0..5 {
            assert!(matches!(q.accept(job(n)).await.unwrap(), Accepted::Queued));
        }
        // Three frames of ~120 bytes passed 300: set aside; the next two went to a new segment.
        let older = older_path(&path);
        assert_eq!(decode(&std::fs::read(&older).unwrap()).frames.len(), 3);
        assert_eq!(decode(&std::fs::read(&path).unwrap()).frames.len(), 2);
        assert!(matches!(q.accept(job(0)).await.unwrap(), Accepted::AlreadyQueued));
        let jobs: Vec<Job> = (0..5).map(|_| rx.try_recv().unwrap()).collect();
        assert_eq!(jobs.iter().map(|j| j.segment).collect::<Vec<_>>(), [1, 1, 1, 2, 2]);
        for j in &jobs[..2] {
            q.done(&j.key(), j.segment);
        }
        assert!(older.exists(), "one of its messages is still unapplied");
        q.done(&jobs[2].key(), jobs[2].segment);
        assert!(!older.exists());
        for j in &jobs[3..] {
            q.done(&j.key(), j.segment);
        }
        assert_eq!(q.outstanding(), 0);
        q.drained().await;
    }
}
