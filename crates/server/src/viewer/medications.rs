//! Current medications merged across sources: one line per medicine, each source named.
//!
//! The GP prescribes, the hospital records what the patient was on at admission and what it
//! gave at discharge, the mental-health trust prescribes its own: the same medicine arrives
//! several times, coded differently (dm+d at the GP, free text or a local code from a PAS).
//! Lines are grouped by the medicine's name without strength and form ("Amlodipine 5mg tablets"
//! and "AMLODIPINE 10 MG TAB" are both amlodipine) and, where both carry one, by code; when the
//! sources' doses differ the line says so, because that is what medicines reconciliation is for.
use super::display;
use super::record::{org_name, Item};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub holder: String,
    pub feed: Option<String>,
    /// "prescribed" or "taking".
    pub kind: &'static str,
    pub dosage: String,
    pub since: Option<String>,
    pub updated: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Medicine {
    pub name: String,
    pub sources: Vec<Source>,
    pub doses_differ: bool,
}

/// Whether a MedicationRequest or MedicationStatement is current.
fn current(item: &Item) -> bool {
    let status = item.body.get("status").and_then(Value::as_str).unwrap_or("");
    match item.rtype.as_str() {
        "MedicationRequest" => matches!(status, "active" | "on-hold"),
        "MedicationStatement" => matches!(status, "active" | "intended"),
        _ => false,
    }
}

fn medicine_name(body: &Value) -> String {
    let c = display::concept(body.get("medicationCodeableConcept"));
    if !c.is_empty() {
        return c;
    }
    body.get("medicationReference")
        .and_then(|r| r.get("display"))
        .and_then(Value::as_str)
        .unwrap_or("(unnamed medicine)")
        .to_string()
}

/// The medicine's name without strength, form or units: the words before the first one with a
/// digit, less common form words.
pub(crate) fn name_key(name: &str) -> String {
    const FORMS: &[&str] = &[
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "oral",
        "solution",
        "suspension",
        "modified-release",
        "gastro-resistant",
        "dispersible",
        "inhaler",
        "cream",
        "injection",
        "mg",
        "microgram",
        "micrograms",
        "ml",
        "g",
    ];
    let words: Vec<String> = name
        .split(|c: char| c.is_whitespace() || c == '/' || c == ',' || c == '(' || c == ')')
        .map(|w| w.to_lowercase())
        .take_while(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !w.is_empty() && !FORMS.contains(&w.as_str()))
        .collect();
    if words.is_empty() {
        name.to_lowercase()
    } else {
        words.join(" ")
    }
}

fn dosage(body: &Value) -> String {
    let d = match body.get("dosageInstruction").or_else(|| body.get("dosage")) {
        Some(Value::Array(a)) => a.first(),
        other => other,
    };
    d.and_then(|d| d.get("text")).and_then(Value::as_str).unwrap_or("").to_string()
}

