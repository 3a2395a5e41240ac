//! Trust's operations as plain functions over the request's [`Scope`]: breaking the glass, the
//! privacy officer's review queue, "who looked at my record", and the facts and rows the policy
//! explanation is computed from. The JSON routes (`routes.rs`) and the viewer's pages both call
//! these, so each rule lives in one place whichever way it is reached.
use super::Scope;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lantern_audit::Action;
use lantern_policy::explain::{FactRow, Row};
use lantern_policy::kinds;
use lantern_store::{Fact, Store, StoreError};
use serde_json::{json, Value};

/// Why an operation was not done; rendered as an OperationOutcome by the JSON routes and as a
/// message by the viewer.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refused {
        Refused { status, code, message: message.into() }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Refused {
        Refused::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(crate) fn store(e: StoreError) -> Refused {
        tracing::error!(error = %e, "trust operation");
        Refused::new(StatusCode::SERVICE_UNAVAILABLE, "exception", "the store could not answer; try again")
    }

    pub(crate) fn unaudited() -> Refused {
        Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "exception",
            "the access could not be recorded in the audit log, so nothing is returned; try again",
        )
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        crate::http::outcome(self.status, self.code, &self.message)
    }
}

/// Writes an audit record before anything is returned (fails closed).
pub(crate) async fn audit_or_fail(s: &Scope, entry: lantern_audit::Entry) -> Result<(), Refused> {
    s.trust.audit.record(vec![entry]).await.map(|_| ()).map_err(|_| Refused::unaudited())
}

/// A break-glass grant.
#[derive(Debug, Clone)]
pub struct Granted {
    pub id: i64,
    pub patient: String,
    /// Microseconds since the epoch.
    pub until: i64,
    pub reason: String,
}

/// Opens a patient's record to this user for a limited time. The grant, the register entry and
/// the audit record commit together.
pub async fn break_glass(s: &Scope, patient: &str, reason: &str, text: &str) -> Result<Granted, Refused> {
    let policy = s.trust.policy.clone();
    policy.may_break_glass(&s.caller.requester).map_err(Refused::forbidden)?;
    let cfg = &policy.config().break_glass;
    if !cfg.reasons.iter().any(|r| r == reason) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("reason must be one of: {}", cfg.reasons.join(", ")),
        ));
    }
    if text.trim().len() < 10 {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "required",
            "say in a sentence why the record is needed (text)",
        ));
    }
    let patient = patient.trim_start_matches("Patient/").to_string();
    match s.trust.fhir.store.read("Patient", &patient).await {
        Ok(Some(p)) if !p.deleted => {}
        Ok(_) => {
            return Err(Refused::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("Patient/{patient} was not found"),
            ))
        }
        Err(e) => return Err(Refused::store(e)),
    }
    let now = s.trust.fhir.store.now_micros();
    let until = now + cfg.duration_minutes * 60_000_000;
    let r = &s.caller.requester;
    let (user, org, role) = (r.user.clone(), r.org.clone(), r.role.clone());
    let entry = s
        .caller
        .entry(Action::BreakGlass, now)
        .patient(&patient)
        .with_detail(format!("{reason}: {text}"))
        .with_break_glass(true);
    let (reason_code, text, p2) = (reason.to_string(), text.to_string(), patient.clone());
    let id = s
        .trust
        .fhir
        .store
        .write(move |tx| {
            let id = tx.conn().insert_returning_key(
                "INSERT INTO break_glass (at, until, user_id, org, role, patient, reason_code, reason_text) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    now.into(),
                    until.into(),
                    user.as_str().into(),
                    org.into(),
                    role.into(),
                    p2.as_str().into(),
                    reason_code.as_str().into(),
                    text.as_str().into(),
                ],
                "id",
            )?;
            let fact = Fact {
                patient: p2.clone(),
                subject: lantern_policy::user_subject(&user),
                kind: kinds::BREAK_GLASS.into(),
                since: Some(now),
                until: Some(until),
            };
            tx.replace_facts(&format!("break-glass:{id}"), &[fact], true)?;
            lantern_audit::append(tx, &[entry.with_query(format!("break-glass:{id}"))])?;
            Ok(id)
        })
        .await;
    s.trust.forget_glass(&s.caller.requester.user);
    let id = id.map_err(Refused::store)?;
    Ok(Granted { id, patient, until, reason: reason.to_string() })
}

