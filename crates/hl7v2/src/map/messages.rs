// Message-level maps: which segments of which message types become which resources, after the
// v2-to-FHIR IG message ConceptMaps (ADT_A01..A40, ORU_R01, OUL_R22, RDE_O11, RDS_O13, VXU_V04,
// MDM_T02, SIU_S12, PPR_PC1). Supported:
//
// | type | triggers | resources |
// |------|----------|-----------|
// | ADT | A01-A16, A21-A23, A25-A27, A32, A33, A38, A52-A55 | Patient, Encounter, RelatedPerson, AllergyIntolerance, Condition, Coverage, Observation |
// | ADT | A28, A31, A29 (patient made inactive) | Patient (+ NK1, AL1, DG1, IN1) |
// | ADT | A40, A34, A18, A47 | Patient + MergeRequest |
// | ADT | A60 | Patient, AllergyIntolerance (IAM) |
// | ORU R01, OUL R22-R24 | | DiagnosticReport, Observation |
// | RDE O11/O25 | | MedicationRequest |
// | RDS O13 | | MedicationDispense (+ MedicationRequest) |
// | VXU V04 | | Immunization |
// | MDM T01-T11 | | DocumentReference |
// | SIU S12-S17, S26 | | Appointment |
// | PPR PC1-PC3 | | Condition (problem list) |

use super::allergy::map_allergy;
use super::appointment::map_sch;
use super::condition::{map_dg1, map_prb};
use super::config::FeedConfig;
use super::context::Ctx;
use super::coverage::map_in1;
use super::datetime::to_instant;
use super::diagnostic_report::map_obr_group;
use super::document::map_txa;
use super::encounter::map_encounter;
use super::immunization::map_rxa;
use super::medication::{map_dispenses, map_request, ORDER_MEMBERS};
use super::merge::merge_request;
use super::observation::{map_obx, with_notes, ObsContext};
use super::patient::{map_patient, PatientRef};
use super::practitioner::organization_hd;
use super::related_person::map_nk1;
use super::{MapError, Mapped, MergeRequest};
use crate::issue::MapIssue;
use crate::message::{Message, Segment};
use serde_json::Value;

const OBR_MEMBERS: &[&str] =
    &["OBX", "NTE", "TQ1", "TQ2", "CTD", "FT1", "CTI", "SPM", "SAC", "PRT", "SID", "TCD", "ORC", "INV"];

pub(super) fn map(msg: &Message, cfg: &FeedConfig) -> Result<(Mapped, Vec<MapIssue>), MapError> {
    let h = msg.header().ok_or(MapError::MissingSegment("MSH"))?;
    let control = h.control_id();
    if control.is_empty() {
        return Err(MapError::MissingField {
            segment: "MSH".into(),
            field: 10,
            what: "message control id is empty",
        });
    }
    let mtype = h.message_type().to_ascii_uppercase();
    let trigger = h.trigger_event().to_ascii_uppercase();
    let mut ctx = Ctx::new(msg, cfg, control);
    let evn = msg.segment("EVN");
    let recorded = to_instant(h.timestamp(), &ctx.zone)
        .or_else(|| evn.and_then(|e| to_instant(e.value(2), &ctx.zone)))
        .ok_or(MapError::MissingField {
            segment: "MSH".into(),
            field: 7,
            what: "message date/time missing or unreadable",
        })?;
    let mut merges = Vec::new();
    match mtype.as_str() {
        "ADT" => adt(&mut ctx, &trigger, &mut merges)?,
        "ORU" | "OUL" => results(&mut ctx)?,
        "RDE" => pharmacy(&mut ctx, false)?,
        "RDS" => pharmacy(&mut ctx, true)?,
        "VXU" => vaccinations(&mut ctx)?,
        "MDM" => documents(&mut ctx, &trigger)?,
        "SIU" => scheduling(&mut ctx, &trigger)?,
        "PPR" => problems(&mut ctx)?,
        other => {
            return Err(MapError::UnsupportedMessageType(if other.is_empty() {
                "(empty MSH-9)".into()
            } else {
                other.to_string()
            }))
        }
    }
    if let Some(r) = h.sending_facility_hd().and_then(|hd| organization_hd(&mut ctx, hd)) {
        ctx.facility = Some(r);
    }
    let activity = format!("{mtype}^{trigger}");
    let (bundle, issues) = ctx.finish(recorded, &activity);
    Ok((Mapped { bundle, merges }, issues))
}

