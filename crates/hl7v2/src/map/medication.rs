// ORC/RXE/RXO/RXR -> MedicationRequest (v2-to-FHIR IG "segment-rxe-to-medicationrequest",
// "segment-rxo-to-medicationrequest", "segment-rxr-to-medicationrequest", ORC map) and
// RXD -> MedicationDispense ("segment-rxd-to-medicationdispense"); v2 chapter 4A (RDE O11/O25,
// RDS O13).

use super::context::{prune, Ctx};
use super::datatypes::{codeable, decimal};
use super::patient::PatientRef;
use super::practitioner::practitioner;
use crate::groups::Group;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

/// The members an ORC group of RDE/RDS can carry.
pub(crate) const ORDER_MEMBERS: &[&str] = &[
    "TQ1", "TQ2", "RXO", "RXE", "RXD", "RXR", "RXC", "RXA", "NTE", "OBX", "FT1", "CTI", "PRT", "BLG", "ZRX",
];

/// MedicationRequest.status from ORC-1 order control / ORC-5 order status.
fn request_status(orc: &Segment) -> &'static str {
    match (orc.value(1).trim(), orc.value(5).trim()) {
        (_, "CA") | ("CA" | "OC" | "CR", _) => "cancelled",
        (_, "DC") | ("DC" | "OD", _) => "stopped",
        (_, "HD") | ("HD" | "OH", _) => "on-hold",
        (_, "CM") => "completed",
        _ => "active",
    }
}

fn order_key(orc: &Segment) -> Option<(&'static str, &str)> {
    let placer = orc.component(2, 1).trim();
    let filler = orc.component(3, 1).trim();
    if !placer.is_empty() {
        Some(("placer-order", placer))
    } else if !filler.is_empty() {
        Some(("filler-order", filler))
    } else {
        None
    }
}

fn amount(value: &str, unit: Option<Value>) -> Option<Value> {
    let v = decimal(value)?;
    let unit_text = unit
        .as_ref()
        .and_then(|u| u["coding"][0]["code"].as_str().or(u["text"].as_str()).map(str::to_string));
    Some(json!({ "value": v, "unit": unit_text }))
}

/// Map the MedicationRequest of one ORC group; returns its reference.
pub(crate) fn map_request(
    ctx: &mut Ctx<'_>,
    group: &Group<'_>,
    patient: &PatientRef,
    encounter: Option<&Value>,
) -> Option<Value> {
    let orc = group.head;
    let rxe = group.first("RXE");
    let rxo = group.first("RXO");
    let medication = rxe
        .and_then(|r| r.rep(2))
        .and_then(codeable)
        .or_else(|| rxo.and_then(|r| r.rep(1)).and_then(codeable));
    let Some(medication) = medication else {
        let loc = ctx.loc(orc, 0);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "order has no RXE-2 or RXO-1 medication: request not recorded",
        );
        return None;
    };
    let Some((kind, number)) = order_key(orc) else {
        let loc = ctx.loc(orc, 2);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "order has no placer (ORC-2) or filler (ORC-3) number",
        );
        return None;
    };
    let routes: Vec<Value> = group.all("RXR").filter_map(|r| r.rep(1).and_then(codeable)).collect();
    let dose = rxe.and_then(|r| amount(r.value(3), r.rep(5).and_then(codeable)));
    let instructions = rxe
        .map(|r| r.component(7, 2).trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| rxe.map(|r| r.component(7, 1).trim().to_string()).filter(|s| !s.is_empty()));
    let tq1_text = group.first("TQ1").map(|t| t.component(3, 1).trim().to_string()).filter(|s| !s.is_empty());
    let dosage_text = [instructions, tq1_text].into_iter().flatten().collect::<Vec<_>>().join("; ");
    let dosage = json!({
        "text": dosage_text,
        "route": routes.first(),
        "doseAndRate": dose.map(|d| vec![json!({ "doseQuantity": d })]),
    });
    let dispense = rxe.map(|r| {
        json!({
            "quantity": amount(r.value(10), r.rep(11).and_then(codeable)),
            "numberOfRepeatsAllowed": r.value(12).trim().parse::<u32>().ok(),
        })
    });
    let authored = ctx.datetime(orc, 9, orc.value(9));
    let requester = orc.rep(12).and_then(|x| practitioner(ctx, x));
    let notes: Vec<Value> = group
        .all("NTE")
        .flat_map(|n| n.reps(3))
        .map(|r| r.get(1).trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| json!({ "text": t }))
        .collect();
    let filler = orc.component(3, 1).trim();
    let mut identifiers = Vec::new();
    if kind == "placer-order" && !filler.is_empty() {
        identifiers.push(json!({ "system": ctx.cfg.system("filler-order"), "value": filler }));
    }
    let resource = prune(json!({
        "identifier": identifiers,
        "status": request_status(orc),
        "intent": "order",
        "medicationCodeableConcept": medication,
        "subject": patient.reference,
        "encounter": encounter,
        "authoredOn": authored,
        "requester": requester,
        "note": notes,
        "dosageInstruction": [dosage],
        "dispenseRequest": dispense,
    }));
    let system = ctx.cfg.system(kind);
    Some(ctx.add("MedicationRequest", &system, number, resource))
}

/// Map each RXD of one ORC group to a MedicationDispense.
pub(crate) fn map_dispenses(
    ctx: &mut Ctx<'_>,
    group: &Group<'_>,
    patient: &PatientRef,
    request: Option<&Value>,
) {
    let orc = group.head;
    for rxd in group.all("RXD") {
        let Some(medication) = rxd.rep(2).and_then(codeable) else {
            let loc = ctx.loc(rxd, 2);
            ctx.warn(
                ErrorCode::RequiredFieldMissing,
                Some(loc),
                "RXD-2 dispense code empty: dispense not recorded",
            );
            continue;
        };
        let order = order_key(orc).map(|(_, n)| n.to_string()).unwrap_or_else(|| patient.key.clone());
        let prescription = rxd.component(7, 1).trim();
        let key = format!("{order}|{}|{}", rxd.value(1).trim(), prescription);
        let handed_over = ctx.datetime(rxd, 3, rxd.value(3));
        let performer = rxd.rep(10).and_then(|x| practitioner(ctx, x)).map(|p| vec![json!({ "actor": p })]);
        let resource = prune(json!({
            "status": if orc.value(1).trim() == "CA" { "cancelled" } else { "completed" },
            "medicationCodeableConcept": medication,
            "subject": patient.reference,
            "performer": performer,
            "authorizingPrescription": request.map(|r| vec![r.clone()]),
            "quantity": amount(rxd.value(4), rxd.rep(5).and_then(codeable)),
            "whenHandedOver": handed_over,
            "note": rxd.reps(9).map(|r| r.get(2).trim().to_string()).filter(|t| !t.is_empty()).map(|t| json!({ "text": t })).collect::<Vec<_>>(),
        }));
        let system = ctx.cfg.system("medication-dispense");
        ctx.add("MedicationDispense", &system, &key, resource);
    }
}
