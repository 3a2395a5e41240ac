//! Ingesting one message: parse, route to its feed, dedupe, map, then apply and record it in one
//! store job (or dead-letter it), and build the acknowledgement (HL7 v2 chapter 2.9: original
//! mode AA/AE/AR; enhanced mode CA/CE/CR as MSH-15 asks).
//!
//! Enhanced mode: for a feed that acknowledges when applied, a message is fully processed
//! before its commit ACK is sent, so the commit ACK already reports the outcome (CE/CR with ERR
//! segments on failure); for one that acknowledges on receipt, CA means what the standard says,
//! committed to safe storage (the receive queue), and parse or map failures are still CE/CR.
//! Application ACKs (MSH-16) would go back on a connection to the sender's own listener, which no feed
//! configures yet, so none are sent separately. Lantern always answers on the MLLP
//! connection, though: where MSH-15 asks for no commit ACK (NE, or ER/SU not met), it sends
//! the application ACK (AA/AE/AR) in its place, because MLLP senders block on a reply and
//! MLLP Release 2 reliable delivery needs one; silence would look like a lost message.
use crate::ids::{content_hash, v2_timestamp};
use crate::{FeedError, Feeds, Route};
use lantern_hl7v2::ack::{build_ack, response_ack, AckCode, AckContext, Outcome};
use lantern_hl7v2::map::{map_message, BusinessIdentifier, Mapped, MergeRequest};
use lantern_hl7v2::{ErrorCode, Issue, Message, Severity};
use lantern_service::Ctx;
use lantern_store::inbox::{InboxEntry, DEAD, PROCESSED};
use lantern_store::{NewInbox, StoreError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Applied now.
    Processed,
    /// Seen before (same feed, control id and content); not applied again.
    Duplicate,
    /// Kept as a dead letter with the reason.
    DeadLettered,
    /// Could not even be stored (store unavailable): no ACK, the sender must retry.
    NotStored,
    /// Written to the receive queue and acknowledged; the applier takes it in shortly (a feed
    /// with `ack = "received"`, see [`crate::queue`]).
    Queued,
}

/// The result of [`Feeds::ingest_v2`].
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The ACK to send back, if the sender wants one (and the message was stored).
    pub ack: Option<Vec<u8>>,
    /// MSA-1 of that ACK (or of the one that would have been sent).
    pub code: &'static str,
    pub disposition: Disposition,
    pub feed: String,
    /// The inbox row.
    pub seq: Option<i64>,
}

pub(crate) fn reason_of(issues: &[Issue]) -> String {
    let errors: Vec<String> =
        issues.iter().filter(|i| i.severity == Severity::Error).map(|i| i.to_string()).collect();
    if errors.is_empty() {
        "unknown error".into()
    } else {
        errors.join("; ")
    }
}

pub(crate) fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "AA",
        Outcome::Error => "AE",
        Outcome::Rejected => "AR",
    }
}

/// Maps a parsed message and decides its fate from every issue found so far (`issues`, the
/// parser's) plus the mapping's: any error-level issue, or a mapping that failed outright,
/// means it is not applied (AE, or AR for type, version and header problems). The one rule
/// for a message received and for one mapped again from the receive queue.
pub(crate) fn map_checked(
    msg: &Message,
    feed: &lantern_hl7v2::map::FeedConfig,
    mut issues: Vec<Issue>,
) -> (Option<Mapped>, Outcome, Vec<Issue>) {
    let mapped = match map_message(msg, feed) {
        Ok((m, more)) => {
            issues.extend(more);
            Some(m)
        }
        Err(e) => {
            issues.push(e.to_issue());
            None
        }
    };
    let mut outcome = Outcome::from_issues(&issues);
    if mapped.is_none() && outcome == Outcome::Accepted {
        outcome = Outcome::Error;
    }
    match outcome {
        Outcome::Accepted => (mapped, outcome, issues),
        _ => (None, outcome, issues),
    }
}

/// The v2 issues for a service error (content problems are AE; the store failing is 207 too).
/// A store failure's detail is kept out of the NAK (it may name tables) but logged here, where
/// the NAK says it is.
pub(crate) fn service_issues(e: &lantern_service::Error) -> Vec<Issue> {
    if let lantern_service::Error::Store(lantern_store::StoreError::Database(detail)) = e {
        tracing::error!(error = %detail, "a feed's message could not be applied");
    }
    e.issues()
        .into_iter()
        .map(|i| {
            let at = i.expression.map(|x| format!(" ({x})")).unwrap_or_default();
            Issue::error(ErrorCode::ApplicationInternal, format!("not applied: {}{at}", i.diagnostics))
        })
        .collect()
}

impl Feeds {
    fn ack_for(&self, msg: &Message, outcome: Outcome, issues: &[Issue]) -> Option<Vec<u8>> {
        let n = self.inner.acks.fetch_add(1, Ordering::Relaxed);
        let now = self.inner.fhir.store.now_micros();
        let ctx = AckContext { control_id: format!("L{n}"), timestamp: v2_timestamp(now) };
        let ack = response_ack(msg, outcome, issues, &ctx).unwrap_or_else(|| {
            let code = match outcome {
                Outcome::Accepted => AckCode::AA,
                Outcome::Error => AckCode::AE,
                Outcome::Rejected => AckCode::AR,
            };
            build_ack(msg, code, issues, &ctx)
        });
        Some(ack.encode_bytes())
    }

