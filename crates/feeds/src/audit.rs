//! The audit record of a feed's writes. A message or import unit is audited inside the store job
//! that applies it (with its inbox row), so what a source system changed is in the hash-chained
//! log exactly when the change is: the agent is the feed and its organisation, the query names
//! the message (`feed#control-id`), and the patients and resources are those written.
use lantern_audit::{Action, Agent, Entry};
use lantern_service::{AuditedWrite, WriteAudit};
use lantern_store::{StoreError, WriteTx};

pub(crate) struct FeedAudit {
    pub feed: String,
    pub org: Option<String>,
    pub control_id: String,
}

impl WriteAudit for FeedAudit {
    fn record(&self, tx: &mut WriteTx<'_>, _action: &str, writes: &[AuditedWrite]) -> Result<(), StoreError> {
        let mut patients: Vec<&str> = writes.iter().filter_map(|w| w.patient.as_deref()).collect();
        patients.sort_unstable();
        patients.dedup();
        let mut entry = Entry::new(Action::FeedMessage, Agent::feed(self.feed.clone(), self.org.clone()))
            .at(tx.now_micros())
            .with_query(format!("{}#{}", self.feed, self.control_id))
            .patients(patients.iter())
            .entities(writes.iter().take(lantern_audit::MAX_ENTITIES).map(|w| w.reference.clone()));
        entry.more_entities = writes.len().saturating_sub(lantern_audit::MAX_ENTITIES) as u64;
        lantern_audit::append(tx, &[entry]).map(|_| ())
    }
}
