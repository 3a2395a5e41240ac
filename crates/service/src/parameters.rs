//! An operation's Parameters body read as its GET query would be: the form every entry point
//! (HTTP POST, a POST entry inside a bundle) hands the operations, which take their
//! parameters as name/value pairs.
use crate::Error;
use serde_json::Value;

/// A Parameters parameter's primitive value as text (`valueString`, `valueUri`,
/// `valueInteger`, `valueBoolean`, ...): an operation's POST body read as its GET query would
/// be. None for a complex value (a Coding, a resource) or none at all.
pub fn primitive_value(p: &Value) -> Option<String> {
    let (_, v) = p.as_object()?.iter().find(|(k, _)| k.starts_with("value"))?;
    match v {
        Value::String(t) => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An operation's Parameters body, read into `pairs` as its query would be: each
/// primitive value by its name, a Coding as its parts, a codeable concept's codings (for
/// `$validate-code`). Returns the ValueSet sent whole as `valueSet`, if any. A parameter of a
/// shape not read here is refused, never skipped.
pub fn read_parameters(
    op: &str,
    b: &Value,
    pairs: &mut Vec<(String, String)>,
) -> Result<Option<Value>, Error> {
    let bad = |why: String| Error::bad("invalid", None, why);
    if b.get("resourceType").and_then(|t| t.as_str()) != Some("Parameters") {
        return Err(bad(format!("POST {op} takes a Parameters resource")));
    }
    let mut given = None;
    for p in b.get("parameter").and_then(|p| p.as_array()).into_iter().flatten() {
        let name =
            p.get("name").and_then(|n| n.as_str()).ok_or_else(|| bad("a parameter has no name".into()))?;
        if let Some(coding) = p.get("valueCoding") {
            // `coding` stands for `system`, `code` and `display` together; `$subsumes`'s
            // `codingA` and `codingB` for `codeA` and `codeB`, each with its system.
            let names: &[(&str, &str)] = match name {
                "codingA" => &[("system", "systemA"), ("code", "codeA")],
                "codingB" => &[("system", "systemB"), ("code", "codeB")],
                _ => &[("system", "system"), ("code", "code"), ("display", "display")],
            };
            for (k, as_name) in names {
                if let Some(v) = coding.get(*k).and_then(|v| v.as_str()) {
                    pairs.push((as_name.to_string(), v.to_string()));
                }
            }
            continue;
        }
        if let (Some(cc), "codeableConcept", "$validate-code") = (p.get("valueCodeableConcept"), name, op) {
            // Each coding, as `system<TAB>code`, for the service to try in turn.
            for c in cc.get("coding").and_then(|c| c.as_array()).into_iter().flatten() {
                if let Some(code) = c.get("code").and_then(|v| v.as_str()) {
                    let system = c.get("system").and_then(|v| v.as_str()).unwrap_or("");
                    pairs.push(("codeableConcept".into(), format!("{system}\t{code}")));
                }
            }
            continue;
        }
        if let Some(period) = p.get("valuePeriod") {
            // A Period as `start/end` (`Observation/$stats`'s `period`), either end open.
            let end = |k: &str| period.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            pairs.push((name.to_string(), format!("{}/{}", end("start"), end("end"))));
            continue;
        }
        if let (Some(vs), "valueSet", "$expand" | "$validate-code") = (p.get("resource"), name, op) {
            given = Some(vs.clone());
            continue;
        }
        let value = primitive_value(p).ok_or_else(|| {
            bad(format!(
                "parameter '{name}' of {op} has a value Lantern does not read here (a codeable \
                 concept, or a resource where none is taken): send system and code, or name the \
                 value set or code system by url"
            ))
        })?;
        pairs.push((name.to_string(), value));
    }
    Ok(given)
}