fn patient(ctx: &mut Ctx<'_>) -> Result<PatientRef, MapError> {
    let msg = ctx.msg;
    let pid = msg.segment("PID").ok_or(MapError::MissingSegment("PID"))?;
    map_patient(ctx, pid, msg.segment("PD1"))
}

fn encounter(ctx: &mut Ctx<'_>, trigger: &str, patient: &PatientRef) -> Option<Value> {
    let msg = ctx.msg;
    let pv1 = msg.segment("PV1")?;
    map_encounter(ctx, trigger, pv1, msg.segment("PV2"), msg.segment("EVN"), patient)
}

/// The nearest segment named `name` before `seg`, not looking past any of `stop`.
fn preceding<'m>(msg: &'m Message, seg: &Segment, name: &str, stop: &[&str]) -> Option<&'m Segment> {
    let i = msg.segments.iter().position(|s| std::ptr::eq(s, seg))?;
    msg.segments[..i].iter().rev().take_while(|s| !stop.contains(&s.name.as_str())).find(|s| s.name == name)
}

/// The nearest segment named `name` after `seg`, not looking past any of `stop`.
fn following<'m>(msg: &'m Message, seg: &Segment, name: &str, stop: &[&str]) -> Option<&'m Segment> {
    let i = msg.segments.iter().position(|s| std::ptr::eq(s, seg))?;
    msg.segments[i + 1..].iter().take_while(|s| !stop.contains(&s.name.as_str())).find(|s| s.name == name)
}

fn adt(ctx: &mut Ctx<'_>, trigger: &str, merges: &mut Vec<MergeRequest>) -> Result<(), MapError> {
    let msg = ctx.msg;
    let with_encounter = matches!(
        trigger,
        "A01"
            | "A02"
            | "A03"
            | "A04"
            | "A05"
            | "A06"
            | "A07"
            | "A08"
            | "A09"
            | "A10"
            | "A11"
            | "A12"
            | "A13"
            | "A14"
            | "A15"
            | "A16"
            | "A21"
            | "A22"
            | "A23"
            | "A25"
            | "A26"
            | "A27"
            | "A32"
            | "A33"
            | "A38"
            | "A52"
            | "A53"
            | "A54"
            | "A55"
    );
    match trigger {
        _ if with_encounter => {}
        "A28" | "A31" | "A29" | "A60" => {}
        "A40" | "A34" | "A18" | "A47" => return adt_merge(ctx, merges),
        "A41" | "A42" | "A44" | "A49" => {
            return Err(MapError::UnsupportedEvent {
                message_type: "ADT".into(),
                trigger: trigger.into(),
                reason: "account-level events: Lantern does not store patient accounts",
            })
        }
        "A45" | "A50" | "A51" | "A43" => {
            return Err(MapError::UnsupportedEvent {
                message_type: "ADT".into(),
                trigger: trigger.into(),
                reason: "moving visits or accounts between patients needs the identity service; send A40",
            })
        }
        "" => {
            return Err(MapError::MissingField {
                segment: "MSH".into(),
                field: 9,
                what: "trigger event (MSH-9.2) empty",
            })
        }
        _ => {
            return Err(MapError::UnsupportedEvent {
                message_type: "ADT".into(),
                trigger: trigger.into(),
                reason: "not a patient, visit, allergy or merge event Lantern records",
            })
        }
    }
    let p = patient(ctx)?;
    if trigger == "A29" {
        // Delete person information: the source record is withdrawn, not erased.
        let loc = msg.segment("PID").map(|pid| ctx.loc(pid, 3));
        ctx.info(loc, "A29: patient marked inactive; the source record is kept for audit");
        mark_patient_inactive(ctx);
    }
    let enc = if with_encounter { encounter(ctx, trigger, &p) } else { None };
    for nk1 in msg.segments_named("NK1") {
        map_nk1(ctx, nk1, &p);
    }
    for al1 in msg.segments_named("AL1").chain(msg.segments_named("IAM")) {
        map_allergy(ctx, al1, &p);
    }
    for dg1 in msg.segments_named("DG1") {
        map_dg1(ctx, dg1, &p, enc.as_ref());
    }
    for in1 in msg.segments_named("IN1") {
        map_in1(ctx, in1, &p);
    }
    let obx: Vec<&Segment> = msg.segments.iter().filter(|s| s.name == "OBX" || s.name == "NTE").collect();
    let oc = ObsContext {
        patient: &p,
        encounter: enc.as_ref(),
        order: None,
        default_time: msg.segment("EVN").map(|e| e.value(2)),
        laboratory: false,
    };
    for (o, notes) in with_notes(&obx) {
        map_obx(ctx, o, &notes, &oc);
    }
    for name in ["PR1", "GT1", "ROL", "ACC", "UB1", "UB2", "PDA", "DB1", "ARV"] {
        if let Some(seg) = msg.segment(name) {
            let loc = ctx.loc(seg, 0);
            ctx.info(Some(loc), format!("{name} segments are not mapped"));
        }
    }
    Ok(())
}

