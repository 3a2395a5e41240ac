// SCH (+TQ1, AIS, AIG, AIL, AIP) -> Appointment, after the v2-to-FHIR IG "segment-sch-to-
// appointment", "segment-ail-to-appointment", "segment-aip-to-appointment" and the SIU message
// maps (v2 chapter 10: S12 new, S13 reschedule, S14 modify, S15 cancel, S16 discontinue,
// S17 delete, S26 no-show).

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::datetime::add_minutes;
use super::location::location;
use super::patient::PatientRef;
use super::practitioner::practitioner;
use super::MapError;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

fn status(trigger: &str, sch: &Segment) -> &'static str {
    match trigger {
        "S15" | "S16" => "cancelled",
        "S17" => "entered-in-error",
        "S26" => "noshow",
        _ => match sch.component(25, 1).trim().to_ascii_lowercase().as_str() {
            "complete" => "fulfilled",
            "started" => "arrived",
            "noshow" => "noshow",
            "pending" => "pending",
            "waitlist" => "waitlist",
            "cancelled" | "deleted" | "dc" => "cancelled",
            _ => "booked",
        },
    }
}

/// Duration in minutes from a number and a CNE/CWE unit (table ISO+ / ANSI: min, s, h, d).
fn minutes(amount: &str, unit: &str) -> Option<u32> {
    let n: f64 = amount.trim().parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "min" | "m" | "minutes" => 1.0,
        "s" | "sec" => 1.0 / 60.0,
        "h" | "hr" | "hours" => 60.0,
        "d" | "day" => 1440.0,
        _ => return None,
    };
    let m = (n * factor).round();
    (0.0..1.0e6).contains(&m).then_some(m as u32)
}

/// Map the appointment of an SIU message.
pub(crate) fn map_sch(
    ctx: &mut Ctx<'_>,
    trigger: &str,
    sch: &Segment,
    patient: Option<&PatientRef>,
) -> Result<Value, MapError> {
    let filler = sch.component(2, 1).trim();
    let placer = sch.component(1, 1).trim();
    let (kind, key) = if !filler.is_empty() {
        ("appointment", filler)
    } else if !placer.is_empty() {
        ("appointment-placer", placer)
    } else {
        return Err(MapError::MissingField {
            segment: "SCH".into(),
            field: 2,
            what: "no filler (SCH-2) or placer (SCH-1) appointment id",
        });
    };
    let msg = ctx.msg;
    let tq1 = msg.segment("TQ1");
    let ais = msg.segment("AIS");
    let start_raw = [sch.component(11, 4), tq1.map_or("", |t| t.value(7)), ais.map_or("", |a| a.value(4))]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .unwrap_or("");
    let end_raw = [sch.component(11, 5), tq1.map_or("", |t| t.value(8))]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .unwrap_or("");
    let start = ctx.datetime(sch, 11, start_raw);
    let mut end = ctx.datetime(sch, 11, end_raw);
    let duration = minutes(sch.value(9), sch.component(10, 1))
        .or_else(|| ais.and_then(|a| minutes(a.value(7), a.component(8, 1))));
    if end.is_none() {
        end = start.as_deref().zip(duration).and_then(|(s, d)| add_minutes(s, d));
    }
    let (start, end, requested) = match (start, end) {
        (Some(s), Some(e)) => (Some(s), Some(e), None),
        (Some(s), None) => {
            let loc = ctx.loc(sch, 11);
            ctx.warn(
                ErrorCode::RequiredFieldMissing,
                Some(loc),
                "appointment has a start but no end or duration: kept as requested period",
            );
            (None, None, Some(json!([{ "start": s }])))
        }
        _ => (None, None, None),
    };
    let mut participants = Vec::new();
    if let Some(p) = patient {
        participants.push(json!({ "actor": p.reference, "required": "required", "status": "accepted" }));
    }
    for aip in msg.segments_named("AIP") {
        if let Some(r) = aip.rep(3).and_then(|x| practitioner(ctx, x)) {
            participants.push(json!({ "type": aip.rep(4).and_then(codeable).map(|t| vec![t]), "actor": r, "required": "required", "status": "accepted" }));
        }
    }
    for ail in msg.segments_named("AIL") {
        if let Some(r) = ail.rep(3).and_then(|pl| location(ctx, pl)) {
            participants.push(json!({ "actor": r, "required": "required", "status": "accepted" }));
        }
    }
    if participants.is_empty() {
        return Err(MapError::MissingField {
            segment: "SCH".into(),
            field: 0,
            what: "appointment has no patient, personnel or location",
        });
    }
    let service_types: Vec<Value> =
        msg.segments_named("AIS").filter_map(|a| a.rep(3).and_then(codeable)).collect();
    let reason = [sch.rep(7), sch.rep(6)].into_iter().flatten().find_map(codeable);
    let mut identifiers = Vec::new();
    if !placer.is_empty() && kind == "appointment" {
        identifiers.push(json!({ "system": ctx.cfg.system("appointment-placer"), "value": placer }));
    }
    let comment: Vec<String> = msg
        .segments_named("NTE")
        .flat_map(|n| n.reps(3))
        .map(|r| r.get(1).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let status = status(trigger, sch);
    let resource = prune(json!({
        "identifier": identifiers,
        "status": status,
        "cancelationReason": if status == "cancelled" { sch.rep(6).and_then(codeable) } else { None },
        "serviceType": service_types,
        "appointmentType": sch.rep(8).and_then(codeable),
        "reasonCode": reason.map(|r| vec![r]),
        "start": start,
        "end": end,
        "minutesDuration": duration.filter(|d| *d > 0),
        "comment": comment.join("\n"),
        "requestedPeriod": requested,
        "participant": participants,
    }));
    let system = ctx.cfg.system(kind);
    Ok(ctx.add("Appointment", &system, key, resource))
}
