// DG1 -> Condition (v2-to-FHIR IG "segment-dg1-to-condition", encounter-diagnosis) and PRB ->
// Condition (IG "segment-prb-to-condition", problem-list-item; v2 chapter 12 PPR PC1-PC3).

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::patient::PatientRef;
use super::practitioner::practitioner;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

fn category(code: &str, display: &str) -> Value {
    json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": code, "display": display
    }]}])
}

fn clinical(code: &str) -> Value {
    json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": code }] })
}

fn verification(code: &str) -> Value {
    json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": code }] })
}

/// Map one DG1.
pub(crate) fn map_dg1(ctx: &mut Ctx<'_>, dg1: &Segment, patient: &PatientRef, encounter: Option<&Value>) {
    let code = dg1.rep(3).and_then(codeable).or_else(|| {
        let text = dg1.value(4).trim();
        (!text.is_empty()).then(|| json!({ "text": text }))
    });
    let Some(code) = code else {
        let loc = ctx.loc(dg1, 3);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "diagnosis code (DG1-3) empty: condition not recorded",
        );
        return;
    };
    let id = dg1.component(20, 1).trim();
    // Scope by visit number (stable across messages), not by the bundle-local urn:uuid.
    let enc_key = if encounter.is_some() {
        ctx.msg.segment("PV1").map_or("", |p| p.component(19, 1).trim())
    } else {
        ""
    };
    let key = if id.is_empty() {
        format!("{}|{}|{}", patient.key, enc_key, dg1.component(3, 1).trim().to_uppercase())
    } else {
        id.to_string()
    };
    let recorded = ctx.datetime(dg1, 5, dg1.value(5));
    let asserter = dg1.rep(16).and_then(|x| practitioner(ctx, x));
    // DG1-21 segment action code (v2.5+): D = delete.
    let deleted = dg1.value(21).trim().eq_ignore_ascii_case("D");
    let resource = prune(json!({
        "clinicalStatus": if deleted { Value::Null } else { clinical("active") },
        "verificationStatus": verification(if deleted { "entered-in-error" } else { "confirmed" }),
        "category": category("encounter-diagnosis", "Encounter Diagnosis"),
        "code": code,
        "subject": patient.reference,
        "encounter": encounter,
        "onsetDateTime": recorded,
        "asserter": asserter,
    }));
    let system = ctx.cfg.system("condition");
    ctx.add("Condition", &system, &key, resource);
}

/// Map one PRB. PRB-1 action code (table 0287): AD add, UP/UC update, DE delete.
pub(crate) fn map_prb(ctx: &mut Ctx<'_>, prb: &Segment, patient: &PatientRef) {
    let Some(code) = prb.rep(3).and_then(codeable) else {
        let loc = ctx.loc(prb, 3);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "problem id (PRB-3) empty: problem not recorded",
        );
        return;
    };
    let instance = prb.component(4, 1).trim();
    let key = if instance.is_empty() {
        format!("{}|{}", patient.key, prb.component(3, 1).trim().to_uppercase())
    } else {
        instance.to_string()
    };
    let deleted = prb.value(1).trim().eq_ignore_ascii_case("DE");
    let lifecycle = prb.component(14, 1).trim().to_ascii_lowercase();
    let clinical_code = match lifecycle.as_str() {
        _ if deleted => None,
        "active" | "a" => Some("active"),
        "inactive" | "i" => Some("inactive"),
        "resolved" | "r" => Some("resolved"),
        "remission" => Some("remission"),
        "recurrence" => Some("recurrence"),
        _ => Some("active"),
    };
    let recorded = ctx.datetime(prb, 7, prb.value(7));
    let resolved = ctx.datetime(prb, 9, prb.value(9));
    let onset = ctx.datetime(prb, 16, prb.value(16));
    let resource = prune(json!({
        "clinicalStatus": clinical_code.map(clinical),
        "verificationStatus": verification(if deleted { "entered-in-error" } else { "confirmed" }),
        "category": category("problem-list-item", "Problem List Item"),
        "code": code,
        "subject": patient.reference,
        "onsetDateTime": onset,
        "abatementDateTime": resolved,
        "recordedDate": recorded,
    }));
    let system = ctx.cfg.system("problem");
    ctx.add("Condition", &system, &key, resource);
}
