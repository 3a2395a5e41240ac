//! `_summary` and `_elements` (R4 §3.1.1.5.9-10): returning part of a resource. A trimmed
//! resource is marked with the SUBSETTED security tag so no one mistakes it for the whole.
use serde_json::{json, Map, Value};

fn mark_subsetted(obj: &mut Map<String, Value>) {
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        let tags = m.entry("tag").or_insert_with(|| json!([]));
        if let Some(a) = tags.as_array_mut() {
            a.push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "Resource encoded in summary mode"
            }));
        }
    }
}

const ALWAYS: &[&str] = &["resourceType", "id", "meta"];

/// Keeps only the named top-level elements (plus id, meta and mandatory ones).
pub fn apply_elements(resource: &mut Value, elements: &[String]) {
    let Some(obj) = resource.as_object_mut() else { return };
    let rtype = obj.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
    let keep = |k: &str| -> bool {
        if ALWAYS.contains(&k) {
            return true;
        }
        let base = k.trim_start_matches('_');
        elements.iter().any(|e| {
            let e = e.strip_prefix(&format!("{rtype}.")).unwrap_or(e);
            e == base
                || (base.starts_with(e)
                    && lantern_r4::child(&rtype, k)
                        .is_some_and(|c| c.is_choice && c.element.base_name() == e))
        }) || lantern_r4::child(&rtype, k).is_some_and(|c| c.min > 0)
    };
    obj.retain(|k, _| keep(k));
    mark_subsetted(obj);
}

/// Applies `_summary=true|text|data`.
pub fn apply_summary(resource: &mut Value, mode: lantern_fhir::search::Summary) {
    use lantern_fhir::search::Summary;
    let Some(obj) = resource.as_object_mut() else { return };
    let rtype = obj.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
    match mode {
        Summary::True => obj.retain(|k, _| {
            ALWAYS.contains(&k.as_str())
                || k == "implicitRules"
                || lantern_r4::child(&rtype, k).is_some_and(|c| c.element.is_summary || c.min > 0)
        }),
        Summary::Text => obj.retain(|k, _| {
            ALWAYS.contains(&k.as_str())
                || k == "text"
                || lantern_r4::child(&rtype, k).is_some_and(|c| c.min > 0)
        }),
        Summary::Data => {
            obj.remove("text");
        }
        Summary::Count | Summary::False => return,
    }
    mark_subsetted(obj);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_keep_named_and_mandatory() {
        let mut p = json!({"resourceType":"Patient","id":"1","name":[{"family":"X"}],"gender":"male","birthDate":"2000"});
        apply_elements(&mut p, &["name".to_string()]);
        assert!(p.get("name").is_some() && p.get("gender").is_none() && p.get("birthDate").is_none());
        assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
        let mut o = json!({"resourceType":"Observation","id":"1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1},"note":[{"text":"n"}]});
        apply_elements(&mut o, &["value".to_string()]);
        assert!(o.get("valueQuantity").is_some() && o.get("status").is_some() && o.get("note").is_none());
    }

    #[test]
    fn summary_drops_non_summary_elements() {
        let mut p = json!({"resourceType":"Patient","id":"1","name":[{"family":"X"}],"photo":[{"url":"x"}],"text":{"status":"generated","div":"<div/>"}});
        apply_summary(&mut p, lantern_fhir::search::Summary::True);
        assert!(p.get("name").is_some() && p.get("photo").is_none() && p.get("text").is_none());
    }
}
