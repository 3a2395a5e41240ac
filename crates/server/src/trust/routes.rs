//! Trust's own routes: break-glass and its review queue, the policy and its explanation for a
//! privacy officer, and the audit log read back (the patient's "who looked at my record", FHIR
//! AuditEvent).
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /access/break-glass` | a user | open a patient's record in an emergency |
//! | `GET /access/break-glass?status=open` | privacy officer | the review queue |
//! | `POST /access/break-glass/{id}/review` | privacy officer | mark reviewed with an outcome |
//! | `GET /policy` | anyone signed in | the policy in force |
//! | `GET /policy/explain?patient=&user=&org=&role=&purpose=` | privacy officer | what that user would see of that patient, and why |
//! | `GET /audit/who-looked` | a patient (or privacy officer with `?patient=`) | who looked at the record |
//! | `GET /fhir/AuditEvent?patient=&_count=` | privacy officer; a patient sees their own | the log as FHIR AuditEvent |
use super::{current, Scope};
use crate::http::{outcome, AppState};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use lantern_audit::{Action, Outcome};
use lantern_policy::explain::{decide, FactRow, Row};
use lantern_policy::{kinds, Purpose, Requester, RequesterKind, TypeSet};
use lantern_store::{Fact, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

fn scope() -> Result<Scope, Box<Response>> {
    current().ok_or_else(|| {
        Box::new(outcome(StatusCode::NOT_FOUND, "not-supported", "trust is not enabled on this server"))
    })
}

fn store_err(e: StoreError) -> Response {
    tracing::error!(error = %e, "trust route");
    outcome(StatusCode::SERVICE_UNAVAILABLE, "exception", "the store could not answer; try again")
}

fn forbidden(msg: &str) -> Response {
    outcome(StatusCode::FORBIDDEN, "forbidden", msg)
}

async fn audit_or_fail(s: &Scope, entry: lantern_audit::Entry) -> Result<(), Box<Response>> {
    s.trust.audit.record(vec![entry]).await.map(|_| ()).map_err(|_| Box::new(super::unaudited()))
}

#[derive(Deserialize)]
pub(crate) struct BreakGlassRequest {
    /// `Patient/ID` or `ID`.
    patient: String,
    reason: String,
    #[serde(default)]
    text: String,
}

/// Opens a patient's record to this user for a limited time. The grant, the register entry and
/// the audit record commit together.
pub(crate) async fn break_glass(State(_st): State<AppState>, Json(req): Json<BreakGlassRequest>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let policy = s.trust.policy.clone();
    if let Err(why) = policy.may_break_glass(&s.caller.requester) {
        return forbidden(&why);
    }
    let cfg = &policy.config().break_glass;
    if !cfg.reasons.contains(&req.reason) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("reason must be one of: {}", cfg.reasons.join(", ")),
        );
    }
    if req.text.trim().len() < 10 {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "say in a sentence why the record is needed (text)",
        );
    }
    let patient = req.patient.trim_start_matches("Patient/").to_string();
    match s.trust.fhir.store.read("Patient", &patient).await {
        Ok(Some(p)) if !p.deleted => {}
        Ok(_) => {
            return outcome(StatusCode::NOT_FOUND, "not-found", &format!("Patient/{patient} was not found"))
        }
        Err(e) => return store_err(e),
    }
    let now = s.trust.fhir.store.now_micros();
    let until = now + cfg.duration_minutes * 60_000_000;
    let r = &s.caller.requester;
    let (user, org, role) = (r.user.clone(), r.org.clone(), r.role.clone());
    let entry = s
        .caller
        .entry(Action::BreakGlass, now)
        .patient(&patient)
        .with_detail(format!("{}: {}", req.reason, req.text))
        .with_break_glass(true);
    let (reason, text, p2) = (req.reason.clone(), req.text.clone(), patient.clone());
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
                    reason.as_str().into(),
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
    match id {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({
                "id": id,
                "patient": format!("Patient/{patient}"),
                "until": lantern_store::clock::format_instant(until),
                "reason": req.reason,
                "review": "this access is flagged and will be reviewed by a privacy officer",
            })),
        )
            .into_response(),
        Err(e) => store_err(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
}

pub(crate) async fn break_glass_queue(Query(q): Query<QueueQuery>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !s.caller.is_privacy_officer() {
        return forbidden("the break-glass review queue is for privacy officers");
    }
    let cond = match q.status.as_deref().unwrap_or("open") {
        "open" => "reviewed_at IS NULL",
        "reviewed" => "reviewed_at IS NOT NULL",
        "all" => "1 = 1",
        other => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("status must be open, reviewed or all, not '{other}'"),
            )
        }
    };
    let rows = s
        .trust
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
        .await;
    match rows {
        Ok(rows) => Json(json!({"items": rows})).into_response(),
        Err(e) => store_err(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct Review {
    outcome: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn review_break_glass(Path(id): Path<i64>, Json(r): Json<Review>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !s.caller.is_privacy_officer() {
        return forbidden("break-glass reviews are for privacy officers");
    }
    const OUTCOMES: &[&str] = &["appropriate", "inappropriate", "needs-follow-up"];
    if !OUTCOMES.contains(&r.outcome.as_str()) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("outcome must be one of {}", OUTCOMES.join(", ")),
        );
    }
    let now = s.trust.fhir.store.now_micros();
    let reviewer = s.caller.requester.user.clone();
    let entry = s
        .caller
        .entry(Action::BreakGlassReview, now)
        .with_query(format!("break-glass:{id}"))
        .with_detail(format!("{}: {}", r.outcome, r.note));
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
                &[now.into(), reviewer.as_str().into(), r.outcome.as_str().into(), r.note.as_str().into(), id.into()],
            )?;
            lantern_audit::append(tx, &[entry.patient(&patient)])?;
            Ok(true)
        })
        .await;
    match done {
        Ok(true) => Json(json!({"id": id, "reviewed": true})).into_response(),
        Ok(false) => outcome(StatusCode::NOT_FOUND, "not-found", &format!("break-glass {id} was not found")),
        Err(e) => store_err(e),
    }
}

/// The policy in force, for anyone signed in: agreements, organisations, labels, windows.
pub(crate) async fn policy() -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let p = &s.trust.policy;
    let c = p.config();
    let agreements: Vec<Value> = p
        .agreements()
        .iter()
        .map(|a| json!({"id": a.id, "from": a.from, "to": a.to, "categories": a.categories, "purposes": a.purposes}))
        .collect();
    let orgs: Vec<Value> =
        c.organisations.iter().map(|o| json!({"ods": o.ods, "name": o.name, "kind": o.kind})).collect();
    let labels: Vec<Value> = p
        .labels()
        .names_of(p.labels().all_bits())
        .into_iter()
        .map(|n| json!({"name": n, "description": p.labels().describe(n)}))
        .collect();
    let r = &c.relationships;
    Json(json!({
        "agreements": agreements,
        "organisations": orgs,
        "categories": lantern_policy::categories::DEFAULTS.iter().map(|(n, t)| json!({"name": n, "types": t})).collect::<Vec<_>>(),
        "relationships": {
            "encounter_window_days": r.encounter_window_days, "appointment_window_days": r.appointment_window_days,
            "episode_window_days": r.episode_window_days, "referral_window_days": r.referral_window_days,
            "registering_kinds": r.registering_kinds,
        },
        "consent": {"break_glass_overrides_opt_out": c.consent.break_glass_overrides_opt_out,
                    "exempt_organisations": c.consent.exempt_organisations},
        "restricted_labels": labels,
        "break_glass": {"duration_minutes": c.break_glass.duration_minutes, "roles": c.break_glass.roles,
                        "reasons": c.break_glass.reasons},
    }))
    .into_response()
}

/// What `user` of `org` in `role` would see of `patient`, resource by resource, and why.
pub(crate) async fn explain(Query(q): Query<HashMap<String, String>>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !s.caller.is_privacy_officer() {
        return forbidden("the policy explanation is for privacy officers");
    }
    let Some(patient) = q.get("patient").map(|p| p.trim_start_matches("Patient/").to_string()) else {
        return outcome(StatusCode::BAD_REQUEST, "required", "give patient=ID");
    };
    let (Some(user), Some(org)) = (q.get("user"), q.get("org")) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "give user=ID and org=ODS (and role=, purpose=)",
        );
    };
    let purpose = match q.get("purpose").map(|p| Purpose::parse(p)) {
        None => Purpose::Treatment,
        Some(Some(p)) => p,
        Some(None) => return outcome(StatusCode::BAD_REQUEST, "invalid", "unknown purpose of use"),
    };
    let who = Requester {
        kind: RequesterKind::User,
        user: user.clone(),
        org: Some(org.clone()),
        role: q.get("role").cloned(),
        purpose,
        patients: Vec::new(),
        readable: TypeSet::All,
    };
    let now = s.trust.fhir.store.now_micros();
    let p2 = patient.clone();
    let gathered = s
        .trust
        .fhir
        .store
        .with_reader(move |c, cat| {
            // The person's source records, then their facts and resources.
            let mut ids = vec![p2.clone()];
            c.query(
                "SELECT l2.patient FROM person_link l1 JOIN person_link l2 ON l2.person = l1.person \
                 WHERE l1.patient = ? AND l2.patient <> l1.patient",
                &[p2.as_str().into()],
                &mut |r| {
                    ids.extend(r.text(0)?);
                    Ok(())
                },
            )?;
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
        .await;
    let (ids, facts, rows) = match gathered {
        Ok(x) => x,
        Err(e) => return store_err(e),
    };
    let policy = &s.trust.policy;
    let mut visible = 0;
    let decisions: Vec<Value> = rows
        .iter()
        .map(|r| {
            let d = decide(policy, &who, &facts, r, now);
            visible += usize::from(d.visible);
            json!({"resource": format!("{}/{}", r.rtype, r.id), "held_by": r.org, "visible": d.visible, "reason": d.reason})
        })
        .collect();
    let entry = s
        .caller
        .entry(Action::PolicyExplain, now)
        .patients(ids.iter())
        .with_query(format!("explain user={user} org={org}"));
    if let Err(r) = audit_or_fail(&s, entry).await {
        return *r;
    }
    Json(json!({
        "patient": format!("Patient/{patient}"),
        "linked_records": ids.iter().map(|i| format!("Patient/{i}")).collect::<Vec<_>>(),
        "as": {"user": user, "org": org, "role": who.role, "purpose": purpose.code()},
        "facts": facts,
        "visible": visible,
        "withheld": rows.len() - visible,
        "decisions": decisions,
    }))
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct LookQuery {
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    count: Option<usize>,
}

/// Who looked at a patient's record: for the patient themself, or a privacy officer.
pub(crate) async fn who_looked(Query(q): Query<LookQuery>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let patients = match (&s.caller.requester.kind, &q.patient) {
        (RequesterKind::Patient, _) => s.caller.requester.patients.clone(),
        (_, Some(p)) if s.caller.is_privacy_officer() => vec![p.trim_start_matches("Patient/").to_string()],
        _ => return forbidden("only the patient, or a privacy officer naming a patient, can see who looked"),
    };
    let page =
        match s.trust.audit.who_looked(patients.clone(), q.before, q.count.unwrap_or(100).min(1000)).await {
            Ok(p) => p,
            Err(e) => return store_err(e),
        };
    let entry = s.caller.entry(Action::AuditRead, s.trust.fhir.store.now_micros()).patients(patients.iter());
    if let Err(r) = audit_or_fail(&s, entry).await {
        return *r;
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|l| {
            let mut v = json!(l);
            v["when"] = json!(lantern_store::clock::format_instant(l.at));
            v
        })
        .collect();
    Json(json!({"items": items, "next": page.next})).into_response()
}

/// The audit log as a FHIR searchset of AuditEvent.
pub(crate) async fn audit_events(Query(q): Query<HashMap<String, String>>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let patients: Vec<String> = match s.caller.requester.kind {
        RequesterKind::Patient => s.caller.requester.patients.clone(),
        _ if s.caller.is_privacy_officer() => {
            q.get("patient").map(|p| vec![p.trim_start_matches("Patient/").to_string()]).unwrap_or_default()
        }
        _ => {
            return forbidden(
                "the audit log is for privacy officers, and for patients about their own record",
            )
        }
    };
    let count = q.get("_count").and_then(|c| c.parse().ok()).unwrap_or(50usize).min(1000);
    let query = lantern_audit::Query {
        patients: patients.clone(),
        before_seq: q.get("_page").and_then(|p| p.parse().ok()),
        count,
        ..Default::default()
    };
    let page = match s.trust.audit.list(query).await {
        Ok(p) => p,
        Err(e) => return store_err(e),
    };
    let entries: Vec<Value> = page
        .items
        .iter()
        .map(|r| json!({"resource": lantern_audit::to_audit_event(r.seq, &r.entry), "search": {"mode": "match"}}))
        .collect();
    let entry = s
        .caller
        .entry(Action::AuditRead, s.trust.fhir.store.now_micros())
        .patients(patients.iter())
        .with_outcome(Outcome::success());
    if let Err(r) = audit_or_fail(&s, entry).await {
        return *r;
    }
    Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})).into_response()
}
