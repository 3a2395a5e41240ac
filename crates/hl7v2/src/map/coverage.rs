// IN1 -> Coverage, after the v2-to-FHIR IG "segment-in1-to-coverage". In the UK most feeds
// carry no insurance; private-patient and overseas-visitor feeds do.

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::patient::PatientRef;
use super::practitioner::organization_xon;
use crate::message::Segment;
use serde_json::json;

/// Map one IN1.
pub(crate) fn map_in1(ctx: &mut Ctx<'_>, in1: &Segment, patient: &PatientRef) {
    let plan = in1.component(2, 1).trim();
    let company_id = in1.component(3, 1).trim();
    let company_name = in1.component(4, 1).trim();
    let policy = in1.component(36, 1).trim();
    let group = in1.component(8, 1).trim();
    if plan.is_empty() && company_id.is_empty() && company_name.is_empty() && policy.is_empty() {
        return;
    }
    let key = format!(
        "{}|{}|{}|{}",
        patient.key,
        plan,
        if company_id.is_empty() { company_name } else { company_id },
        policy
    );
    let payor = {
        let xon = in1.rep(4).cloned();
        match xon {
            Some(mut xon) if !company_id.is_empty() => {
                // IN1-3 carries the company id; give it to the XON as its identifier.
                while xon.components.len() < 10 {
                    xon.components.push(crate::Component::new(""));
                }
                xon.components[9] = crate::Component::new(company_id);
                organization_xon(ctx, &xon)
            }
            Some(xon) => organization_xon(ctx, &xon),
            None => None,
        }
    };
    let payor = payor.unwrap_or_else(
        || json!({ "display": if company_name.is_empty() { "unknown payor" } else { company_name } }),
    );
    let start = ctx.date(in1, 12, in1.value(12));
    let end = ctx.date(in1, 13, in1.value(13));
    let resource = prune(json!({
        "status": "active",
        "type": in1.rep(15).and_then(codeable),
        "subscriberId": policy,
        "beneficiary": patient.reference,
        "relationship": in1.rep(17).and_then(codeable),
        "period": { "start": start, "end": end },
        "payor": [payor],
        "class": if group.is_empty() { None } else { Some(vec![json!({
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group" }] },
            "value": group
        })]) },
    }));
    let system = ctx.cfg.system("coverage");
    ctx.add("Coverage", &system, &key, resource);
}
