//! Required terminology bindings (FHIR R4 §4.1.5 "Binding strength": `required` — "to be
//! conformant, the concept in this element SHALL be from the specified value set").
//!
//! In R4 the core required bindings sit on `code` elements (the small FHIR code systems:
//! statuses, genders, ...) and on a few `CodeableConcept`s (`Condition.clinicalStatus`, ...).
//! Value sets that cannot be enumerated from the specification package (UCUM, MIME types,
//! currencies) are not checked.
use serde_json::Value;

use lantern_r4::value_set;

/// Checks a `code` value against the required value set `url`; `Err` says why.
pub(crate) fn check_code(url: &str, code: &str) -> Result<(), String> {
    match value_set(url) {
        Some(vs) if !vs.contains(None, code) => {
            Err(format!("The code '{code}' is not in the required value set {url}"))
        }
        _ => Ok(()),
    }
}

/// Checks a `CodeableConcept` against the required value set `url`: at least one coding must
/// come from the value set (system and code).
pub(crate) fn check_codeable_concept(url: &str, cc: &serde_json::Map<String, Value>) -> Result<(), String> {
    let Some(vs) = value_set(url) else { return Ok(()) };
    let codings = cc.get("coding").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let matched = codings.iter().any(|c| {
        let system = c.get("system").and_then(Value::as_str);
        let code = c.get("code").and_then(Value::as_str);
        matches!((system, code), (Some(s), Some(k)) if vs.contains(Some(s), k))
    });
    if matched {
        Ok(())
    } else {
        Err(format!("No coding (system and code) is from the required value set {url}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_and_concepts() {
        let g = "http://hl7.org/fhir/ValueSet/administrative-gender";
        assert!(check_code(g, "female").is_ok());
        assert!(check_code(g, "F").is_err());
        assert!(check_code("http://hl7.org/fhir/ValueSet/ucum-units", "anything").is_ok());
        let cs = "http://hl7.org/fhir/ValueSet/condition-clinical";
        let sys = "http://terminology.hl7.org/CodeSystem/condition-clinical";
        let good =
            json!({"coding": [{"system": "http://x", "code": "y"}, {"system": sys, "code": "active"}]});
        assert!(check_codeable_concept(cs, good.as_object().unwrap()).is_ok());
        let bad = json!({"coding": [{"system": sys, "code": "nope"}]});
        assert!(check_codeable_concept(cs, bad.as_object().unwrap()).is_err());
        let text_only = json!({"text": "active"});
        assert!(check_codeable_concept(cs, text_only.as_object().unwrap()).is_err());
    }
}
