//! Decisions people take, and their reversal. Each runs as one store write job (on the writer
//! thread, serialised with the matching hook), moves records between persons only through
//! `person_link`'s one row per patient, and appends the event that says who decided, when, why
//! and which records moved — which is exactly what reversing it moves back.
//!
//! | action | moves | event | reversed by |
//! |---|---|---|---|
//! | unlink a record | the record, into a new person | `unlink` | `link` (back) |
//! | merge A into B | every record of A's person, into B's | `merge` | `unmerge` |
//! | accept a review (a, b) | every record of a's person, into b's | `review-accept` | `unmerge` |
//! | reject a review | nothing | `review-reject` | `review-reopen` |
//! | automatic link | the record | `link` | `unlink` |
//!
//! Records a person moved are *pinned*: automatic matching never moves them again.
use crate::matching::{new_person, with_moved};
use crate::tables::{self, NewEvent};
use crate::Event;
use lantern_store::{Conn, StoreError};
use serde_json::{json, Value};

fn not_found(what: String) -> StoreError {
    StoreError::NotFound(what)
}

fn person(c: &mut dyn Conn, patient: &str) -> Result<String, StoreError> {
    tables::person_of(c, patient)?.ok_or_else(|| not_found(format!("Patient/{patient} in the patient index")))
}

fn finish(c: &mut dyn Conn, e: NewEvent<'_>, now: i64) -> Result<Event, StoreError> {
    let seq = tables::insert_event(c, &e, now)?;
    if let Some(r) = e.reverses {
        tables::mark_reversed(c, r, seq)?;
    }
    tables::event(c, seq)?.ok_or_else(|| StoreError::Database("event vanished".into()))
}

fn note(n: Option<&str>) -> Value {
    n.map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// Moves `patients` into person `to` and pins them.
fn move_all(c: &mut dyn Conn, patients: &[String], to: &str) -> Result<(), StoreError> {
    for p in patients {
        tables::set_person(c, p, to)?;
    }
    tables::pin(c, patients)
}

/// Takes a record out of its person into a new one of its own.
pub(crate) fn unlink(
    c: &mut dyn Conn,
    now: i64,
    patient: &str,
    by: &str,
    why: Option<&str>,
) -> Result<Event, StoreError> {
    tables::lock(c)?;
    let from = person(c, patient)?;
    if tables::members(c, &from)?.len() < 2 {
        return Err(StoreError::Conflict(format!("Patient/{patient} is not linked to any other record")));
    }
    let to = new_person();
    move_all(c, &[patient.to_string()], &to)?;
    finish(
        c,
        NewEvent {
            kind: "unlink",
            patient,
            from_person: Some(&from),
            to_person: Some(&to),
            decided_by: by,
            score: None,
            evidence: json!({"moved": [patient], "note": note(why)}),
            reverses: None,
        },
        now,
    )
}

/// Merges the person of `from` into the person of `into`. Refused when the two persons hold
/// different valid NHS numbers, unless `force`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn merge(
    c: &mut dyn Conn,
    now: i64,
    from: &str,
    into: &str,
    by: &str,
    why: Option<&str>,
    force: bool,
    kind: &str,
) -> Result<Event, StoreError> {
    tables::lock(c)?;
    let pf = person(c, from)?;
    let pi = person(c, into)?;
    if pf == pi {
        return Err(StoreError::Conflict(format!(
            "Patient/{from} and Patient/{into} are already one person"
        )));
    }
    let (a, b) = (tables::person_nhs_numbers(c, &pf)?, tables::person_nhs_numbers(c, &pi)?);
    if !force && !a.is_empty() && !b.is_empty() && a.iter().all(|n| !b.contains(n)) {
        return Err(StoreError::Conflict(format!(
            "Patient/{from} and Patient/{into} belong to persons with different NHS numbers; \
             merge with \"force\": true if that is really meant"
        )));
    }
    let moved = tables::members(c, &pf)?;
    move_all(c, &moved, &pi)?;
    finish(
        c,
        NewEvent {
            kind,
            patient: from,
            from_person: Some(&pf),
            to_person: Some(&pi),
            decided_by: by,
            score: None,
            evidence: json!({"into": format!("Patient/{into}"), "moved": moved, "note": note(why)}),
            reverses: None,
        },
        now,
    )
}

