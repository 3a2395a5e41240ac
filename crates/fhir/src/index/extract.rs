//! Evaluates a resource type's search parameters against a resource (R4 §3.1.1.5: what each
//! parameter type matches in each data type).
//!
//! Every expression is compiled once, when the [`Indexer`] is built, from the per-type branch
//! of the official definition (`expression_for`); extraction then walks the FHIRPath results and
//! converts each item by the parameter's type and the item's FHIR type.
use super::normalise::normalise_string;
use super::{IndexEntry, IndexValue};
use crate::datetime;
use lantern_fhirpath::{Expr, Item};
use lantern_r4::{SearchParamDef, SearchParamType as T};
use serde_json::Value;
use std::collections::HashMap;

/// Index values longer than this are cut: they are for finding, not for storing.
const MAX_TEXT: usize = 256;

struct Compiled {
    def: &'static SearchParamDef,
    expr: Expr,
    /// The parameter narrows another to one target type ([`lantern_r4::Shared::Narrows`]):
    /// its references are that one's rows, so only its `Reference.identifier`s are its own.
    narrows: bool,
    /// For composites: each component's expression, evaluated on each item.
    components: Vec<(T, Expr)>,
}

/// The compiled search-parameter expressions of every resource type.
pub struct Indexer {
    by_type: HashMap<&'static str, Vec<Compiled>>,
}

impl Default for Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Indexer {
    pub fn new() -> Self {
        let mut by_type = HashMap::new();
        for &t in lantern_r4::resource_types() {
            let mut list = Vec::new();
            for def in lantern_r4::search_params(t) {
                if matches!(
                    def.code,
                    "_id" | "_lastUpdated" | "_text" | "_content" | "_list" | "_has" | "_type" | "_query"
                ) {
                    continue; // kept on the resource row, or not indexed
                }
                let Some(src) = def.expression_for(t) else { continue };
                // A parameter that extends another is indexed by its own branches only: the
                // store finds the rest among the other's rows (`Catalog::param_rows`).
                let (src, narrows) = match lantern_r4::shared(t, def.code) {
                    Some(lantern_r4::Shared::Extends { extra: Some(extra), .. }) => (extra.as_str(), false),
                    Some(lantern_r4::Shared::Extends { extra: None, .. }) => continue,
                    Some(lantern_r4::Shared::Narrows { .. }) => (src, true),
                    None => (src, false),
                };
                let Ok(expr) = lantern_fhirpath::parse_search_expression(src) else { continue };
                let mut components = Vec::new();
                for c in def.components.iter() {
                    let kind =
                        lantern_r4::search_param_by_url(c.definition).map(|d| d.kind).unwrap_or(T::Token);
                    if let Ok(e) = lantern_fhirpath::parse_search_expression(c.expression) {
                        components.push((kind, e));
                    }
                }
                if def.kind == T::Composite && components.len() != def.components.len() {
                    continue;
                }
                list.push(Compiled { def, expr, narrows, components });
            }
            by_type.insert(t, list);
        }
        Indexer { by_type }
    }

    /// How many parameters are indexed for `rtype`.
    pub fn param_count(&self, rtype: &str) -> usize {
        self.by_type.get(rtype).map_or(0, Vec::len)
    }
}

/// The index entries of `resource` (whose `resourceType` selects the parameters).
pub fn extract(indexer: &Indexer, resource: &Value) -> Vec<IndexEntry> {
    let Some(rtype) = resource.get("resourceType").and_then(Value::as_str) else { return Vec::new() };
    let Some(params) = indexer.by_type.get(rtype) else { return Vec::new() };
    let mut out = Vec::with_capacity(params.len() * 2);
    for p in params {
        let Ok(items) = p.expr.evaluate(resource) else { continue };
        for item in &items {
            if p.def.kind == T::Composite {
                composite(p, resource, item, &mut out);
            } else {
                let from = out.len();
                convert(p.def.code, p.def.kind, item, &mut out);
                if p.narrows {
                    let added = out.split_off(from);
                    out.extend(
                        added.into_iter().filter(|e| !matches!(e.value, IndexValue::Reference { .. })),
                    );
                }
            }
        }
    }
    out.dedup();
    out
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn string_entry(param: &'static str, s: &str, out: &mut Vec<IndexEntry>) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(IndexEntry {
            param,
            value: IndexValue::String { norm: cut(&normalise_string(s)), exact: cut(s) },
        });
    }
}

