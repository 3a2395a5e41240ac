// Vocabulary maps from the v2-to-FHIR IG (ConceptMaps "table-hl70001-to-administrative-gender",
// "table-hl70002-to-v3-MaritalStatus", "table-hl70004-to-encounter-class", "table-hl70200-to-
// name-use", "table-hl70201-to-contact-point-use", "table-hl70202-to-contact-point-system",
// "table-hl70078-to-observation-interpretation") plus NHS Data Dictionary ETHNIC CATEGORY
// (UK Core) and a small table of units to UCUM.

use serde_json::{json, Value};

/// Table 0001 administrative sex -> FHIR administrative-gender.
pub(crate) fn gender(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "M" => Some("male"),
        "F" => Some("female"),
        "O" | "A" => Some("other"),
        "U" | "N" => Some("unknown"),
        _ => None,
    }
}

/// Table 0002 marital status -> v3 MaritalStatus coding.
pub(crate) fn marital_status(code: &str) -> Option<Value> {
    let (c, display) = match code.trim().to_ascii_uppercase().as_str() {
        "A" | "E" => ("L", "Legally Separated"),
        "D" => ("D", "Divorced"),
        "M" => ("M", "Married"),
        "S" => ("S", "Never Married"),
        "W" => ("W", "Widowed"),
        "C" | "G" | "P" | "R" => ("T", "Domestic partner"),
        "N" => ("A", "Annulled"),
        "I" => ("I", "Interlocutory"),
        "B" => ("U", "unmarried"),
        "U" | "T" => ("UNK", "unknown"),
        "O" => ("OTH", "other"),
        _ => return None,
    };
    let system = if matches!(c, "UNK" | "OTH") {
        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
    } else {
        "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
    };
    Some(json!({ "coding": [{ "system": system, "code": c, "display": display }] }))
}

/// NHS Data Dictionary ethnic category (England), if the value looks like one.
pub(crate) fn ethnic_category(code: &str) -> Option<Value> {
    let display = match code.trim() {
        "A" => "White - British",
        "B" => "White - Irish",
        "C" => "White - Any other White background",
        "D" => "Mixed - White and Black Caribbean",
        "E" => "Mixed - White and Black African",
        "F" => "Mixed - White and Asian",
        "G" => "Mixed - Any other mixed background",
        "H" => "Asian or Asian British - Indian",
        "J" => "Asian or Asian British - Pakistani",
        "K" => "Asian or Asian British - Bangladeshi",
        "L" => "Asian or Asian British - Any other Asian background",
        "M" => "Black or Black British - Caribbean",
        "N" => "Black or Black British - African",
        "P" => "Black or Black British - Any other Black background",
        "R" => "Other Ethnic Groups - Chinese",
        "S" => "Other Ethnic Groups - Any other ethnic group",
        "Z" => "Not stated",
        _ => return None,
    };
    Some(json!({
        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
        "valueCodeableConcept": { "coding": [{
            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland",
            "code": code.trim(), "display": display
        }]}
    }))
}

/// Table 0004 patient class -> v3 ActCode encounter class.
pub(crate) fn encounter_class(code: &str) -> Value {
    let (c, display) = match code.trim().to_ascii_uppercase().as_str() {
        "I" => ("IMP", "inpatient encounter"),
        "O" | "R" => ("AMB", "ambulatory"),
        "E" => ("EMER", "emergency"),
        "P" => ("PRENC", "pre-admission"),
        "B" => ("OBSENC", "observation encounter"),
        "C" => ("AMB", "ambulatory"),
        "H" => ("HH", "home health"),
        "V" => ("VR", "virtual"),
        _ => {
            return json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                "code": "UNK", "display": "unknown"
            })
        }
    };
    json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c, "display": display })
}

/// Table 0200 name type -> FHIR name-use.
pub(crate) fn name_use(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "L" | "B" | "C" => Some("official"),
        "D" | "A" | "R" => Some("usual"),
        "M" => Some("maiden"),
        "N" => Some("nickname"),
        "S" | "K" => Some("anonymous"),
        "T" => Some("temp"),
        "U" | "I" | "P" | "F" => None,
        _ => None,
    }
}

/// Table 0201 telecom use -> FHIR contact-point-use.
pub(crate) fn telecom_use(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "PRN" | "ORN" | "VHN" => Some("home"),
        "WPN" => Some("work"),
        "ASN" | "EMR" | "BPN" => Some("temp"),
        _ => None,
    }
}

