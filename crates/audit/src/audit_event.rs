//! A record as a FHIR R4 AuditEvent (R4 §6.4 "AuditEvent", following the IHE BALP mapping of
//! RESTful interactions: `type` = `audit-event-type#rest` with the interaction as subtype).
//!
//! | Entry | AuditEvent |
//! |---|---|
//! | seq | `id` |
//! | action | `type`, `subtype`, `action` (C/R/U/D/E) — see [`kind`] |
//! | at | `recorded` |
//! | outcome | `outcome` (0 success, 4 refused or a client error, 8 a server error), `outcomeDesc` |
//! | agent | `agent[0]`: `who` (identifier or `Patient/ID`), `name`, `role`, `network`, `purposeOfUse` (v3 ActReason), `requestor = true` |
//! | agent.org | `agent[1]`: the organisation, by ODS code, `requestor = false` |
//! | patients | one `entity` each: `what = Patient/ID`, type 1 Person, role 1 Patient |
//! | entities | one `entity` each: type 2 System Object, role 4 Domain Resource (+ one saying how many more) |
//! | query | an `entity` with role 24 Query and `query` = base64 of the text |
//! | detail | an `entity` of type 4 Other whose `description` is the text |
//! | break_glass | `purposeOfEvent` ETREAT |
use crate::entry::{Action, AgentKind, Entry, OutcomeKind};
use base64::Engine;
use lantern_store::clock::format_instant;
use serde_json::{json, Map, Value};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const REST: &str = "http://hl7.org/fhir/restful-interaction";
const LIFECYCLE: &str = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

/// `(type, subtype, action code)` for an action.
pub fn kind(action: Action) -> (Value, Option<Value>, &'static str) {
    use Action::*;
    let rest = || coding(EVENT_TYPE, "rest", "RESTful Operation");
    let sub = |code: &str| Some(coding(REST, code, code));
    match action {
        Read => (rest(), sub("read"), "R"),
        Vread => (rest(), sub("vread"), "R"),
        History => (rest(), sub("history-instance"), "R"),
        Search => (rest(), sub("search-type"), "E"),
        Everything | Operation | PolicyExplain | Other => (rest(), sub("operation"), "E"),
        Create => (rest(), sub("create"), "C"),
        Update => (rest(), sub("update"), "U"),
        Patch => (rest(), sub("patch"), "U"),
        Delete => (rest(), sub("delete"), "D"),
        Transaction => (rest(), sub("transaction"), "E"),
        Batch => (rest(), sub("batch"), "E"),
        Export | Notification => (coding(DCM, "110106", "Export"), None, "R"),
        FeedMessage => (coding(DCM, "110107", "Import"), None, "C"),
        AuditRead => (coding(DCM, "110101", "Audit Log Used"), None, "R"),
        Login | LoginFailed => {
            (coding(DCM, "110114", "User Authentication"), Some(coding(DCM, "110122", "Login")), "E")
        }
        Logout => (coding(DCM, "110114", "User Authentication"), Some(coding(DCM, "110123", "Logout")), "E"),
        BreakGlass => (
            coding(DCM, "110113", "Security Alert"),
            Some(coding(DCM, "110127", "Emergency Override Started")),
            "E",
        ),
        Refusal | BreakGlassReview => (coding(DCM, "110113", "Security Alert"), None, "E"),
        IdentityLink => {
            (coding(DCM, "110110", "Patient Record"), Some(coding(LIFECYCLE, "link", "Link")), "U")
        }
        IdentityUnlink => {
            (coding(DCM, "110110", "Patient Record"), Some(coding(LIFECYCLE, "unlink", "Unlink")), "U")
        }
        IdentityMerge => {
            (coding(DCM, "110110", "Patient Record"), Some(coding(LIFECYCLE, "merge", "Merge")), "U")
        }
        IdentityUnmerge => {
            (coding(DCM, "110110", "Patient Record"), Some(coding(LIFECYCLE, "unmerge", "Unmerge")), "U")
        }
        IdentityReview => {
            (coding(DCM, "110110", "Patient Record"), Some(coding(LIFECYCLE, "verify", "Verify")), "E")
        }
        ConsentChange => (coding(DCM, "110110", "Patient Record"), None, "U"),
    }
}

/// A purpose of use as a v3 ActReason CodeableConcept. Lantern's names (`direct-care`,
/// `emergency`, `patient-access`, `secondary-use`) and the codes themselves are recognised;
/// anything else is kept as text.
pub fn purpose_of_use(purpose: &str) -> Value {
    let code = match purpose.to_ascii_lowercase().as_str() {
        "direct-care" | "treatment" | "treat" => Some(("TREAT", "treatment")),
        "emergency" | "break-glass" | "etreat" => Some(("ETREAT", "Emergency Treatment")),
        "patient-access" | "patrqt" => Some(("PATRQT", "patient requested")),
        "secondary-use" | "research" | "hresch" => Some(("HRESCH", "healthcare research")),
        "operations" | "hoperat" => Some(("HOPERAT", "healthcare operations")),
        "public-health" | "pubhlth" => Some(("PUBHLTH", "public health")),
        _ => None,
    };
    match code {
        Some((c, d)) => json!({"coding": [coding(ACT_REASON, c, d)], "text": purpose}),
        None => json!({"text": purpose}),
    }
}