/// Accepts (merges the pair's persons) or rejects an open review.
pub(crate) fn decide_review(
    c: &mut dyn Conn,
    now: i64,
    id: i64,
    accept: bool,
    by: &str,
    why: Option<&str>,
) -> Result<Event, StoreError> {
    tables::lock(c)?;
    let r = tables::review(c, id)?.ok_or_else(|| not_found(format!("review {id}")))?;
    if r.status != "open" {
        return Err(StoreError::Conflict(format!("review {id} is {}, not open", r.status)));
    }
    tables::set_review_status(c, id, if accept { "accepted" } else { "rejected" }, Some(by), Some(now), why)?;
    let (pa, pb) = (person(c, &r.patient_a)?, person(c, &r.patient_b)?);
    let mut evidence = json!({"review": id, "other": format!("Patient/{}", r.patient_b), "note": note(why)});
    if accept && pa != pb {
        let moved = tables::members(c, &pa)?;
        move_all(c, &moved, &pb)?;
        evidence = with_moved(evidence, &moved.iter().map(String::as_str).collect::<Vec<_>>());
    } else if accept {
        evidence = with_moved(evidence, &[]);
    }
    finish(
        c,
        NewEvent {
            kind: if accept { "review-accept" } else { "review-reject" },
            patient: &r.patient_a,
            from_person: Some(&pa),
            to_person: Some(if accept { &pb } else { &pa }),
            decided_by: by,
            score: Some(r.score),
            evidence,
            reverses: None,
        },
        now,
    )
}

/// Undoes event `seq`: the records it moved that are still where it put them go back.
pub(crate) fn reverse(
    c: &mut dyn Conn,
    now: i64,
    seq: i64,
    by: &str,
    why: Option<&str>,
) -> Result<Event, StoreError> {
    tables::lock(c)?;
    let e = tables::event(c, seq)?.ok_or_else(|| not_found(format!("identity event {seq}")))?;
    if let Some(r) = e.reversed_by {
        return Err(StoreError::Conflict(format!("event {seq} was already reversed by event {r}")));
    }
    if e.kind == "review-reject" {
        let id = e.evidence.get("review").and_then(Value::as_i64).unwrap_or(0);
        tables::set_review_status(c, id, "open", None, None, None)?;
        return finish(
            c,
            NewEvent {
                kind: "review-reopen",
                patient: &e.patient,
                from_person: e.to_person.as_deref(),
                to_person: e.from_person.as_deref(),
                decided_by: by,
                score: e.score,
                evidence: json!({"review": id, "note": note(why)}),
                reverses: Some(seq),
            },
            now,
        );
    }
    let kind = match e.kind.as_str() {
        "link" => "unlink",
        "unlink" => "link",
        "merge" | "review-accept" => "unmerge",
        "unmerge" => "merge",
        other => {
            return Err(StoreError::invalid(
                "not-supported",
                None,
                format!("a '{other}' event has nothing to reverse; unlink or merge records instead"),
            ))
        }
    };
    let Some(to) = e.to_person.as_deref() else {
        return Err(StoreError::Conflict(format!("event {seq} left no person to undo (a deletion)")));
    };
    let moved: Vec<String> = e
        .evidence
        .get("moved")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut back = Vec::new();
    for m in &moved {
        if tables::person_of(c, m)?.as_deref() == Some(to) {
            back.push(m.clone());
        }
    }
    if back.is_empty() {
        return Err(StoreError::Conflict(format!(
            "the records event {seq} moved have all moved again since; nothing to reverse"
        )));
    }
    let dest = e.from_person.clone().unwrap_or_else(new_person);
    move_all(c, &back, &dest)?;
    finish(
        c,
        NewEvent {
            kind,
            patient: &e.patient,
            from_person: Some(to),
            to_person: Some(&dest),
            decided_by: by,
            score: None,
            evidence: json!({"moved": back, "not_moved": moved.iter().filter(|m| !back.contains(m)).collect::<Vec<_>>(), "note": note(why)}),
            reverses: Some(seq),
        },
        now,
    )
}
