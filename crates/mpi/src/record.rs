//! From a FHIR R4 Patient (UK Core profile where it says more) to what the matcher compares.
//!
//! * Name: the current `official` (else `usual`, else unlabelled) name; `old` and `maiden`
//!   names give previous surnames.
//! * Address: the current `home` address (else any current one); lines joined, postcode, city.
//! * Telecom: the first phone (mobile first) and the first e-mail.
//! * NHS number: the identifier with system `https://fhir.nhs.uk/Id/nhs-number`, checked with
//!   Modulus 11 by the engine. An invalid one is kept where the source put it (a plain
//!   identifier, searchable like any other) and flagged here; it is never used to link.
//!   Its UK Core verification status (extension
//!   `https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus`)
//!   is carried: `01` (present and verified) means verified, any other code unverified, none
//!   "not said".
//! * Birth order: `multipleBirthInteger` (a place in a multiple birth; the boolean says
//!   nothing of which twin).
use lantern_identity::{NhsNumber, NhsNumberStatus, Record};
use serde_json::Value;

/// UK Core's system for NHS numbers.
pub const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// UK Core's extension carrying an NHS number's verification status.
pub const VERIFICATION_EXTENSION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

/// What the index keeps of one source Patient.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Demographics {
    pub record: Record,
    /// Every identifier as (system, value); system "" when absent.
    pub identifiers: Vec<(String, String)>,
    /// The NHS number, ten digits, when valid.
    pub nhs: Option<String>,
    /// Why a supplied NHS number is not used.
    pub nhs_flag: Option<&'static str>,
    /// The UK Core verification status code (`01` ... `08`), if given.
    pub verified: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn current(v: &Value) -> bool {
    v.pointer("/period/end").is_none()
}

fn pick<'a>(items: &'a [Value], uses: &[&str]) -> Option<&'a Value> {
    for u in uses {
        if let Some(v) = items.iter().find(|v| v.get("use").and_then(Value::as_str) == Some(u) && current(v))
        {
            return Some(v);
        }
    }
    items.iter().find(|v| v.get("use").is_none() && current(v))
}

/// Reads a Patient resource.
pub fn demographics(patient: &Value) -> Demographics {
    let mut d = Demographics::default();
    let r = &mut d.record;
    let empty = Vec::new();
    let names = patient.get("name").and_then(Value::as_array).unwrap_or(&empty);
    if let Some(n) = pick(names, &["official", "usual"]).or_else(|| names.first()) {
        let given: Vec<String> =
            n.get("given").and_then(Value::as_array).into_iter().flatten().filter_map(text).collect();
        r.given_name = (!given.is_empty()).then(|| given.join(" "));
        r.family_name = n.get("family").and_then(text);
    }
    for n in names {
        if matches!(n.get("use").and_then(Value::as_str), Some("old" | "maiden")) {
            if let Some(f) = n.get("family").and_then(text) {
                if r.family_name.as_ref() != Some(&f) && !r.previous_family_names.contains(&f) {
                    r.previous_family_names.push(f);
                }
            }
        }
    }
    r.date_of_birth = patient.get("birthDate").and_then(text);
    r.birth_order =
        patient.get("multipleBirthInteger").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
    r.sex = patient.get("gender").and_then(text);
    let addresses = patient.get("address").and_then(Value::as_array).unwrap_or(&empty);
    if let Some(a) = pick(addresses, &["home"]).or_else(|| addresses.iter().find(|a| current(a))) {
        let lines: Vec<String> =
            a.get("line").and_then(Value::as_array).into_iter().flatten().filter_map(text).collect();
        r.address_line = (!lines.is_empty()).then(|| lines.join(", "));
        r.postcode = a.get("postalCode").and_then(text);
        r.town = a.get("city").and_then(text);
    }
    let telecom = patient.get("telecom").and_then(Value::as_array).unwrap_or(&empty);
    let system = |t: &Value, s: &str| t.get("system").and_then(Value::as_str) == Some(s);
    r.phone = telecom
        .iter()
        .filter(|t| system(t, "phone"))
        .min_by_key(|t| t.get("use").and_then(Value::as_str) != Some("mobile"))
        .and_then(|t| t.get("value").and_then(text));
    r.email = telecom.iter().find(|t| system(t, "email")).and_then(|t| t.get("value").and_then(text));
    for id in patient.get("identifier").and_then(Value::as_array).unwrap_or(&empty) {
        let Some(value) = id.get("value").and_then(text) else { continue };
        let sys = id.get("system").and_then(text).unwrap_or_default();
        if sys == NHS_SYSTEM && d.nhs.is_none() && d.nhs_flag.is_none() {
            match NhsNumber::parse(&value) {
                Ok(n) => d.nhs = Some(n.digits()),
                Err(e) => d.nhs_flag = Some(flag(e)),
            }
            d.verified = verification(id);
            r.nhs_number = Some(value.clone());
            r.nhs_number_verified = d.verified.as_deref().map(|c| c == "01");
        }
        d.identifiers.push((sys, value));
    }
    d
}