fn mark_patient_inactive(ctx: &mut Ctx<'_>) {
    ctx.set_first("Patient", "active", Value::Bool(false));
}

fn adt_merge(ctx: &mut Ctx<'_>, merges: &mut Vec<MergeRequest>) -> Result<(), MapError> {
    let msg = ctx.msg;
    let mut found = false;
    for pid in msg.segments_named("PID") {
        let mrg = following(msg, pid, "MRG", &["PID"]).ok_or(MapError::MissingSegment("MRG"))?;
        let pd1 = following(msg, pid, "PD1", &["PID", "MRG"]);
        let p = map_patient(ctx, pid, pd1)?;
        let full_url = p.reference["reference"].as_str().unwrap_or_default().to_string();
        match merge_request(pid, mrg, ctx.cfg, full_url) {
            Some(m) => merges.push(m),
            None => {
                let loc = ctx.loc(mrg, 1);
                ctx.warn(
                    crate::ErrorCode::RequiredFieldMissing,
                    Some(loc),
                    "MRG-1 has no prior identifier: nothing to merge",
                );
            }
        }
        found = true;
    }
    if !found {
        return Err(MapError::MissingSegment("PID"));
    }
    Ok(())
}

fn results(ctx: &mut Ctx<'_>) -> Result<(), MapError> {
    let msg = ctx.msg;
    if msg.segment("PID").is_none() {
        return Err(MapError::MissingSegment("PID"));
    }
    // One message can carry results for several patients: each PID starts a block.
    let mut patients: Vec<(usize, PatientRef, Option<Value>)> = Vec::new();
    for (i, seg) in msg.segments.iter().enumerate() {
        if seg.name == "PID" {
            let pd1 = following(msg, seg, "PD1", &["PID", "OBR", "ORC"]);
            let p = map_patient(ctx, seg, pd1)?;
            let enc = following(msg, seg, "PV1", &["PID", "OBR", "ORC"]).and_then(|pv1| {
                map_encounter(ctx, "R01", pv1, following(msg, pv1, "PV2", &["PID", "OBR"]), None, &p)
            });
            patients.push((i + 1, p, enc));
        }
    }
    let groups = msg.groups("OBR", OBR_MEMBERS);
    if groups.is_empty() {
        let loc = msg.segment("PID").map(|pid| ctx.loc(pid, 0));
        ctx.warn(crate::ErrorCode::SegmentSequence, loc, "result message without OBR: no report recorded");
    }
    for g in &groups {
        let Some((_, p, enc)) = patients.iter().rev().find(|(pos, _, _)| *pos < g.position) else { continue };
        let orc = preceding(msg, g.head, "ORC", &["OBR", "OBX", "PID"]).or_else(|| g.first("ORC"));
        map_obr_group(ctx, g, orc, p, enc.as_ref());
    }
    Ok(())
}