    /// Takes one HL7 v2 message (the payload of an MLLP frame, or one message from a file) and
    /// returns the acknowledgement to send. The message is durable — applied, kept as a dead
    /// letter, or (for a feed that acknowledges on receipt) in the receive queue — before this
    /// returns an ACK; see the crate docs.
    pub async fn ingest_v2(&self, raw: &[u8], route: &Route) -> Ingested {
        let (msg, parse_issues) = lantern_hl7v2::parse(raw);
        let h = msg.header();
        let facility = h.as_ref().and_then(|h| h.sending_facility_hd()).map(|r| r.get(1).to_string());
        let facility = facility.unwrap_or_default();
        let control_id = h.as_ref().map(|h| h.control_id().to_string()).unwrap_or_default();
        let not_stored = |feed: String, why: &dyn std::fmt::Display| {
            tracing::error!(feed = %feed, control_id = %control_id, "message not stored, no ACK sent: {why}");
            Ingested { ack: None, code: "", disposition: Disposition::NotStored, feed, seq: None }
        };
        let feed = match self.resolve(route, &facility).await {
            Ok(f) => f,
            Err(e) => return not_stored(format!("{route:?}"), &e),
        };
        let feed_id = feed.feed_id.clone();
        let hash = content_hash(raw);
        let queue = self.queue_for(&feed_id);
        // A queued message is not looked up in the inbox before its ACK (a read on a blocking
        // thread, the slowest step of acknowledging): a re-send of one already applied is queued
        // again and skipped by the applier on the inbox key, and its answer, AA, is the one it
        // had; a re-send that fails to parse or map finds its dead letter and gets its AE/AR.
        if queue.is_none() {
            match self.inner.fhir.store.inbox_find(&feed_id, &control_id, &hash).await {
                Ok(Some(e)) => return self.duplicate(&msg, e, parse_issues, &feed),
                Ok(None) => {}
                Err(e) => return not_stored(feed_id, &e),
            }
        }
        let key = crate::order::patient_key(&feed_id, &msg);
        // Queued messages take their patient's turn in the applier, in queue order.
        let _turn = match (&key, &queue) {
            (Some(k), None) => Some(self.inner.order.lock(k).await),
            _ => None,
        };
        let (mapped, outcome, mut issues) = map_checked(&msg, &feed, parse_issues);
        let record = NewInbox {
            feed: feed_id.clone(),
            control_id: control_id.clone(),
            hash,
            kind: "hl7v2".into(),
            received: self.inner.fhir.store.now_micros(),
            raw: raw.to_vec(),
            status: PROCESSED.into(),
            detail: None,
        };
        let Some(mapped) = mapped else {
            return self.dead(&msg, record, outcome, issues).await;
        };
        if let Some(queue) = queue {
            let job = crate::queue::Job { record, turn: key, mapped: Some(mapped), segment: 0 };
            let (disposition, seq) = match queue.accept(job).await {
                Ok(crate::queue::Accepted::Queued) => (Disposition::Queued, None),
                Ok(crate::queue::Accepted::AlreadyQueued) => (Disposition::Duplicate, None),
                Err(e) => return not_stored(feed_id, &format!("cannot write to the feeds queue: {e}")),
            };
            let ack = self.ack_for(&msg, Outcome::Accepted, &issues);
            return Ingested { ack, code: "AA", disposition, feed: feed_id, seq };
        }
        let mut record = record;
        if !mapped.merges.is_empty() {
            record.detail = Some(json!({"merges": mapped.merges}).to_string());
        }
        let dup = Arc::new(AtomicBool::new(false));
        match self.apply(mapped.bundle, mapped.merges, record.clone(), None, dup.clone()).await {
            Ok(seq) => Ingested {
                ack: self.ack_for(&msg, Outcome::Accepted, &issues),
                code: "AA",
                disposition: Disposition::Processed,
                feed: feed_id,
                seq: Some(seq),
            },
            Err(_) if dup.load(Ordering::Relaxed) => {
                match self.inner.fhir.store.inbox_find(&feed_id, &control_id, &record.hash).await {
                    Ok(Some(e)) => self.duplicate(&msg, e, issues, &feed),
                    Ok(None) => not_stored(feed_id, &"duplicate vanished"),
                    Err(e) => not_stored(feed_id, &e),
                }
            }
            Err(lantern_service::Error::Store(e @ StoreError::Unavailable(_))) => not_stored(feed_id, &e),
            Err(e) => {
                issues.extend(service_issues(&e));
                self.dead(&msg, record, Outcome::Error, issues).await
            }
        }
    }