fn flag(s: NhsNumberStatus) -> &'static str {
    match s {
        NhsNumberStatus::Valid => "valid",
        NhsNumberStatus::BadCheckDigit => "bad_check_digit",
        NhsNumberStatus::Malformed => "malformed",
        NhsNumberStatus::Placeholder => "placeholder",
    }
}

fn verification(identifier: &Value) -> Option<String> {
    identifier
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(VERIFICATION_EXTENSION))?
        .pointer("/valueCodeableConcept/coding")?
        .as_array()?
        .iter()
        .find_map(|c| c.get("code").and_then(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_uk_core_patient() {
        let p = json!({
            "resourceType": "Patient",
            "identifier": [
                {"system": NHS_SYSTEM, "value": "943 476 5919", "extension": [{
                    "url": VERIFICATION_EXTENSION,
                    "valueCodeableConcept": {"coding": [{"code": "01"}]}}]},
                {"system": "https://rvj.example/mrn", "value": "M1"}
            ],
            "name": [
                {"use": "maiden", "family": "Jones"},
                {"use": "official", "family": "Smith", "given": ["Mary", "Anne"]}
            ],
            "gender": "female",
            "birthDate": "1980-01-02",
            "address": [
                {"use": "home", "line": ["1 Old Road"], "postalCode": "AB1 2CD", "period": {"end": "2010"}},
                {"use": "home", "line": ["10 High Street"], "city": "Bristol", "postalCode": "BS8 1TH"}
            ],
            "telecom": [{"system": "phone", "value": "0117 496 0000"}, {"system": "phone", "use": "mobile", "value": "07700 900123"}]
        });
        let d = demographics(&p);
        assert_eq!(d.record.given_name.as_deref(), Some("Mary Anne"));
        assert_eq!(d.record.family_name.as_deref(), Some("Smith"));
        assert_eq!(d.record.previous_family_names, vec!["Jones".to_string()]);
        assert_eq!(d.record.postcode.as_deref(), Some("BS8 1TH"));
        assert_eq!(d.record.phone.as_deref(), Some("07700 900123"));
        assert_eq!(d.nhs.as_deref(), Some("9434765919"));
        assert_eq!(d.verified.as_deref(), Some("01"));
        assert_eq!(d.record.nhs_number_verified, Some(true));
        assert_eq!(d.identifiers.len(), 2);
    }

    #[test]
    fn invalid_nhs_number_is_flagged_not_used() {
        let p =
            json!({"resourceType": "Patient", "identifier": [{"system": NHS_SYSTEM, "value": "9434765918"}]});
        let d = demographics(&p);
        assert_eq!(d.nhs, None);
        assert_eq!(d.nhs_flag, Some("bad_check_digit"));
        assert_eq!(d.identifiers, vec![(NHS_SYSTEM.to_string(), "9434765918".to_string())]);
    }
}