fn pharmacy(ctx: &mut Ctx<'_>, dispense: bool) -> Result<(), MapError> {
    let p = patient(ctx)?;
    let enc = encounter(ctx, "", &p);
    let msg = ctx.msg;
    let groups = msg.groups("ORC", ORDER_MEMBERS);
    if groups.is_empty() {
        return Err(MapError::MissingSegment("ORC"));
    }
    for g in &groups {
        let has_order = g.first("RXE").is_some() || g.first("RXO").is_some();
        let request = if has_order || !dispense { map_request(ctx, g, &p, enc.as_ref()) } else { None };
        if dispense {
            map_dispenses(ctx, g, &p, request.as_ref());
        }
    }
    for al1 in msg.segments_named("AL1") {
        map_allergy(ctx, al1, &p);
    }
    Ok(())
}

fn vaccinations(ctx: &mut Ctx<'_>) -> Result<(), MapError> {
    let p = patient(ctx)?;
    let msg = ctx.msg;
    let mut any = false;
    for rxa in msg.segments_named("RXA") {
        let orc = preceding(msg, rxa, "ORC", &["RXA", "PID"]);
        let rxr = following(msg, rxa, "RXR", &["RXA", "ORC"]);
        map_rxa(ctx, rxa, orc, rxr, &p);
        any = true;
    }
    if !any {
        return Err(MapError::MissingSegment("RXA"));
    }
    for nk1 in msg.segments_named("NK1") {
        map_nk1(ctx, nk1, &p);
    }
    if let Some(obx) = msg.segment("OBX") {
        let loc = ctx.loc(obx, 0);
        ctx.info(Some(loc), "VXU OBX (eligibility, VIS, funding) are not mapped");
    }
    Ok(())
}

fn documents(ctx: &mut Ctx<'_>, trigger: &str) -> Result<(), MapError> {
    let p = patient(ctx)?;
    let enc = encounter(ctx, "", &p);
    let msg = ctx.msg;
    let txa = msg.segment("TXA").ok_or(MapError::MissingSegment("TXA"))?;
    map_txa(ctx, trigger, txa, &p, enc.as_ref())?;
    Ok(())
}

fn scheduling(ctx: &mut Ctx<'_>, trigger: &str) -> Result<(), MapError> {
    if !matches!(trigger, "S12" | "S13" | "S14" | "S15" | "S16" | "S17" | "S26") {
        return Err(MapError::UnsupportedEvent {
            message_type: "SIU".into(),
            trigger: trigger.into(),
            reason: "only appointment booking, change, cancel, delete and no-show events are recorded",
        });
    }
    let msg = ctx.msg;
    let sch = msg.segment("SCH").ok_or(MapError::MissingSegment("SCH"))?;
    let p = match msg.segment("PID") {
        Some(_) => Some(patient(ctx)?),
        None => None,
    };
    map_sch(ctx, trigger, sch, p.as_ref())?;
    Ok(())
}

fn problems(ctx: &mut Ctx<'_>) -> Result<(), MapError> {
    let p = patient(ctx)?;
    let msg = ctx.msg;
    let mut any = false;
    for prb in msg.segments_named("PRB") {
        map_prb(ctx, prb, &p);
        any = true;
    }
    if !any {
        return Err(MapError::MissingSegment("PRB"));
    }
    Ok(())
}
