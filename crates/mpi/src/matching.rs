//! What happens when a Patient is written: the patient index's side of the same transaction.
//!
//! [`Hook`] is a [`WriteHook`]: the store runs it on its single writer thread, inside the
//! transaction of the write, after every resource write. So two feeds sending the same person
//! at the same moment are matched one after the other, each seeing the other's committed (or
//! same-transaction) rows, and the membership commits or rolls back with the Patient itself —
//! there is no window in which a source Patient is in no person, or in two.
//!
//! For a Patient created (or a lone, never hand-placed one updated):
//! 1. read its demographics ([`crate::record`]), store them and its blocking keys;
//! 2. fetch candidates by blocking key (indexed look-ups, a bounded number of them);
//! 3. score each with the engine ([`lantern_identity::Matcher`]): NHS-number rule, then
//!    Fellegi–Sunter weights and the two thresholds, with per-field evidence;
//! 4. link into the person of the best "link" candidate — unless that person holds a different
//!    valid NHS number, which sends it to review instead; open review tasks for "review"
//!    candidates (and for further "link" candidates in other persons) — except a "review"
//!    candidate whose person holds only other valid NHS numbers (a relative, not a duplicate);
//!    otherwise a new person.
//!
//! A record already sharing its person, or placed by a human, is never moved automatically:
//! a later update can only open review tasks. A deleted Patient leaves its person.
use crate::record::demographics;
use crate::tables::{self, NewEvent, PatientRow};
use lantern_identity::blocking::rule_keys;
use lantern_identity::decision::decide;
use lantern_identity::dict::{Dict, Prepared};
use lantern_identity::explain::evaluate;
use lantern_identity::normalise::normalise;
use lantern_identity::score::Scorer;
use lantern_identity::{Decision, Evaluation, Model, Record};
use lantern_store::{StoreError, WriteEvent, WriteHook, WriteTx};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Candidates scored per arrival, at most (those sharing the most blocking keys).
pub const MAX_CANDIDATES: usize = 64;
/// Review tasks opened per arrival, at most (one per other person).
const MAX_REVIEWS: usize = 3;
/// Who decides automatically.
pub(crate) const AUTO: &str = "lantern-mpi";

/// The write hook; install with [`crate::Mpi::install`].
pub(crate) struct Hook {
    pub(crate) model: Arc<Model>,
}

impl WriteHook for Hook {
    fn after_write(&self, tx: &mut WriteTx<'_>, event: &WriteEvent<'_>) -> Result<(), StoreError> {
        if event.rtype != "Patient" {
            return Ok(());
        }
        let now = tx.now_micros();
        tables::lock(tx.conn())?;
        let decided = match event.body {
            Some(body) => arrived(tx.conn(), &self.model, now, event.id, body)?,
            None => return removed(tx.conn(), now, event.id),
        };
        // Identity decisions enter the audit chain in the same transaction as the decision
        // (a new person is not a decision about anyone else, so it is not audited).
        let agent = || lantern_audit::Agent::system(AUTO);
        let mut entries = Vec::new();
        if let Some((other, score)) = &decided.linked_to {
            entries.push(
                lantern_audit::Entry::new(lantern_audit::Action::IdentityLink, agent())
                    .at(now)
                    .patients([event.id, other.as_str()])
                    .with_detail(format!(
                        "Patient/{} linked to the person of Patient/{other} (match weight {score:.1})",
                        event.id
                    )),
            );
        }
        for (other, score) in &decided.reviews {
            entries.push(
                lantern_audit::Entry::new(lantern_audit::Action::IdentityReview, agent())
                    .at(now)
                    .patients([event.id, other.as_str()])
                    .with_detail(format!(
                        "possible match of Patient/{} and Patient/{other} (match weight {score:.1}) sent for review",
                        event.id
                    )),
            );
        }
        if !entries.is_empty() {
            lantern_audit::append(tx, &entries)?;
        }
        Ok(())
    }
}

/// What one arrival decided about others, for the audit log.
#[derive(Debug, Default)]
pub(crate) struct Decided {
    /// Linked to the person of this record, with the score.
    pub(crate) linked_to: Option<(String, f64)>,
    /// Review tasks opened against these records.
    pub(crate) reviews: Vec<(String, f64)>,
}

/// The engine over one arrival: one dictionary, each record normalised once, cheap scores
/// for every candidate and a full (per-field) evaluation only for the pairs a decision records.
pub(crate) struct Scoring<'m> {
    model: &'m Model,
    scorer: Scorer<'m>,
    dict: Dict,
}

