// RXA (+RXR, ORC) -> Immunization, after the v2-to-FHIR IG "segment-rxa-to-immunization" and
// the VXU_V04 message map (v2 chapter 4A.3.7; CDC immunization IG conventions for RXA-9/20).

use super::context::{prune, Ctx};
use super::datatypes::{codeable, decimal};
use super::location::location;
use super::patient::PatientRef;
use super::practitioner::{organization_xon, practitioner};
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::json;

/// Map one RXA with its order and route.
pub(crate) fn map_rxa(
    ctx: &mut Ctx<'_>,
    rxa: &Segment,
    orc: Option<&Segment>,
    rxr: Option<&Segment>,
    patient: &PatientRef,
) {
    let Some(vaccine) = rxa.rep(5).and_then(codeable) else {
        let loc = ctx.loc(rxa, 5);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "RXA-5 administered code empty: immunization not recorded",
        );
        return;
    };
    let Some(when) = ctx.datetime(rxa, 3, rxa.value(3)) else {
        let loc = ctx.loc(rxa, 3);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "RXA-3 administration time empty: immunization not recorded",
        );
        return;
    };
    let filler = orc.map(|o| o.component(3, 1).trim()).filter(|s| !s.is_empty());
    let placer = orc.map(|o| o.component(2, 1).trim()).filter(|s| !s.is_empty());
    let key = filler
        .or(placer)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}|{}|{}", patient.key, rxa.value(3).trim(), rxa.component(5, 1).trim()));
    let completion = rxa.value(20).trim().to_ascii_uppercase();
    let action = rxa.value(21).trim().to_ascii_uppercase();
    let status = if action == "D" {
        "entered-in-error"
    } else if matches!(completion.as_str(), "RE" | "NA") {
        "not-done"
    } else {
        "completed"
    };
    let dose = decimal(rxa.value(6)).filter(|_| rxa.value(6).trim() != "999");
    let unit = rxa.rep(7).map(|u| u.get(1).trim().to_string()).filter(|s| !s.is_empty());
    let primary_source = match rxa.component(9, 1).trim() {
        "00" => Some(true),
        "" => None,
        _ => Some(false),
    };
    let performer: Vec<_> = rxa
        .reps(10)
        .filter_map(|x| practitioner(ctx, x))
        .map(|actor| {
            json!({ "function": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0443", "code": "AP", "display": "Administering Provider" }] }, "actor": actor })
        })
        .collect();
    let place = rxa.rep(27).or_else(|| rxa.rep(11)).and_then(|pl| location(ctx, pl));
    let manufacturer = rxa.rep(17).and_then(|m| {
        let (code, name) = (m.get(1).trim().to_string(), m.get(2).trim().to_string());
        let xon = crate::Repetition::from_components([name.as_str(), "", code.as_str()]);
        organization_xon(ctx, &xon)
    });
    let expiry = ctx.date(rxa, 16, rxa.value(16));
    let resource = prune(json!({
        "status": status,
        "statusReason": if status == "not-done" { rxa.rep(18).and_then(codeable) } else { None },
        "vaccineCode": vaccine,
        "patient": patient.reference,
        "occurrenceDateTime": when,
        "primarySource": primary_source,
        "location": place,
        "manufacturer": manufacturer,
        "lotNumber": rxa.value(15).trim(),
        "expirationDate": expiry,
        "route": rxr.and_then(|r| r.rep(1)).and_then(codeable),
        "site": rxr.and_then(|r| r.rep(2)).and_then(codeable),
        "doseQuantity": dose.map(|d| json!({ "value": d, "unit": unit })),
        "performer": performer,
    }));
    let system = ctx.cfg.system("immunization");
    ctx.add("Immunization", &system, &key, resource);
}
