//! # lantern-mpi — the master patient index
//!
//! The same person arrives from the GP system, the hospital PAS, community and social care,
//! each with its own local number. This crate keeps, for every source Patient, the one person it
//! belongs to, and how it came to be there. The matching itself — NHS number rules,
//! Fellegi–Sunter weights, explanations — is `lantern-identity`'s; this crate gives it memory.
//!
//! ## Why it is shaped so
//!
//! * **Matching is part of the write.** [`Mpi::install`] adds a `lantern_store::WriteHook`:
//!   every Patient written through any entry point (REST create/update, transaction bundles,
//!   HL7 v2 feeds, imports) is matched on the store's single writer thread inside the same
//!   transaction. Concurrent arrivals of one person are therefore serialised, and the membership
//!   commits atomically with the Patient: a source Patient is always in exactly one person.
//! * **One table answers "which person".** `person_link (patient PRIMARY KEY, person)` is the
//!   only place membership lives; the access policy, `$everything`, `Patient.link` and
//!   `_linked` searches read it. Everything else here (`mpi_*` tables) says why.
//! * **Candidates come from an index.** Each record's blocking keys (the engine's rules) are
//!   rows of `mpi_block (key, patient)`; an arrival reads a few index ranges and scores a
//!   bounded handful of candidates, whatever the number of patients.
//! * **Every decision is an event, and reversible.** New person, link, unlink, merge (HL7 A40
//!   included), review accept/reject: each is appended to `mpi_event` with who or what decided,
//!   when, the score and the engine's per-field evidence, and the records it moved — so
//!   [`Mpi::reverse`] can move exactly those back. Records a person has placed are never moved by
//!   the matcher again.
//! * **The model stays in memory.** A trained model (`lantern link --model-out`) or the shipped
//!   default ([`model::default_model`], see its documentation for how it was made).
//!
//! Invariant: no HTTP and no FHIR interactions beyond the store: the server's `/identity`
//! routes and the `$match` / `$ihe-pix` operations are thin callers of [`Mpi`].
pub mod a40;
pub mod fhir;
mod matching;
pub mod model;
mod ops;
pub mod record;
mod tables;

use lantern_identity::{Evaluation, Matcher, Model};
use lantern_store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

pub use matching::MAX_CANDIDATES;

/// One identity decision (a row of `mpi_event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    /// new, link, unlink, merge, unmerge, review-accept, review-reject, review-reopen.
    pub kind: String,
    pub patient: String,
    pub from_person: Option<String>,
    pub to_person: Option<String>,
    /// `lantern-mpi` for automatic decisions, the user for manual ones, `hl7v2:<feed>#<MSH-10>`
    /// for an A40.
    pub decided_by: String,
    /// Match weight (log2 odds) when the decision rested on one.
    pub score: Option<f64>,
    /// The engine's evaluation and explanation, the records moved, a note.
    pub evidence: Value,
    pub reverses: Option<i64>,
    pub reversed_by: Option<i64>,
}

/// A pair put to a human (a row of `mpi_review`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub id: i64,
    /// The record that arrived.
    pub patient_a: String,
    /// The record it resembles.
    pub patient_b: String,
    pub score: f64,
    pub reason: String,
    pub evidence: Value,
    /// open, accepted, rejected, withdrawn.
    pub status: String,
    pub created: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
}

/// A record as the index holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexedPatient {
    pub patient: String,
    pub person: Option<String>,
    /// Every source record of the person, this one included.
    pub members: Vec<String>,
    pub nhs_number: Option<String>,
    /// Why a supplied NHS number is not used for linking.
    pub nhs_number_flag: Option<String>,
    /// UK Core NHS number verification status code.
    pub nhs_number_verification: Option<String>,
    /// Placed by a person: automatic matching leaves it where it is.
    pub pinned: bool,
    pub identifiers: Vec<(String, String)>,
}

/// The explanation of a pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub a: String,
    pub b: String,
    /// Whether the index currently has them in one person.
    pub same_person: bool,
    pub evaluation: Evaluation,
    /// The evaluation in words.
    pub text: String,
}

/// The patient index over a store.
#[derive(Clone)]
pub struct Mpi {
    store: Store,
    model: Arc<Model>,
}

fn strip(reference: &str) -> String {
    reference.trim().trim_start_matches("Patient/").to_string()
}

impl Mpi {
    /// The index API over `store` with `model`, without installing the matching hook (see
    /// [`Mpi::install`]).
    pub fn new(store: Store, model: Model) -> Mpi {
        Mpi { store, model: Arc::new(model) }
    }

