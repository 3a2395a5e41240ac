//! Per-patient ordering: messages about one patient are applied one at a time, in the order
//! they were received. A fixed array of fair (FIFO) async locks is indexed by a hash of the
//! patient key (PID-3), so unrelated patients proceed in parallel and memory stays bounded; two
//! patients sharing a stripe merely wait for each other.
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

pub struct PatientOrder {
    stripes: Vec<Arc<Mutex<()>>>,
}

impl PatientOrder {
    pub fn new(n: usize) -> PatientOrder {
        PatientOrder { stripes: (0..n.max(1)).map(|_| Arc::new(Mutex::new(()))).collect() }
    }

    fn stripe(&self, key: &str) -> &Arc<Mutex<()>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        &self.stripes[(h.finish() % self.stripes.len() as u64) as usize]
    }

    /// Waits for the turn of `key` (tokio's mutex queues waiters in arrival order).
    pub async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        self.stripe(key).lock().await
    }

    /// As [`PatientOrder::lock`], for a turn handed on to another task.
    pub async fn lock_owned(&self, key: &str) -> OwnedMutexGuard<()> {
        self.stripe(key).clone().lock_owned().await
    }
}

/// The ordering key of an HL7 v2 message: its feed and the identifiers of PID-3, else of
/// MRG-1 (merges), else none (no patient: no ordering constraint beyond the connection's).
pub(crate) fn patient_key(feed: &str, msg: &lantern_hl7v2::Message) -> Option<String> {
    let pid3 = msg.segment("PID").map(|s| s.value(3)).filter(|v| !v.is_empty());
    let id = pid3.or_else(|| msg.segment("MRG").map(|s| s.value(1)).filter(|v| !v.is_empty()))?;
    Some(format!("{feed}|{id}"))
}