fn normalise_dose(d: &str) -> String {
    d.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn current_medications<'a>(
    items: impl Iterator<Item = &'a Item>,
    names: &HashMap<String, String>,
) -> Vec<Medicine> {
    // Codes seen with a name key, so a coded item and a text-only item of the same medicine
    // meet even when their words differ.
    let mut by_key: BTreeMap<String, Medicine> = BTreeMap::new();
    let mut key_of_code: HashMap<String, String> = HashMap::new();
    for item in items.filter(|i| current(i)) {
        let b = &item.body;
        let name = medicine_name(b);
        let code = display::concept_key(b.get("medicationCodeableConcept"));
        let key = code.as_ref().and_then(|c| key_of_code.get(c).cloned()).unwrap_or_else(|| name_key(&name));
        if let Some(c) = code {
            key_of_code.entry(c).or_insert_with(|| key.clone());
        }
        let source = Source {
            holder: display::holder(b)
                .map(|o| org_name(names, o))
                .unwrap_or_else(|| "an unknown source".into()),
            feed: display::feed(b),
            kind: if item.rtype == "MedicationRequest" { "prescribed" } else { "taking" },
            dosage: dosage(b),
            since: display::str_at(b, &["authoredOn"])
                .or_else(|| display::str_at(b, &["effectivePeriod", "start"]))
                .or_else(|| display::str_at(b, &["effectiveDateTime"]))
                .map(display::date),
            updated: display::updated(b).map(display::date_time),
        };
        let m = by_key.entry(key).or_insert_with(|| Medicine {
            name: name.clone(),
            sources: Vec::new(),
            doses_differ: false,
        });
        m.sources.push(source);
    }
    let mut out: Vec<Medicine> = by_key.into_values().collect();
    for m in &mut out {
        let doses: std::collections::BTreeSet<String> =
            m.sources.iter().map(|s| normalise_dose(&s.dosage)).filter(|d| !d.is_empty()).collect();
        m.doses_differ = doses.len() > 1;
        m.sources.sort_by(|a, b| a.holder.cmp(&b.holder));
    }
    out.sort_by_key(|m| m.name.to_lowercase());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(rtype: &str, body: Value) -> Item {
        Item { rtype: rtype.into(), id: "x".into(), body }
    }

    fn tag(ods: &str) -> Value {
        json!({"tag": [{"system": "https://lantern.health/organisation", "code": ods}]})
    }

    #[test]
    fn name_keys_drop_strength_and_form() {
        assert_eq!(name_key("Amlodipine 5mg tablets"), "amlodipine");
        assert_eq!(name_key("AMLODIPINE 10 MG TAB"), "amlodipine");
        assert_eq!(name_key("Salbutamol 100micrograms/dose inhaler"), "salbutamol");
        assert_eq!(name_key("Co-codamol 30mg/500mg tablets"), "co-codamol");
    }

    #[test]
    fn one_line_per_medicine_with_every_source() {
        let snomed = |code: &str, text: &str| json!({"coding": [{"system": "http://snomed.info/sct", "code": code, "display": text}]});
        let items = [
            item(
                "MedicationRequest",
                json!({"status": "active", "meta": tag("A81001"),
                "medicationCodeableConcept": snomed("319283006", "Amlodipine 5mg tablets"),
                "dosageInstruction": [{"text": "One daily"}]}),
            ),
            item(
                "MedicationStatement",
                json!({"status": "active", "meta": tag("RVJ"),
                "medicationCodeableConcept": {"text": "AMLODIPINE 10 MG TAB"}, "dosage": [{"text": "ONE DAILY"}]}),
            ),
            item(
                "MedicationRequest",
                json!({"status": "active", "meta": tag("RVJ"),
                "medicationCodeableConcept": snomed("319283006", "Amlodipine (as besilate) 5mg"), "dosageInstruction": [{"text": "Two daily"}]}),
            ),
            item(
                "MedicationRequest",
                json!({"status": "stopped", "meta": tag("A81001"),
                "medicationCodeableConcept": {"text": "Ramipril 5mg capsules"}}),
            ),
            item(
                "MedicationRequest",
                json!({"status": "active", "meta": tag("A81001"),
                "medicationCodeableConcept": {"text": "Metformin 500mg tablets"}}),
            ),
        ];
        let names = HashMap::from([("A81001".to_string(), "Riverside Surgery".to_string())]);
        let meds = current_medications(items.iter(), &names);
        assert_eq!(meds.len(), 2, "{meds:?}");
        assert_eq!(meds[0].name, "Amlodipine 5mg tablets");
        assert_eq!(meds[0].sources.len(), 3);
        assert!(meds[0].doses_differ);
        assert_eq!(meds[0].sources[0].holder, "RVJ");
        assert!(meds[0].sources.iter().any(|s| s.holder == "Riverside Surgery" && s.kind == "prescribed"));
        assert_eq!(meds[1].name, "Metformin 500mg tablets");
        assert!(!meds[1].doses_differ);
    }
}
