// PID (+PD1) -> Patient, after the v2-to-FHIR IG ConceptMaps "segment-pid-to-patient" and
// "segment-pd1-to-patient", with UK Core conventions (NHS number system, ethnic category).

use super::context::{prune, Ctx};
use super::datatypes::{self, IdKind};
use super::practitioner;
use super::vocab;
use super::MapError;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

/// The Patient entry of a message: its reference and the business key other maps build their
/// identifiers from.
#[derive(Debug, Clone)]
pub(crate) struct PatientRef {
    pub(crate) reference: Value,
    pub(crate) key: String,
}

/// Map the PID (and PD1 if present) of a message.
pub(crate) fn map_patient(
    ctx: &mut Ctx<'_>,
    pid: &Segment,
    pd1: Option<&Segment>,
) -> Result<PatientRef, MapError> {
    let cfg = ctx.cfg;
    let mut identifiers = Vec::new();
    let mut mrn: Option<String> = None;
    let mut other: Option<String> = None;
    let mut nhs: Option<String> = None;
    // PID-3 is the list; PID-2 (external id) and PID-4 (alternate id) are pre-2.5 leftovers.
    for field in [3, 2, 4] {
        for cx in pid.reps(field) {
            if let Some((kind, id)) = datatypes::identifier(cx, cfg) {
                let value = id["value"].as_str().unwrap_or_default().to_string();
                match kind {
                    IdKind::Mrn if mrn.is_none() => mrn = Some(value),
                    IdKind::NhsNumber if nhs.is_none() => nhs = Some(value),
                    IdKind::Other if other.is_none() => other = Some(value),
                    _ => {}
                }
                if !identifiers.contains(&id) {
                    identifiers.push(id);
                }
            }
        }
    }
    let (system, key) = match (mrn, other, nhs) {
        (Some(m), _, _) => (cfg.mrn_system(), m),
        (None, Some(o), _) => {
            let loc = ctx.loc(pid, 3);
            ctx.info(Some(loc), "no MRN in PID-3; patient keyed by its first other identifier");
            (cfg.system("patient-id"), o)
        }
        (None, None, Some(n)) => {
            let loc = ctx.loc(pid, 3);
            ctx.info(Some(loc), "only an NHS number in PID-3; patient keyed by it within this feed");
            (cfg.system("patient-id"), n)
        }
        (None, None, None) => {
            return Err(MapError::MissingField {
                segment: "PID".into(),
                field: 3,
                what: "patient identifier list (PID-3) has no usable identifier",
            })
        }
    };

    let names: Vec<Value> = pid.reps(5).filter_map(datatypes::human_name).collect();
    if names.is_empty() {
        let loc = ctx.loc(pid, 5);
        ctx.warn(ErrorCode::RequiredFieldMissing, Some(loc), "PID-5 patient name is empty");
    }
    let birth = ctx.date(pid, 7, pid.value(7));
    let gender_code = pid.value(8).trim();
    let gender = vocab::gender(gender_code);
    if gender.is_none() && !gender_code.is_empty() {
        let loc = ctx.loc(pid, 8);
        ctx.warn(
            ErrorCode::TableValueNotFound,
            Some(loc),
            format!("administrative sex {gender_code:?} not in table 0001"),
        );
    }
    let addresses: Vec<Value> = pid.reps(11).filter_map(datatypes::address).collect();
    let mut telecom: Vec<Value> = pid.reps(13).filter_map(datatypes::contact_point).collect();
    for mut t in pid.reps(14).filter_map(datatypes::contact_point) {
        if t["use"].is_null() {
            t["use"] = json!("work");
        }
        telecom.push(t);
    }
    let mut extension = Vec::new();
    let ethnic = [pid.value(22), pid.value(10)].into_iter().find_map(vocab::ethnic_category);
    extension.extend(ethnic);
    let mothers_maiden = pid.rep(6).map(|r| r.sub(1, 1).trim()).filter(|s| !s.is_empty());
    if let Some(m) = mothers_maiden {
        extension.push(json!({
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": m
        }));
    }
    let death_time = ctx.datetime(pid, 29, pid.value(29));
    let deceased_flag = pid.value(30).trim().to_ascii_uppercase();
    let (deceased_dt, deceased_bool) = match (death_time, deceased_flag.as_str()) {
        (Some(t), _) => (Some(t), None),
        (None, "Y") => (None, Some(true)),
        (None, "N") => (None, Some(false)),
        _ => (None, None),
    };
    let multiple_birth_order = pid.value(25).trim().parse::<u32>().ok();
    let multiple_birth_flag = match pid.value(24).trim() {
        "Y" => Some(true),
        "N" => Some(false),
        _ => None,
    };
    let language = pid.rep(15).and_then(datatypes::codeable);
    let owner = ctx.owner();

    let mut general_practitioner = Vec::new();
    if let Some(pd1) = pd1 {
        for xon in pd1.reps(3) {
            if let Some(r) = practitioner::organization_xon(ctx, xon) {
                general_practitioner.push(r);
            }
        }
        for xcn in pd1.reps(4) {
            if let Some(r) = practitioner::practitioner(ctx, xcn) {
                general_practitioner.push(r);
            }
        }
    }

    let resource = prune(json!({
        "extension": extension,
        "identifier": identifiers,
        "name": names,
        "telecom": telecom,
        "gender": gender,
        "birthDate": birth,
        "deceasedDateTime": deceased_dt,
        "deceasedBoolean": deceased_bool,
        "address": addresses,
        "maritalStatus": vocab::marital_status(pid.value(16)),
        "multipleBirthInteger": multiple_birth_order,
        "multipleBirthBoolean": if multiple_birth_order.is_some() { None } else { multiple_birth_flag },
        "communication": language.map(|l| vec![json!({ "language": l, "preferred": true })]),
        "generalPractitioner": general_practitioner,
        "managingOrganization": owner,
    }));
    let reference = ctx.add("Patient", &system, &key, resource);
    Ok(PatientRef { reference, key })
}

