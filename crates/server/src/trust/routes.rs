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
use super::ops::{self, audit_or_fail, Refused};
use super::{current, Scope};
use crate::http::{outcome, AppState};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use lantern_audit::{Action, Outcome};
use lantern_policy::explain::decide;
use lantern_policy::{Purpose, Requester, RequesterKind, TypeSet};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

fn scope() -> Result<Scope, Box<Response>> {
    current().ok_or_else(|| {
        Box::new(outcome(StatusCode::NOT_FOUND, "not-supported", "trust is not enabled on this server"))
    })
}

fn forbidden(msg: &str) -> Response {
    outcome(StatusCode::FORBIDDEN, "forbidden", msg)
}

#[derive(Deserialize)]
pub(crate) struct BreakGlassRequest {
    /// `Patient/ID` or `ID`.
    patient: String,
    reason: String,
    #[serde(default)]
    text: String,
}

/// Opens a patient's record to this user for a limited time (see [`ops::break_glass`]).
pub(crate) async fn break_glass(State(_st): State<AppState>, Json(req): Json<BreakGlassRequest>) -> Response {
    let s = match scope() {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match ops::break_glass(&s, &req.patient, &req.reason, &req.text).await {
        Ok(g) => (
            StatusCode::CREATED,
            Json(json!({
                "id": g.id,
                "patient": format!("Patient/{}", g.patient),
                "until": lantern_store::clock::format_instant(g.until),
                "reason": g.reason,
                "review": "this access is flagged and will be reviewed by a privacy officer",
            })),
        )
            .into_response(),
        Err(r) => r.into_response(),
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
    match ops::break_glass_queue(&s, q.status.as_deref()).await {
        Ok(rows) => Json(json!({"items": rows})).into_response(),
        Err(r) => r.into_response(),
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
    match ops::review_break_glass(&s, id, &r.outcome, &r.note).await {
        Ok(()) => Json(json!({"id": id, "reviewed": true})).into_response(),
        Err(r) => r.into_response(),
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
    let gathered = ops::gather(&s.trust.fhir.store, &patient).await;
    let (ids, facts, rows) = match gathered {
        Ok(x) => x,
        Err(e) => return Refused::store(e).into_response(),
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
        return r.into_response();
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
    match ops::who_looked(&s, q.patient.as_deref(), q.before, q.count.unwrap_or(100)).await {
        Ok(page) => Json(json!({"items": page.items, "next": page.next})).into_response(),
        Err(r) => r.into_response(),
    }
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
        Err(e) => return Refused::store(e).into_response(),
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
        return r.into_response();
    }
    Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})).into_response()
}