/// The break-glass register, newest first: `open` (not yet reviewed), `reviewed` or `all`.
pub async fn break_glass_queue(s: &Scope, status: Option<&str>) -> Result<Vec<Value>, Refused> {
    if !s.caller.is_privacy_officer() {
        return Err(Refused::forbidden("the break-glass review queue is for privacy officers"));
    }
    let cond = match status.unwrap_or("open") {
        "open" => "reviewed_at IS NULL",
        "reviewed" => "reviewed_at IS NOT NULL",
        "all" => "1 = 1",
        other => {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("status must be open, reviewed or all, not '{other}'"),
            ))
        }
    };
    s.trust
        .fhir
        .store
        .with_reader(move |c, _| {
            let mut out = Vec::new();
            c.query(
                &format!(
                    "SELECT id, at, until, user_id, org, role, patient, reason_code, reason_text, reviewed_at, \
                     reviewer, outcome, review_note FROM break_glass WHERE {cond} ORDER BY id DESC LIMIT 500"
                ),
                &[],
                &mut |r| {
                    let instant = |v: Option<i64>| v.map(lantern_store::clock::format_instant);
                    out.push(json!({
                        "id": r.int(0)?, "at": instant(r.int(1)?), "until": instant(r.int(2)?),
                        "user": r.text(3)?, "org": r.text(4)?, "role": r.text(5)?,
                        "patient": r.text(6)?.map(|p| format!("Patient/{p}")),
                        "reason": r.text(7)?, "text": r.text(8)?,
                        "reviewed_at": instant(r.int(9)?), "reviewer": r.text(10)?,
                        "outcome": r.text(11)?, "note": r.text(12)?,
                    }));
                    Ok(())
                },
            )?;
            Ok(out)
        })
        .await
        .map_err(Refused::store)
}

/// Outcomes a privacy officer may give a break-glass access.
pub const REVIEW_OUTCOMES: &[&str] = &["appropriate", "inappropriate", "needs-follow-up"];

/// Marks a break-glass access reviewed, with the review's own audit record.
pub async fn review_break_glass(s: &Scope, id: i64, outcome: &str, note: &str) -> Result<(), Refused> {
    if !s.caller.is_privacy_officer() {
        return Err(Refused::forbidden("break-glass reviews are for privacy officers"));
    }
    if !REVIEW_OUTCOMES.contains(&outcome) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("outcome must be one of {}", REVIEW_OUTCOMES.join(", ")),
        ));
    }
    let now = s.trust.fhir.store.now_micros();
    let reviewer = s.caller.requester.user.clone();
    let entry = s
        .caller
        .entry(Action::BreakGlassReview, now)
        .with_query(format!("break-glass:{id}"))
        .with_detail(format!("{outcome}: {note}"));
    let (outcome, note) = (outcome.to_string(), note.to_string());
    let done = s
        .trust
        .fhir
        .store
        .write(move |tx| {
            let mut patient = None;
            tx.conn().query("SELECT patient FROM break_glass WHERE id = ?", &[id.into()], &mut |row| {
                patient = row.text(0)?;
                Ok(())
            })?;
            let Some(patient) = patient else { return Ok(false) };
            tx.conn().execute(
                "UPDATE break_glass SET reviewed_at = ?, reviewer = ?, outcome = ?, review_note = ? WHERE id = ?",
                &[now.into(), reviewer.as_str().into(), outcome.as_str().into(), note.as_str().into(), id.into()],
            )?;
            lantern_audit::append(tx, &[entry.patient(&patient)])?;
            Ok(true)
        })
        .await
        .map_err(Refused::store)?;
    if done {
        Ok(())
    } else {
        Err(Refused::new(StatusCode::NOT_FOUND, "not-found", format!("break-glass {id} was not found")))
    }
}