#[cfg(test)]
mod tests {
    use crate::map::{map_message, FeedConfig};
    use crate::parse;

    #[test]
    fn maps_uk_patient() {
        let (m, _) = parse(
            b"MSH|^~\\&|PAS|RVJ|LANTERN|LANTERN|20240101120000||ADT^A28^ADT_A05|C1|P|2.4\r\
EVN|A28|20240101120000\r\
PID|1||123456^^^RVJ^MR~9434765919^^^NHS^NH||SMITH^John^Paul^^Mr||19800101|M|||1 High St^^Bristol^^bs105nb^GB^H||07700900123^PRN^CP|||M||||||A|||||||20230101|Y\r",
        );
        let cfg = FeedConfig::new("nbt-pas", "RVJ", "North Bristol NHS Trust");
        let (mapped, issues) = map_message(&m, &cfg).unwrap();
        assert!(issues.iter().all(|i| i.severity != crate::Severity::Error), "{issues:?}");
        let entries = mapped.bundle["entry"].as_array().unwrap();
        let entry = entries.iter().find(|e| e["resource"]["resourceType"] == "Patient").unwrap();
        assert_eq!(
            entry["request"]["url"],
            "Patient?identifier=https://lantern.health/feed/nbt-pas/mrn|123456"
        );
        let p = &entry["resource"];
        assert_eq!(p["identifier"][1]["system"], "https://fhir.nhs.uk/Id/nhs-number");
        assert_eq!(p["address"][0]["postalCode"], "BS10 5NB");
        assert_eq!(p["gender"], "male");
        assert_eq!(p["deceasedDateTime"], "2023-01-01");
        assert_eq!(p["extension"][0]["valueCodeableConcept"]["coding"][0]["code"], "A");
        assert_eq!(p["meta"]["source"], "https://lantern.health/feed/nbt-pas#C1");
    }
}