impl<'m> Scoring<'m> {
    pub(crate) fn new(model: &'m Model) -> Scoring<'m> {
        Scoring { model, scorer: Scorer::new(model), dict: Dict::new() }
    }

    pub(crate) fn prepare(&mut self, r: &Record) -> Prepared {
        let p = self.dict.prepare(&normalise(r));
        self.dict.counts_from_tables(&self.model.tf);
        p
    }

    /// The record's blocking keys, as `mpi_block` holds them.
    pub(crate) fn keys(&self, p: &Prepared) -> Vec<String> {
        rule_keys(&self.model.config.blocking, p, &self.dict)
    }

    /// The per-field evaluation and decision of a pair.
    pub(crate) fn evaluate(&self, a: &Prepared, b: &Prepared) -> Evaluation {
        evaluate(&self.scorer, a, b, &self.dict)
    }
}

/// One scored candidate.
pub(crate) struct Scored {
    pub(crate) patient: String,
    pub(crate) person: Option<String>,
    pub(crate) prepared: Prepared,
    pub(crate) score: f64,
    pub(crate) decision: Decision,
}

fn rank(d: Decision) -> u8 {
    match d {
        Decision::Link => 2,
        Decision::Review => 1,
        Decision::NewPerson => 0,
    }
}

/// Evidence as kept with an event or review: the engine's per-field evaluation. Its words
/// (`explanation`) are rendered from it when read (see [`with_words`]), not stored twice.
pub(crate) fn evidence(candidate: &str, e: &Evaluation) -> Value {
    json!({
        "candidate": format!("Patient/{candidate}"),
        "reason": e.reason.describe(),
        "evaluation": e,
    })
}

/// Adds `explanation`, the evaluation in words, to evidence read back.
pub(crate) fn with_words(mut evidence: Value) -> Value {
    let words = evidence
        .get("evaluation")
        .and_then(|e| serde_json::from_value::<Evaluation>(e.clone()).ok())
        .map(|e| e.render());
    if let (Some(w), Some(o)) = (words, evidence.as_object_mut()) {
        o.insert("explanation".into(), Value::String(w));
    }
    evidence
}

/// Scores the prepared `incoming` against the candidates its blocking keys find, best first.
pub(crate) fn score_candidates(
    c: &mut dyn lantern_store::Conn,
    s: &mut Scoring<'_>,
    id: &str,
    incoming: &Prepared,
    keys: &[String],
) -> Result<Vec<Scored>, StoreError> {
    let ids = tables::candidates(c, keys, id, s.model.config.max_block_size, MAX_CANDIDATES)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tables::patients(c, &ids)?;
    let persons = tables::persons_of(c, &ids)?;
    let mut out = Vec::with_capacity(ids.len());
    for p in &ids {
        let Some(row) = rows.get(p) else { continue };
        let prepared = s.prepare(&row.record);
        let score = s.scorer.score(incoming, &prepared, &s.dict);
        let (decision, _) = decide(&s.scorer, incoming, &prepared, score);
        out.push(Scored {
            patient: p.clone(),
            person: persons.get(p).cloned(),
            prepared,
            score: score.total,
            decision,
        });
    }
    out.sort_by(|a, b| {
        rank(b.decision)
            .cmp(&rank(a.decision))
            .then(b.score.total_cmp(&a.score))
            .then(a.patient.cmp(&b.patient))
    });
    Ok(out)
}

/// Whether the arriving record has a valid NHS number and the person holds only others.
fn differing_nhs(
    c: &mut dyn lantern_store::Conn,
    nhs: &Option<String>,
    person: &str,
) -> Result<bool, StoreError> {
    let Some(n) = nhs else { return Ok(false) };
    let held = tables::person_nhs_numbers(c, person)?;
    Ok(!held.is_empty() && held.iter().all(|h| h != n))
}

pub(crate) fn arrived(
    c: &mut dyn lantern_store::Conn,
    model: &Model,
    now: i64,
    id: &str,
    body: &Value,
) -> Result<Decided, StoreError> {
    let mut decided = Decided::default();
    let d = demographics(body);
    let mut scoring = Scoring::new(model);
    let incoming = scoring.prepare(&d.record);
    let keys = scoring.keys(&incoming);
    let before: Option<PatientRow> = tables::patient(c, id)?;
    let pinned = before.as_ref().is_some_and(|b| b.pinned);
    tables::put_patient(c, id, &d, &keys, pinned, before.is_some(), now)?;
    tables::replace_keys(c, id, before.as_ref().map_or(&[][..], |b| &b.keys), &keys)?;
    let current = tables::person_of(c, id)?;
    // May the matcher move this record? Only if it is new, or alone and never placed by hand.
    let movable = match &current {
        None => true,
        Some(p) => !pinned && tables::members(c, p)?.len() == 1,
    };
    let scored = score_candidates(c, &mut scoring, id, &incoming, &keys)?;
    let mut target: Option<&Scored> = None;
    let mut to_review: Vec<&Scored> = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for s in &scored {
        let Some(person) = s.person.as_deref() else { continue };
        if current.as_deref() == Some(person) || seen.contains_key(person) {
            continue;
        }
        match s.decision {
            Decision::Link if movable && target.is_none() => {
                // The cannot-link rule: never join a person holding a different valid NHS number.
                let held = tables::person_nhs_numbers(c, person)?;
                let conflict = d.nhs.as_ref().is_some_and(|n| held.iter().any(|h| h != n));
                if conflict {
                    to_review.push(s);
                } else {
                    target = Some(s);
                }
            }
            Decision::Review if differing_nhs(c, &d.nhs, person)? => {
                // Two different valid NHS numbers with only middling agreement elsewhere: a
                // household (same surname, address, phone), not one person. Asking a human would
                // fill the queue with relatives; a link-strength pair with differing numbers
                // still goes to review above, since that is how a mistyped number shows up.
            }
            Decision::Link | Decision::Review => to_review.push(s),
            Decision::NewPerson => continue,
        }
        seen.insert(person, ());
    }
    match (target, &current) {
        (Some(t), _) => {
            let person = t.person.as_deref().unwrap_or_default();
            let eval = scoring.evaluate(&incoming, &t.prepared);
            decided.linked_to = Some((t.patient.clone(), eval.score));
            tables::set_person(c, id, person)?;
            tables::insert_event(
                c,
                &NewEvent {
                    kind: "link",
                    patient: id,
                    from_person: current.as_deref(),
                    to_person: Some(person),
                    decided_by: AUTO,
                    score: Some(eval.score),
                    evidence: with_moved(evidence(&t.patient, &eval), &[id]),
                    reverses: None,
                },
                now,
            )?;
        }
        (None, None) => {
            let person = new_person();
            tables::set_person(c, id, &person)?;
            let best = scored.first();
            tables::insert_event(
                c,
                &NewEvent {
                    kind: "new",
                    patient: id,
                    from_person: None,
                    to_person: Some(&person),
                    decided_by: AUTO,
                    score: best.map(|b| b.score),
                    // The best candidate in brief; `/identity/explain` gives any pair in full.
                    evidence: json!({
                        "candidates": scored.len(),
                        "best": best.map(|b| json!({"candidate": format!("Patient/{}", b.patient), "score": b.score, "decision": b.decision})),
                    }),
                    reverses: None,
                },
                now,
            )?;
        }
        (None, Some(_)) => {}
    }
    for s in to_review.into_iter().take(MAX_REVIEWS) {
        if !tables::reviewed(c, id, &s.patient)? {
            let eval = scoring.evaluate(&incoming, &s.prepared);
            let (why, ev) = (eval.reason.describe(), evidence(&s.patient, &eval));
            tables::insert_review(c, id, &s.patient, eval.score, why, &ev, now)?;
            decided.reviews.push((s.patient.clone(), eval.score));
        }
    }
    Ok(decided)
}

fn removed(c: &mut dyn lantern_store::Conn, now: i64, id: &str) -> Result<(), StoreError> {
    let person = tables::person_of(c, id)?;
    let row = tables::patient(c, id)?;
    if person.is_none() && row.is_none() {
        return Ok(());
    }
    tables::remove_patient(c, id, row.as_ref().map_or(&[][..], |r| &r.keys))?;
    tables::withdraw_reviews(c, id, now)?;
    tables::insert_event(
        c,
        &NewEvent {
            kind: "unlink",
            patient: id,
            from_person: person.as_deref(),
            to_person: None,
            decided_by: AUTO,
            score: None,
            evidence: json!({"note": "the Patient was deleted", "moved": [id]}),
            reverses: None,
        },
        now,
    )?;
    Ok(())
}

/// A new person id.
pub(crate) fn new_person() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Adds the list of patients an event moved to its evidence (what reversing it moves back).
pub(crate) fn with_moved(mut evidence: Value, moved: &[&str]) -> Value {
    if let Some(o) = evidence.as_object_mut() {
        o.insert("moved".into(), json!(moved));
    }
    evidence
}
