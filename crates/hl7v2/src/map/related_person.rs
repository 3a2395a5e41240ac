// NK1 -> RelatedPerson, after the v2-to-FHIR IG "segment-nk1-to-relatedperson".

use super::context::{prune, Ctx};
use super::datatypes::{address, codeable, contact_point, human_name};
use super::patient::PatientRef;
use crate::message::Segment;
use serde_json::json;

/// Map one NK1. Keyed by patient + name + relationship, since NK1-1 set ids are only
/// positions within one message.
pub(crate) fn map_nk1(ctx: &mut Ctx<'_>, nk1: &Segment, patient: &PatientRef) {
    let names: Vec<_> = nk1.reps(2).filter_map(human_name).collect();
    let relationship = nk1.rep(3).and_then(codeable);
    let contact_role = nk1.rep(7).and_then(codeable);
    if names.is_empty() && relationship.is_none() {
        return;
    }
    let name_key = nk1.rep(2).map_or(String::new(), |n| format!("{} {}", n.sub(1, 1), n.get(2)));
    let key = format!(
        "{}|{}|{}",
        patient.key,
        name_key.trim().to_uppercase(),
        nk1.component(3, 1).trim().to_uppercase()
    );
    let mut telecom: Vec<_> = nk1.reps(5).filter_map(contact_point).collect();
    for mut t in nk1.reps(6).filter_map(contact_point) {
        if t["use"].is_null() {
            t["use"] = json!("work");
        }
        telecom.push(t);
    }
    let start = ctx.date(nk1, 8, nk1.value(8));
    let end = ctx.date(nk1, 9, nk1.value(9));
    let resource = prune(json!({
        "active": true,
        "patient": patient.reference,
        "relationship": [relationship, contact_role],
        "name": names,
        "telecom": telecom,
        "address": nk1.reps(4).filter_map(address).collect::<Vec<_>>(),
        "period": { "start": start, "end": end },
    }));
    let system = ctx.cfg.system("related-person");
    ctx.add("RelatedPerson", &system, &key, resource);
}