/// Table 0202 telecom equipment type -> FHIR contact-point-system (and "mobile" use).
pub(crate) fn telecom_system(code: &str) -> (Option<&'static str>, bool) {
    match code.trim().to_ascii_uppercase().as_str() {
        "PH" | "MD" | "TDD" | "TTY" | "SAT" => (Some("phone"), false),
        "CP" => (Some("phone"), true),
        "FX" => (Some("fax"), false),
        "BP" => (Some("pager"), false),
        "INTERNET" | "X.400" => (Some("email"), false),
        _ => (None, false),
    }
}

/// Table 0078 abnormal flags -> v3 ObservationInterpretation coding.
pub(crate) fn interpretation(code: &str) -> Option<Value> {
    let c = code.trim();
    let display = match c {
        "L" => "Low",
        "H" => "High",
        "LL" => "Critical low",
        "HH" => "Critical high",
        "N" => "Normal",
        "A" => "Abnormal",
        "AA" => "Critical abnormal",
        "<" => "Off scale low",
        ">" => "Off scale high",
        "S" => "Susceptible",
        "R" => "Resistant",
        "I" => "Intermediate",
        "POS" => "Positive",
        "NEG" => "Negative",
        "IND" => "Indeterminate",
        "U" => "Significant change up",
        "D" => "Significant change down",
        "B" => "Better",
        "W" => "Worse",
        _ => return None,
    };
    Some(json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": c, "display": display
    }]}))
}

/// A unit string as a UCUM code, when we recognise it (`mg/dl` -> `mg/dL`, `beats/min` ->
/// `/min`, ...). Units already in UCUM form are accepted as they are.
pub(crate) fn ucum(unit: &str) -> Option<String> {
    let u = unit.trim();
    let mapped = match u.to_ascii_lowercase().as_str() {
        "mg/dl" => "mg/dL",
        "g/dl" => "g/dL",
        "g/l" => "g/L",
        "mmol/l" => "mmol/L",
        "umol/l" | "µmol/l" => "umol/L",
        "nmol/l" => "nmol/L",
        "pmol/l" => "pmol/L",
        "mu/l" | "miu/l" => "m[IU]/L",
        "u/l" | "iu/l" => "U/L",
        "ml/min" => "mL/min",
        "ml/min/1.73m2" => "mL/min/{1.73_m2}",
        "ng/ml" => "ng/mL",
        "ug/l" => "ug/L",
        "pg" => "pg",
        "fl" => "fL",
        "%" | "percent" => "%",
        "mmhg" | "mm hg" | "mm[hg]" => "mm[Hg]",
        "bpm" | "beats/min" | "/min" | "beats per minute" => "/min",
        "kg" => "kg",
        "g" => "g",
        "cm" => "cm",
        "m" => "m",
        "kg/m2" => "kg/m2",
        "cel" | "degc" | "°c" | "deg c" => "Cel",
        "10*9/l" | "x10^9/l" | "10^9/l" | "x10e9/l" => "10*9/L",
        "10*12/l" | "x10^12/l" | "10^12/l" | "x10e12/l" => "10*12/L",
        "10*3/ul" | "k/ul" | "x10^3/ul" => "10*3/uL",
        "10*6/ul" | "m/ul" | "x10^6/ul" => "10*6/uL",
        "mm/h" | "mm/hr" => "mm/h",
        "s" | "sec" => "s",
        "min" => "min",
        "h" | "hr" => "h",
        "d" | "day" | "days" => "d",
        "wk" | "week" | "weeks" => "wk",
        "mo" | "month" | "months" => "mo",
        "a" | "yr" | "year" | "years" => "a",
        "ml" => "mL",
        "l" => "L",
        "mg" => "mg",
        "ug" | "mcg" => "ug",
        "{ratio}" | "ratio" => "{ratio}",
        _ => return None,
    };
    Some(mapped.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies() {
        assert_eq!(gender("f"), Some("female"));
        assert_eq!(gender("X"), None);
        assert_eq!(marital_status("S").unwrap()["coding"][0]["code"], "S");
        assert!(ethnic_category("A").is_some());
        assert!(ethnic_category("2106-3").is_none());
        assert_eq!(encounter_class("E")["code"], "EMER");
        assert_eq!(ucum("mg/dl").as_deref(), Some("mg/dL"));
        assert_eq!(ucum("beats/min").as_deref(), Some("/min"));
        assert_eq!(ucum("furlongs"), None);
        assert_eq!(interpretation("H").unwrap()["coding"][0]["code"], "H");
    }
}
