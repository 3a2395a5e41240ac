// AL1 -> AllergyIntolerance (v2-to-FHIR IG "segment-al1-to-allergyintolerance") and IAM, its
// v2.4+ successor used by ADT A60 (v2 chapter 3.4.7), mapped the same way.

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::patient::PatientRef;
use crate::message::Segment;
use serde_json::{json, Value};

/// Table 0127 allergen type -> category / type.
fn category(code: &str) -> (Option<&'static str>, Option<&'static str>) {
    match code.trim().to_ascii_uppercase().as_str() {
        "DA" => (Some("medication"), Some("allergy")),
        "FA" => (Some("food"), Some("allergy")),
        "EA" | "AA" | "PA" => (Some("environment"), Some("allergy")),
        "MA" => (None, Some("allergy")),
        "MC" => (None, Some("intolerance")),
        "LA" => (Some("environment"), Some("allergy")),
        "DI" => (Some("medication"), Some("intolerance")),
        _ => (None, None),
    }
}

/// Table 0128 severity -> criticality.
fn criticality(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "SV" => Some("high"),
        "MI" | "MO" => Some("low"),
        "U" => Some("unable-to-assess"),
        _ => None,
    }
}

/// Map an AL1 or IAM segment.
pub(crate) fn map_allergy(ctx: &mut Ctx<'_>, seg: &Segment, patient: &PatientRef) {
    let Some(code) = seg.rep(3).and_then(codeable) else {
        let loc = ctx.loc(seg, 3);
        ctx.warn(
            crate::ErrorCode::RequiredFieldMissing,
            Some(loc),
            "allergen (field 3) empty: allergy not recorded",
        );
        return;
    };
    let iam = seg.name == "IAM";
    let (reaction_field, onset_field) = if iam { (5, 11) } else { (5, 6) };
    let allergen_key =
        [seg.component(3, 1), seg.component(3, 2)].into_iter().find(|s| !s.trim().is_empty()).unwrap_or("");
    let unique = if iam { seg.component(7, 1).trim() } else { "" };
    let key = if unique.is_empty() {
        format!("{}|{}", patient.key, allergen_key.trim().to_uppercase())
    } else {
        unique.to_string()
    };
    let (cat, kind) = category(seg.component(2, 1));
    let reactions: Vec<Value> = seg
        .reps(reaction_field)
        .filter_map(|r| {
            let text = r.get(1).trim();
            (!text.is_empty()).then(|| json!({ "manifestation": [{ "text": text }] }))
        })
        .collect();
    let onset = ctx.datetime(seg, onset_field, seg.value(onset_field));
    // IAM-6 action code D = delete, X = no change; AL1 has none.
    let deleted = iam && seg.value(6).trim().eq_ignore_ascii_case("D");
    let resource = prune(json!({
        "clinicalStatus": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": if deleted { "inactive" } else { "active" }
        }]},
        "verificationStatus": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "code": if deleted { "entered-in-error" } else { "confirmed" }
        }]},
        "type": kind,
        "category": cat.map(|c| vec![c]),
        "criticality": criticality(seg.component(4, 1)),
        "code": code,
        "patient": patient.reference,
        "onsetDateTime": onset,
        "reaction": reactions,
    }));
    let system = ctx.cfg.system("allergy");
    ctx.add("AllergyIntolerance", &system, &key, resource);
}
