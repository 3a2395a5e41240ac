//! Replaying a dead letter once its cause is fixed (a feed's mapping corrected, a referenced
//! resource now present): the stored message goes through the same path again, and on success
//! its inbox row becomes `processed` in the same store job as the writes, so a replay is
//! itself exactly once. A replay that fails again keeps the dead letter, with the new reason.
use crate::ingest::{reason_of, service_issues};
use crate::{config, FeedError, FeedSpec, Feeds};
use lantern_hl7v2::map::map_message;
use lantern_hl7v2::Severity;
use lantern_store::inbox::{DEAD, PROCESSED};
use lantern_store::NewInbox;
use serde_json::{json, Value};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The result of a successful replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub seq: i64,
    pub feed: String,
}

impl Feeds {
    /// Replays dead letter `seq`.
    pub async fn replay(&self, seq: i64) -> Result<Replayed, FeedError> {
        let store = &self.fhir().store;
        // Opened beside a running server, which holds the audit log: the replay would fail at
        // its audit record and must not rewrite the dead letter's reason with that.
        if let Some(e) = store.extension::<lantern_audit::journal::Elsewhere>() {
            return Err(FeedError::Failed(e.0.clone()));
        }
        let e = store
            .inbox_get(seq)
            .await?
            .ok_or_else(|| FeedError::NotFound(format!("no inbox entry {seq}")))?;
        if e.status != DEAD {
            return Err(FeedError::Failed(format!("inbox entry {seq} is {}, not a dead letter", e.status)));
        }
        let before = e.detail.clone().unwrap_or_default();
        let (bundle, merges) = if e.kind == "hl7v2" {
            let (msg, mut issues) = lantern_hl7v2::parse(&e.raw);
            let feed = match self.feed(&e.feed) {
                Some(f) => f,
                None if e.feed.starts_with(config::DEFAULT_PREFIX) => {
                    let fac =
                        msg.header().and_then(|h| h.sending_facility_hd()).map(|r| r.get(1).to_string());
                    Arc::new(FeedSpec::default_for(&fac.unwrap_or_default()).config)
                }
                None => return Err(FeedError::Config(format!("feed '{}' is not configured", e.feed))),
            };
            match map_message(&msg, &feed) {
                Ok((m, more)) => {
                    issues.extend(more);
                    if issues.iter().any(|i| i.severity == Severity::Error) {
                        return self.still_dead(seq, "AE", reason_of(&issues)).await;
                    }
                    (m.bundle, m.merges)
                }
                Err(m) => return self.still_dead(seq, "AR", m.to_string()).await,
            }
        } else {
            (
                serde_json::from_slice::<Value>(&e.raw).map_err(|x| FeedError::Failed(x.to_string()))?,
                Vec::new(),
            )
        };
        let detail = json!({"replayed": true, "was": before}).to_string();
        let dummy = NewInbox {
            feed: e.feed.clone(),
            control_id: e.control_id.clone(),
            hash: e.hash.clone(),
            kind: e.kind.clone(),
            received: e.received,
            raw: Vec::new(),
            status: PROCESSED.into(),
            detail: None,
        };
        match self.apply(bundle, merges, dummy, Some((seq, detail)), Arc::new(AtomicBool::new(false))).await {
            Ok(_) => Ok(Replayed { seq, feed: e.feed }),
            Err(err) => {
                let issues = service_issues(&err);
                self.still_dead(seq, "AE", reason_of(&issues)).await
            }
        }
    }

    async fn still_dead(&self, seq: i64, outcome: &str, reason: String) -> Result<Replayed, FeedError> {
        let detail = json!({"outcome": outcome, "reason": reason}).to_string();
        self.fhir().store.write(move |tx| tx.inbox_set_status(seq, DEAD, Some(&detail))).await?;
        Err(FeedError::Failed(format!("still failing: {reason}")))
    }
}