    /// Applies a bundle, then an A40's merges to the patient index, and records the inbox row
    /// (or, for a replay, marks row `replay` as processed) in the same store job. Returns the
    /// inbox row's sequence number.
    pub(crate) async fn apply(
        &self,
        bundle: Value,
        merges: Vec<MergeRequest>,
        record: NewInbox,
        replay: Option<(i64, String)>,
        dup: Arc<AtomicBool>,
    ) -> Result<i64, lantern_service::Error> {
        let seq = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let out = seq.clone();
        let mut ctx = Ctx::system("urn:lantern:feeds");
        ctx.audit = Some(Arc::new(crate::audit::FeedAudit {
            feed: record.feed.clone(),
            org: self.feed(&record.feed).map(|f| f.organisation.ods_code.clone()),
            control_id: record.control_id.clone(),
        }));
        self.inner
            .fhir
            .transaction_with(&ctx, bundle, move |tx| {
                let by = format!("hl7v2:{}#{}", record.feed, record.control_id);
                for m in &merges {
                    let ids = |v: &[BusinessIdentifier]| -> Vec<(String, String)> {
                        v.iter().map(|b| (b.system.clone(), b.value.clone())).collect()
                    };
                    lantern_mpi::a40::merge_by_identifiers(tx, &ids(&m.surviving), &ids(&m.retired), &by)?;
                }
                if let Some((s, detail)) = replay {
                    out.store(s, Ordering::Relaxed);
                    return tx.inbox_set_status(s, PROCESSED, Some(&detail));
                }
                if let Some(other) =
                    tx.inbox_same_control_id(&record.feed, &record.control_id, &record.hash)?
                {
                    tracing::warn!(
                        feed = %record.feed, control_id = %record.control_id, earlier = other,
                        "control id reused with different content: taken as a new message"
                    );
                }
                match tx.inbox_record(&record) {
                    Ok(s) => {
                        out.store(s, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(e @ StoreError::Conflict(_)) => {
                        dup.store(true, Ordering::Relaxed);
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(seq.load(Ordering::Relaxed))
    }

    /// Writes a dead letter (its own store job) and returns the AE/AR.
    async fn dead(
        &self,
        msg: &Message,
        mut record: NewInbox,
        outcome: Outcome,
        issues: Vec<Issue>,
    ) -> Ingested {
        let outcome = if outcome == Outcome::Accepted { Outcome::Error } else { outcome };
        let reason = reason_of(&issues);
        record.status = DEAD.into();
        record.detail = Some(json!({"outcome": outcome_str(outcome), "reason": reason}).to_string());
        let feed = record.feed.clone();
        let seq = match self.dead_letter(record).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(feed = %feed, "dead letter not stored, no ACK sent: {e}");
                return Ingested {
                    ack: None,
                    code: "",
                    disposition: Disposition::NotStored,
                    feed,
                    seq: None,
                };
            }
        };
        tracing::warn!(feed = %feed, seq, "message dead-lettered ({})", outcome_str(outcome));
        Ingested {
            ack: self.ack_for(msg, outcome, &issues),
            code: outcome_str(outcome),
            disposition: Disposition::DeadLettered,
            feed,
            seq: Some(seq),
        }
    }

    /// Stores a dead letter; a dead letter already there (same key) is returned as is.
    pub(crate) async fn dead_letter(&self, record: NewInbox) -> Result<i64, FeedError> {
        let (f, c, h) = (record.feed.clone(), record.control_id.clone(), record.hash.clone());
        match self.inner.fhir.store.write(move |tx| tx.inbox_record(&record)).await {
            Ok(s) => Ok(s),
            Err(StoreError::Conflict(_)) => match self.inner.fhir.store.inbox_find(&f, &c, &h).await? {
                Some(e) => Ok(e.seq),
                None => Err(FeedError::Failed("dead letter vanished".into())),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// A re-sent message: acknowledged as it was the first time, not applied again.
    fn duplicate(
        &self,
        msg: &Message,
        e: InboxEntry,
        mut issues: Vec<Issue>,
        feed: &lantern_hl7v2::map::FeedConfig,
    ) -> Ingested {
        tracing::info!(feed = %e.feed, seq = e.seq, "duplicate message acknowledged, not applied again");
        let (outcome, code) = if e.status == DEAD {
            let d: Value =
                e.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
            let stored = d.get("outcome").and_then(Value::as_str).unwrap_or("AE");
            if let Err(m) = map_message(msg, feed) {
                issues.push(m.to_issue());
            }
            if !issues.iter().any(|i| i.severity == Severity::Error) {
                let why = d.get("reason").and_then(Value::as_str).unwrap_or("dead letter").to_string();
                issues.push(Issue::error(ErrorCode::ApplicationInternal, why));
            }
            if stored == "AR" {
                (Outcome::Rejected, "AR")
            } else {
                (Outcome::Error, "AE")
            }
        } else {
            issues.retain(|i| i.severity != Severity::Error);
            (Outcome::Accepted, "AA")
        };
        Ingested {
            ack: self.ack_for(msg, outcome, &issues),
            code,
            disposition: Disposition::Duplicate,
            feed: e.feed,
            seq: Some(e.seq),
        }
    }
}