fn text_entry(param: &'static str, s: Option<&str>, out: &mut Vec<IndexEntry>) {
    if let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) {
        out.push(IndexEntry { param, value: IndexValue::TokenText { norm: cut(&normalise_string(s)) } });
    }
}

fn token(param: &'static str, system: Option<&str>, code: Option<&str>, out: &mut Vec<IndexEntry>) {
    if let Some(c) = code.filter(|c| !c.is_empty()) {
        out.push(IndexEntry {
            param,
            value: IndexValue::Token {
                system: system.filter(|s| !s.is_empty()).map(str::to_string),
                code: cut(c),
            },
        });
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Converts one FHIRPath result item for a parameter of type `kind`.
fn convert(param: &'static str, kind: T, item: &Item<'_>, out: &mut Vec<IndexEntry>) {
    let ty = item.fhir_type().to_string();
    let json = item.json().cloned().or_else(|| item.to_json());
    let Some(v) = json.as_ref() else { return };
    match kind {
        T::String | T::Special => match ty.as_str() {
            "HumanName" => {
                for k in ["family", "text"] {
                    if let Some(x) = s(v, k) {
                        string_entry(param, x, out);
                    }
                }
                for k in ["given", "prefix", "suffix"] {
                    for x in
                        v.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                    {
                        string_entry(param, x, out);
                    }
                }
            }
            "Address" => {
                for k in ["text", "city", "district", "state", "postalCode", "country"] {
                    if let Some(x) = s(v, k) {
                        string_entry(param, x, out);
                    }
                }
                for x in
                    v.get("line").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    string_entry(param, x, out);
                }
            }
            _ => {
                if let Some(x) = v.as_str() {
                    string_entry(param, x, out);
                }
            }
        },
        T::Token => match ty.as_str() {
            "Coding" => {
                token(param, s(v, "system"), s(v, "code"), out);
                text_entry(param, s(v, "display"), out);
            }
            "CodeableConcept" => {
                for c in v.get("coding").and_then(Value::as_array).into_iter().flatten() {
                    token(param, s(c, "system"), s(c, "code"), out);
                    text_entry(param, s(c, "display"), out);
                }
                text_entry(param, s(v, "text"), out);
            }
            "Identifier" => {
                token(param, s(v, "system"), s(v, "value"), out);
                text_entry(param, v.pointer("/type/text").and_then(Value::as_str), out);
                if let Some(value) = s(v, "value").filter(|x| !x.is_empty()) {
                    let codings = v.pointer("/type/coding").and_then(Value::as_array).into_iter().flatten();
                    for c in codings {
                        if let Some(code) = s(c, "code").filter(|x| !x.is_empty()) {
                            out.push(IndexEntry {
                                param,
                                value: IndexValue::IdentifierOfType {
                                    system: s(c, "system").filter(|x| !x.is_empty()).map(str::to_string),
                                    code: cut(&format!("{code}|{value}")),
                                },
                            });
                        }
                    }
                }
            }
            "ContactPoint" => token(param, None, s(v, "value"), out),
            "boolean" => token(param, None, v.as_bool().map(|b| if b { "true" } else { "false" }), out),
            _ => {
                if let Some(x) = v.as_str() {
                    token(param, None, Some(x), out);
                }
            }
        },
        T::Reference => {
            if let Some(r) = s(v, "reference") {
                if let Some(value) = reference_value(r) {
                    out.push(IndexEntry { param, value });
                }
            } else if let Some(r) = v.as_str() {
                // canonical or uri elements searched as references
                if let Some(value) = reference_value(r) {
                    out.push(IndexEntry { param, value });
                }
            }
            if let Some(id) = v.get("identifier") {
                if let Some(code) = s(id, "value") {
                    out.push(IndexEntry {
                        param,
                        value: IndexValue::ReferenceIdentifier {
                            system: s(id, "system").map(str::to_string),
                            code: cut(code),
                        },
                    });
                }
            }
        }
        T::Date => {
            let range = match ty.as_str() {
                "Period" => {
                    let lo = s(v, "start").and_then(datetime::range).map_or(i64::MIN, |r| r.0);
                    let hi = s(v, "end").and_then(datetime::range).map_or(i64::MAX, |r| r.1);
                    (lo != i64::MIN || hi != i64::MAX).then_some((lo, hi))
                }
                "Timing" => {
                    for e in v
                        .get("event")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if let Some((lo, hi)) = datetime::range(e) {
                            out.push(IndexEntry { param, value: IndexValue::Date { lo, hi } });
                        }
                    }
                    None
                }
                _ => v.as_str().and_then(datetime::range),
            };
            if let Some((lo, hi)) = range {
                out.push(IndexEntry { param, value: IndexValue::Date { lo, hi } });
            }
        }
        T::Number => {
            if let Some(n) = number(v) {
                out.push(IndexEntry { param, value: IndexValue::Number { lo: n, hi: n } });
            }
        }
        T::Quantity => {
            if let Some(n) = v.get("value").and_then(number) {
                let system = s(v, "system").map(str::to_string);
                let code = s(v, "code").or_else(|| s(v, "currency"));
                if let Some(c) = code {
                    out.push(IndexEntry {
                        param,
                        value: IndexValue::Quantity {
                            system: system.clone(),
                            code: c.to_string(),
                            lo: n,
                            hi: n,
                        },
                    });
                }
                if let Some(u) = s(v, "unit").filter(|u| Some(*u) != code) {
                    out.push(IndexEntry {
                        param,
                        value: IndexValue::Quantity { system: None, code: u.to_string(), lo: n, hi: n },
                    });
                }
                if code.is_none() && s(v, "unit").is_none() {
                    out.push(IndexEntry {
                        param,
                        value: IndexValue::Quantity { system: None, code: String::new(), lo: n, hi: n },
                    });
                }
            }
        }
        T::Uri => {
            if let Some(x) = v.as_str() {
                out.push(IndexEntry { param, value: IndexValue::Uri { value: cut(x) } });
            }
        }
        T::Composite => {}
    }
}