/// One page of "who looked at this record".
pub struct Looks {
    pub items: Vec<Value>,
    pub next: Option<i64>,
}

/// Who looked at a patient's record: for the patient themself (`patient` ignored: a patient
/// only ever sees their own), or a privacy officer naming a patient. Reading it is audited.
pub async fn who_looked(
    s: &Scope,
    patient: Option<&str>,
    before: Option<i64>,
    count: usize,
) -> Result<Looks, Refused> {
    use lantern_policy::RequesterKind;
    let patients = match (&s.caller.requester.kind, patient) {
        (RequesterKind::Patient, _) => s.caller.requester.patients.clone(),
        (_, Some(p)) if s.caller.is_privacy_officer() => vec![p.trim_start_matches("Patient/").to_string()],
        _ => {
            return Err(Refused::forbidden(
                "only the patient, or a privacy officer naming a patient, can see who looked",
            ))
        }
    };
    let page =
        s.trust.audit.who_looked(patients.clone(), before, count.min(1000)).await.map_err(Refused::store)?;
    let entry = s.caller.entry(Action::AuditRead, s.trust.fhir.store.now_micros()).patients(patients.iter());
    audit_or_fail(s, entry).await?;
    let items = page
        .items
        .iter()
        .map(|l| {
            let mut v = json!(l);
            v["when"] = json!(lantern_store::clock::format_instant(l.at));
            v
        })
        .collect();
    Ok(Looks { items, next: page.next })
}

/// What the policy decides from: a patient's linked source records (the one asked about
/// first), their facts (relationships, opt-outs, break-glass grants) and their resources'
/// access columns. Reads bypass the access filter, so callers must only ever return decisions
/// derived from it, never the rows.
pub async fn gather(
    store: &Store,
    patient: &str,
) -> Result<(Vec<String>, Vec<FactRow>, Vec<Row>), StoreError> {
    let p2 = patient.trim_start_matches("Patient/").to_string();
    store
        .with_reader(move |c, cat| {
            let ids = lantern_store::person::members(c, &p2)?;
            let marks = vec!["?"; ids.len()].join(",");
            let params: Vec<lantern_store::SqlValue> = ids.iter().map(|i| i.as_str().into()).collect();
            let mut facts = Vec::new();
            c.query(
                &format!("SELECT patient, subject, kind, source, until FROM patient_grant WHERE patient IN ({marks})"),
                &params,
                &mut |r| {
                    facts.push(FactRow {
                        patient: r.text(0)?.unwrap_or_default(),
                        subject: r.text(1)?.unwrap_or_default(),
                        kind: r.text(2)?.unwrap_or_default(),
                        source: r.text(3)?.unwrap_or_default(),
                        until: r.int(4)?,
                    });
                    Ok(())
                },
            )?;
            let mut rows = Vec::new();
            c.query(
                &format!(
                    "SELECT type, id, org, sec, patient FROM resource WHERE deleted = 0 AND patient IN ({marks}) \
                     ORDER BY type, id LIMIT 5000"
                ),
                &params,
                &mut |r| {
                    rows.push(Row {
                        rtype: cat.type_name(r.int(0)?.unwrap_or(0)).unwrap_or("").to_string(),
                        id: r.text(1)?.unwrap_or_default(),
                        org: r.text(2)?,
                        sec: r.int(3)?.unwrap_or(0),
                        patient: r.text(4)?,
                    });
                    Ok(())
                },
            )?;
            Ok((ids, facts, rows))
        })
        .await
}
