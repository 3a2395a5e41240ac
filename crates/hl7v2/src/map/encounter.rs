// PV1 (+PV2) -> Encounter, after the v2-to-FHIR IG "segment-pv1-to-encounter" and
// "segment-pv2-to-encounter", with the status life cycle of the ADT triggers (v2 chapter 3.3:
// A01 admit, A02 transfer, A03 discharge, A04 register, A05/A14 pre-admit/pending admit,
// A11/A12/A13 cancellations, ...).

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::location::location;
use super::patient::PatientRef;
use super::practitioner::practitioner;
use super::vocab;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

/// Encounter.status for an ADT trigger, or derived from PV1 for updates.
fn status(trigger: &str, pv1: &Segment) -> &'static str {
    match trigger {
        "A01" | "A02" | "A06" | "A07" | "A12" | "A13" | "A15" | "A25" | "A26" => "in-progress",
        "A03" => "finished",
        "A04" | "A10" => "arrived",
        "A05" | "A14" => "planned",
        "A11" => "entered-in-error",
        "A27" | "A38" => "cancelled",
        _ => {
            if !pv1.value(45).trim().is_empty() {
                "finished"
            } else if !pv1.value(44).trim().is_empty() {
                "in-progress"
            } else if pv1.value(2).trim().eq_ignore_ascii_case("P") {
                "planned"
            } else {
                "unknown"
            }
        }
    }
}

/// The encounter's business key, if the message gives one.
fn visit_key(ctx: &Ctx<'_>, pv1: &Segment, patient: &PatientRef) -> Option<String> {
    let visit = pv1.component(19, 1).trim();
    if !visit.is_empty() {
        return Some(visit.to_string());
    }
    let alternate = pv1.component(50, 1).trim();
    if !alternate.is_empty() {
        return Some(alternate.to_string());
    }
    let admit = pv1.component(44, 1).trim();
    (!admit.is_empty()).then(|| format!("{}-{}-{}", patient.key, admit, ctx.cfg.feed_id))
}

/// Map PV1/PV2. Returns the Encounter reference, or `None` (with an issue) when the segment
/// carries no visit.
pub(crate) fn map_encounter(
    ctx: &mut Ctx<'_>,
    trigger: &str,
    pv1: &Segment,
    pv2: Option<&Segment>,
    evn: Option<&Segment>,
    patient: &PatientRef,
) -> Option<Value> {
    let class_code = pv1.value(2).trim();
    if class_code.eq_ignore_ascii_case("N") && pv1.value(19).trim().is_empty() {
        return None; // "not applicable": no visit in this message
    }
    let Some(key) = visit_key(ctx, pv1, patient) else {
        let loc = ctx.loc(pv1, 19);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "no visit number (PV1-19), alternate visit id (PV1-50) or admit time (PV1-44): encounter not recorded",
        );
        return None;
    };
    let status = status(trigger, pv1);
    let event_time =
        evn.map(|e| e.value(6)).filter(|v| !v.trim().is_empty()).or_else(|| evn.map(|e| e.value(2)));
    let mut start = ctx.datetime(pv1, 44, pv1.value(44));
    let mut end = ctx.datetime(pv1, 45, pv1.value(45));
    if start.is_none() && matches!(trigger, "A01" | "A04") {
        if let (Some(evn), Some(t)) = (evn, event_time) {
            start = ctx.datetime(evn, 6, t);
        }
    }
    if end.is_none() && trigger == "A03" {
        if let (Some(evn), Some(t)) = (evn, event_time) {
            end = ctx.datetime(evn, 6, t);
        }
    }
    if trigger == "A13" {
        end = None; // discharge cancelled
    }

    let loc_status = match status {
        "finished" => "completed",
        "planned" => "planned",
        _ => "active",
    };
    let mut locations = Vec::new();
    if let Some(r) = pv1.rep(3).and_then(|pl| location(ctx, pl)) {
        locations.push(json!({ "location": r, "status": loc_status }));
    }
    if matches!(trigger, "A02" | "A12") {
        if let Some(r) = pv1.rep(6).and_then(|pl| location(ctx, pl)) {
            locations.push(json!({ "location": r, "status": "completed" }));
        }
    }
    if let Some(r) = pv1.rep(11).and_then(|pl| location(ctx, pl)) {
        locations.push(json!({ "location": r, "status": "active" }));
    }
    if let Some(r) = pv2.and_then(|p| p.rep(1)).and_then(|pl| location(ctx, pl)) {
        locations.push(json!({ "location": r, "status": "planned" }));
    }

    let mut participants = Vec::new();
    for (field, code, display) in
        [(7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter")]
    {
        for xcn in pv1.reps(field) {
            if let Some(r) = practitioner(ctx, xcn) {
                participants.push(json!({
                    "type": [{ "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": code, "display": display
                    }]}],
                    "individual": r
                }));
            }
        }
    }
    let with_table = |seg: &Segment, field: usize, table: &str| {
        seg.rep(field).and_then(codeable).map(|mut cc| {
            if let Some(c) = cc["coding"].get_mut(0) {
                if c["system"].is_null() {
                    c["system"] = json!(format!("http://terminology.hl7.org/CodeSystem/v2-{table}"));
                }
            }
            cc
        })
    };
    let hospitalization = json!({
        "preAdmissionIdentifier": pv1.rep(5).and_then(|r| (!r.get(1).trim().is_empty()).then(|| json!({ "value": r.get(1).trim() }))),
        "admitSource": with_table(pv1, 14, "0023"),
        "reAdmission": with_table(pv1, 13, "0092"),
        "dischargeDisposition": with_table(pv1, 36, "0112"),
    });
    let reason = pv2.and_then(|p| p.rep(3)).and_then(codeable);
    let owner = ctx.owner();
    let resource = prune(json!({
        "status": status,
        "class": vocab::encounter_class(class_code),
        "type": with_table(pv1, 4, "0007").map(|t| vec![t]),
        "serviceType": with_table(pv1, 10, "0069"),
        "subject": patient.reference,
        "participant": participants,
        "period": { "start": start, "end": if status == "finished" || trigger == "A03" { end } else { None } },
        "reasonCode": reason.map(|r| vec![r]),
        "hospitalization": hospitalization,
        "location": locations,
        "serviceProvider": owner,
    }));
    let system = ctx.cfg.system("encounter");
    Some(ctx.add("Encounter", &system, &key, resource))
}