/// Turns a Reference.reference string into an index value: `Type/id` (version dropped) or an
/// absolute URL. Contained (`#x`) and unresolved `urn:` references are not indexed.
fn reference_value(r: &str) -> Option<IndexValue> {
    if r.starts_with('#') || r.is_empty() {
        return None;
    }
    let r = match r.find("/_history/") {
        Some(i) => &r[..i],
        None => r,
    };
    if r.contains("://") || r.starts_with("urn:") {
        // An absolute URL whose last two segments are Type/id is also indexed as that local
        // reference's URL; matching by the URL text keeps it exact.
        return Some(IndexValue::Reference { target_type: String::new(), target_id: cut(r) });
    }
    let (t, id) = r.split_once('/')?;
    if !lantern_r4::is_resource_type(t) || id.is_empty() || id.contains('/') {
        return None;
    }
    Some(IndexValue::Reference { target_type: t.to_string(), target_id: id.to_string() })
}

/// Composite parameters: the key is every component but a trailing number/quantity, in the
/// text forms a search may use (`system|code` and `code`); a trailing number or quantity goes
/// into lo/hi so that prefixes work on it.
fn composite<'a>(p: &'a Compiled, resource: &'a Value, item: &Item<'a>, out: &mut Vec<IndexEntry>) {
    // Components are evaluated with the item as `$this`, keeping its FHIR type, so choice
    // elements inside a backbone element (`Observation.component.value[x]`) resolve.
    let ctx = lantern_fhirpath::Context::new().with_context(vec![item.clone()]);
    let mut forms: Vec<Vec<String>> = Vec::new();
    let mut trailing: Option<f64> = None;
    let n = p.components.len();
    for (i, (kind, expr)) in p.components.iter().enumerate() {
        let Ok(items) = expr.evaluate_with(resource, &ctx) else { return };
        let mut tmp = Vec::new();
        for it in &items {
            convert("c", *kind, it, &mut tmp);
        }
        let mut these = Vec::new();
        for e in tmp {
            match e.value {
                IndexValue::Token { system, code } => {
                    if let Some(s) = &system {
                        these.push(format!("{s}|{code}"));
                    } else {
                        these.push(format!("|{code}"));
                    }
                    these.push(code);
                }
                IndexValue::String { norm, .. } => these.push(norm),
                IndexValue::Quantity { lo, .. } | IndexValue::Number { lo, .. } if i == n - 1 => {
                    trailing = Some(lo)
                }
                IndexValue::Reference { target_type, target_id } => {
                    these.push(format!("{target_type}/{target_id}"))
                }
                IndexValue::Uri { value } => these.push(value),
                _ => {}
            }
        }
        if i == n - 1 && trailing.is_some() {
            break;
        }
        if these.is_empty() {
            return;
        }
        these.dedup();
        forms.push(these);
    }
    // Cross product of the forms, bounded (composites have two or three components).
    let mut keys = vec![String::new()];
    for f in &forms {
        let mut next = Vec::new();
        for k in &keys {
            for x in f.iter().take(6) {
                next.push(if k.is_empty() { x.clone() } else { format!("{k}${x}") });
            }
        }
        keys = next;
    }
    for key in keys {
        out.push(IndexEntry {
            param: p.def.code,
            value: IndexValue::Composite { key: cut(&key), lo: trailing, hi: trailing },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find<'a>(e: &'a [IndexEntry], p: &str) -> Vec<&'a IndexValue> {
        e.iter().filter(|x| x.param == p).map(|x| &x.value).collect()
    }

    #[test]
    fn observation_entries() {
        let ix = Indexer::new();
        let o = json!({
            "resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic BP"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-01T10:00:00Z",
            "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
        });
        let e = extract(&ix, &o);
        assert!(find(&e, "code").contains(&&IndexValue::Token {
            system: Some("http://loinc.org".into()),
            code: "8480-6".into()
        }));
        assert!(find(&e, "code").contains(&&IndexValue::TokenText { norm: "systolic bp".into() }));
        assert!(find(&e, "subject")
            .contains(&&IndexValue::Reference { target_type: "Patient".into(), target_id: "p1".into() }));
        // `patient` is `subject` pointing at a Patient, and `combo-code` is `code` plus
        // `component-code` (lantern_r4::shared): their values are found among those rows.
        assert!(find(&e, "patient").is_empty());
        assert!(find(&e, "combo-code").is_empty() && find(&e, "combo-code:text").is_empty());
        assert!(matches!(find(&e, "date")[0], IndexValue::Date { .. }));
        assert!(find(&e, "value-quantity")
            .iter()
            .any(|v| matches!(v, IndexValue::Quantity { code, lo, .. } if code == "mm[Hg]" && *lo == 120.0)));
        assert!(find(&e, "code-value-quantity").iter().any(|v| matches!(v, IndexValue::Composite { key, lo: Some(l), .. } if key == "http://loinc.org|8480-6" && *l == 120.0)));
        assert!(find(&e, "status").contains(&&IndexValue::Token { system: None, code: "final".into() }));
    }

    #[test]
    fn composites_inside_backbone_elements() {
        let ix = Indexer::new();
        let o = json!({
            "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "BP"},
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                           "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]
        });
        let e = extract(&ix, &o);
        let p = "component-code-value-quantity";
        assert!(
            find(&e, p).iter().any(|v| matches!(v, IndexValue::Composite { key, lo: Some(l), .. } if key == "http://loinc.org|8462-4" && *l == 80.0)),
            "{p}: {:?}", find(&e, p)
        );
        // Found through the component parameter's rows (lantern_r4::shared).
        assert!(find(&e, "combo-code-value-quantity").is_empty());
    }

    #[test]
    fn patient_names_and_identifiers() {
        let ix = Indexer::new();
        let p = json!({
            "resourceType": "Patient", "id": "p1",
            "meta": {"tag": [{"system": "https://lantern.health/feed", "code": "gp1"}]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
            "name": [{"family": "Brontë", "given": ["Zoë", "Anne"]}],
            "birthDate": "1980-02-29", "gender": "female",
            "address": [{"postalCode": "BS1 4DJ", "line": ["1 High St"]}]
        });
        let e = extract(&ix, &p);
        let names = find(&e, "name");
        assert!(names.contains(&&IndexValue::String { norm: "bronte".into(), exact: "Brontë".into() }));
        assert!(names.contains(&&IndexValue::String { norm: "zoe".into(), exact: "Zoë".into() }));
        assert!(find(&e, "identifier").contains(&&IndexValue::Token {
            system: Some("https://fhir.nhs.uk/Id/nhs-number".into()),
            code: "9000000009".into()
        }));
        assert!(find(&e, "address-postalcode")
            .contains(&&IndexValue::String { norm: "bs1 4dj".into(), exact: "BS1 4DJ".into() }));
        assert!(find(&e, "_tag").contains(&&IndexValue::Token {
            system: Some("https://lantern.health/feed".into()),
            code: "gp1".into()
        }));
        assert_eq!(find(&e, "birthdate").len(), 1);
    }

    #[test]
    fn references_drop_versions_and_skip_contained() {
        assert_eq!(
            reference_value("Patient/1/_history/2"),
            Some(IndexValue::Reference { target_type: "Patient".into(), target_id: "1".into() })
        );
        assert_eq!(reference_value("#c1"), None);
        assert_eq!(reference_value("Nonsense/1"), None);
    }
}