/// Inserts `v` under `k` unless it is None.
fn put(o: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        o.insert(k.into(), v);
    }
}

/// The record `seq` as an AuditEvent.
pub fn to_audit_event(seq: i64, e: &Entry) -> Value {
    let (ty, subtype, action) = kind(e.action);
    let mut ev = Map::new();
    ev.insert("resourceType".into(), json!("AuditEvent"));
    ev.insert("id".into(), json!(seq.to_string()));
    ev.insert("type".into(), ty);
    put(&mut ev, "subtype", subtype.map(|s| json!([s])));
    ev.insert("action".into(), json!(action));
    ev.insert("recorded".into(), json!(format_instant(e.at)));
    let outcome = match (e.outcome.result, e.outcome.status) {
        (OutcomeKind::Success, _) => "0",
        (OutcomeKind::Failed, Some(s)) if s >= 500 => "8",
        _ => "4",
    };
    ev.insert("outcome".into(), json!(outcome));
    if e.outcome.result != OutcomeKind::Success || e.outcome.reason.is_some() {
        let mut d = e.outcome.result.as_str().to_string();
        if let Some(s) = e.outcome.status {
            d.push_str(&format!(" ({s})"));
        }
        if let Some(r) = e.outcome.reason.as_deref().filter(|r| !r.is_empty()) {
            d.push_str(": ");
            d.push_str(r);
        }
        ev.insert("outcomeDesc".into(), json!(d));
    }
    if e.break_glass {
        ev.insert("purposeOfEvent".into(), json!([purpose_of_use("emergency")]));
    }
    ev.insert("agent".into(), Value::Array(agents(e)));
    ev.insert(
        "source".into(),
        json!({"observer": {"display": "Lantern"},
               "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")]}),
    );
    let entities = entities(e);
    if !entities.is_empty() {
        ev.insert("entity".into(), Value::Array(entities));
    }
    Value::Object(ev)
}

fn agents(e: &Entry) -> Vec<Value> {
    let a = &e.agent;
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let mut who = Map::new();
    match (a.kind, nonempty(&a.patient), nonempty(&a.user)) {
        (AgentKind::Patient, Some(p), _) => {
            who.insert("reference".into(), json!(format!("Patient/{p}")));
        }
        (_, _, Some(u)) => {
            who.insert("identifier".into(), json!({"value": u}));
        }
        _ => {}
    }
    let display = nonempty(&a.name).or_else(|| nonempty(&a.user)).unwrap_or_else(|| match a.kind {
        AgentKind::Anonymous => "anonymous".into(),
        AgentKind::Patient => "patient".into(),
        _ => "unknown".into(),
    });
    who.insert("display".into(), json!(display));
    let mut agent = Map::new();
    put(&mut agent, "role", nonempty(&a.role).map(|r| json!([{"text": r}])));
    agent.insert("who".into(), Value::Object(who));
    put(&mut agent, "name", nonempty(&a.name).map(Value::from));
    agent.insert("requestor".into(), json!(true));
    put(&mut agent, "network", nonempty(&a.address).map(|ad| json!({"address": ad, "type": "2"})));
    let purpose = nonempty(&a.purpose).or_else(|| e.break_glass.then(|| "emergency".to_string()));
    put(&mut agent, "purposeOfUse", purpose.map(|p| json!([purpose_of_use(&p)])));
    let mut out = vec![Value::Object(agent)];
    if let Some(org) = nonempty(&a.org) {
        out.push(json!({
            "type": {"text": "organisation"},
            "who": {"identifier": {"system": ODS, "value": org}},
            "requestor": false
        }));
    }
    out
}

fn entities(e: &Entry) -> Vec<Value> {
    let mut out = Vec::new();
    for p in e.patients.iter().filter(|p| !p.is_empty()) {
        out.push(json!({
            "what": {"reference": format!("Patient/{p}")},
            "type": coding(ENTITY_TYPE, "1", "Person"),
            "role": coding(OBJECT_ROLE, "1", "Patient")
        }));
    }
    for r in e.entities.iter().filter(|r| !r.is_empty()) {
        out.push(json!({
            "what": {"reference": r},
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": coding(OBJECT_ROLE, "4", "Domain Resource")
        }));
    }
    if e.more_entities > 0 {
        out.push(json!({
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": coding(OBJECT_ROLE, "4", "Domain Resource"),
            "description": format!("{} more resources, not listed", e.more_entities)
        }));
    }
    if let Some(q) = e.query.as_deref().filter(|q| !q.is_empty()) {
        out.push(json!({
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": coding(OBJECT_ROLE, "24", "Query"),
            "query": base64::engine::general_purpose::STANDARD.encode(q)
        }));
    }
    if let Some(d) = e.detail.as_deref().filter(|d| !d.is_empty()) {
        out.push(json!({"type": coding(ENTITY_TYPE, "4", "Other"), "description": d}));
    }
    out
}