    /// Installs the matching hook on `store` (every later Patient write is matched) and returns
    /// the API. Install once per store.
    pub fn install(store: &Store, model: Model) -> Mpi {
        let mpi = Mpi::new(store.clone(), model);
        store.add_hook(Arc::new(matching::Hook { model: mpi.model.clone() }));
        mpi
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the index holds about a record.
    pub async fn patient(&self, patient: &str) -> Result<IndexedPatient, StoreError> {
        let id = strip(patient);
        self.store
            .with_reader(move |c, _| {
                let row = tables::patient(c, &id)?
                    .ok_or_else(|| StoreError::NotFound(format!("Patient/{id} in the patient index")))?;
                let person = tables::person_of(c, &id)?;
                let members = match &person {
                    Some(p) => tables::members(c, p)?,
                    None => vec![id.clone()],
                };
                Ok(IndexedPatient {
                    patient: id,
                    person,
                    members,
                    nhs_number: row.nhs,
                    nhs_number_flag: row.nhs_flag,
                    nhs_number_verification: row.verified,
                    pinned: row.pinned,
                    identifiers: row.identifiers,
                })
            })
            .await
    }

    /// Reviews, in id order: of one status (`open`, ...) or all, after id `after`.
    pub async fn reviews(
        &self,
        status: Option<String>,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Review>, StoreError> {
        self.store.with_reader(move |c, _| tables::reviews(c, status.as_deref(), after, limit)).await
    }

    /// Events, newest first: of one record or all; `before` pages backwards.
    pub async fn events(
        &self,
        patient: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let p = patient.map(|p| strip(&p));
        self.store.with_reader(move |c, _| tables::events(c, p.as_deref(), before, limit)).await
    }

    /// Accepts or rejects an open review; `by` is who decided.
    pub async fn decide_review(
        &self,
        id: i64,
        accept: bool,
        by: &str,
        note: Option<String>,
    ) -> Result<Event, StoreError> {
        let by = by.to_string();
        self.store
            .write(move |tx| {
                let now = tx.now_micros();
                ops::decide_review(tx.conn(), now, id, accept, &by, note.as_deref())
            })
            .await
    }

    /// Takes a record out of its person into a new one.
    pub async fn unlink(&self, patient: &str, by: &str, note: Option<String>) -> Result<Event, StoreError> {
        let (p, by) = (strip(patient), by.to_string());
        self.store
            .write(move |tx| {
                let now = tx.now_micros();
                ops::unlink(tx.conn(), now, &p, &by, note.as_deref())
            })
            .await
    }

    /// Merges the person of `from` into the person of `into`.
    pub async fn merge(
        &self,
        from: &str,
        into: &str,
        by: &str,
        note: Option<String>,
        force: bool,
    ) -> Result<Event, StoreError> {
        let (f, i, by) = (strip(from), strip(into), by.to_string());
        self.store
            .write(move |tx| {
                let now = tx.now_micros();
                ops::merge(tx.conn(), now, &f, &i, &by, note.as_deref(), force, "merge")
            })
            .await
    }

    /// Reverses event `seq`.
    pub async fn reverse(&self, seq: i64, by: &str, note: Option<String>) -> Result<Event, StoreError> {
        let by = by.to_string();
        self.store
            .write(move |tx| {
                let now = tx.now_micros();
                ops::reverse(tx.conn(), now, seq, &by, note.as_deref())
            })
            .await
    }

    /// Matches the current Patients the index has not seen (written before it was installed,
    /// e.g. in a store created by an older version), oldest first, exactly as if each had just
    /// arrived. Returns how many were indexed.
    pub async fn index_existing(&self) -> Result<usize, StoreError> {
        let mut done = 0;
        loop {
            let ids = self
                .store
                .with_reader(|c, cat| {
                    let t = cat.type_id("Patient").unwrap_or(0);
                    let mut ids = Vec::new();
                    c.query(
                        "SELECT r.id FROM resource r WHERE r.type = ? AND r.deleted = 0 AND NOT EXISTS \
                         (SELECT 1 FROM mpi_patient p WHERE p.patient = r.id) ORDER BY r.rk LIMIT 500",
                        &[t.into()],
                        &mut |r| {
                            ids.push(r.text(0)?.unwrap_or_default());
                            Ok(())
                        },
                    )?;
                    Ok(ids)
                })
                .await?;
            if ids.is_empty() {
                return Ok(done);
            }
            // A hundred records per write job: one commit each, and the writer is never held long.
            for chunk in ids.chunks(100) {
                let (model, chunk) = (self.model.clone(), chunk.to_vec());
                done += self
                    .store
                    .write(move |tx| {
                        let mut n = 0;
                        tables::lock(tx.conn())?;
                        for id in &chunk {
                            let Some(body) = tx.read("Patient", id)?.and_then(|s| s.body) else { continue };
                            let body: Value = serde_json::from_str(&body).map_err(StoreError::db)?;
                            let now = tx.now_micros();
                            matching::arrived(tx.conn(), &model, now, id, &body)?;
                            n += 1;
                        }
                        Ok(n)
                    })
                    .await?;
            }
        }
    }

    /// Scores and explains any pair of records, linked or not.
    pub async fn explain(&self, a: &str, b: &str) -> Result<Explanation, StoreError> {
        let (a, b) = (strip(a), strip(b));
        let ra = self.record_of(&a).await?;
        let rb = self.record_of(&b).await?;
        let persons = {
            let ids = vec![a.clone(), b.clone()];
            self.store.with_reader(move |c, _| tables::persons_of(c, &ids)).await?
        };
        let same_person = matches!((persons.get(&a), persons.get(&b)), (Some(x), Some(y)) if x == y);
        let evaluation = Matcher::new(&self.model).evaluate_records(&ra, &rb);
        Ok(Explanation { text: evaluation.render(), a, b, same_person, evaluation })
    }

    /// The demographics of a record: from the index, or read from the Patient itself.
    async fn record_of(&self, id: &str) -> Result<lantern_identity::Record, StoreError> {
        let i = id.to_string();
        if let Some(row) = self.store.with_reader(move |c, _| tables::patient(c, &i)).await? {
            return Ok(row.record);
        }
        let s = self
            .store
            .read("Patient", id)
            .await?
            .filter(|s| !s.deleted)
            .ok_or_else(|| StoreError::NotFound(format!("Patient/{id}")))?;
        let body: Value = serde_json::from_str(s.body.as_deref().unwrap_or("{}")).map_err(StoreError::db)?;
        Ok(record::demographics(&body).record)
    }
}
