//! `ValueSet/$expand` (R4 §4.9.17.1): the concepts of a value set stored here (its expansion,
//! the concepts its compose lists, or the complete code systems it includes that are stored
//! here) or of one of R4's own, filtered by text and paged by `offset` and `count`. What cannot
//! be expanded without a terminology server is refused with the reason
//! (`lantern_store::search::value_sets`).
use crate::{Ctx, Error, Fhir, Handling};
use lantern_store::search::value_sets::Concept;
use serde_json::{json, Map, Value};

/// Which value set an operation is about.
enum Which<'a> {
    /// `ValueSet/[id]/$op`.
    Id(&'a str),
    /// The `url` parameter.
    Url(Option<String>),
    /// The `valueSet` parameter: a ValueSet given whole.
    Given(&'a Value),
}

/// The most concepts one page may hold (`count` above it is lowered to it).
const MAX_COUNT: usize = 1000;

impl Fhir {
    /// The value set named by id or `url`, or given whole, and its concepts; refused with the
    /// reason when it cannot be expanded here.
    async fn value_set_concepts(&self, which: Which<'_>, op: &str) -> Result<(Value, Vec<Concept>), Error> {
        let found = match which {
            Which::Given(vs) => {
                if vs.get("resourceType").and_then(Value::as_str) != Some("ValueSet") {
                    return Err(Error::bad(
                        "invalid",
                        Some("valueSet"),
                        "the valueSet parameter must be a ValueSet",
                    ));
                }
                self.store.expand_given_value_set(vs.clone()).await?.map(|c| (vs.clone(), c))
            }
            Which::Id(id) => self.store.expand_value_set(Some(id.to_string()), None).await?,
            Which::Url(None) => {
                return Err(Error::bad(
                    "required",
                    Some("url"),
                    format!("ValueSet/{op} needs the value set: its url, or the ValueSet itself (valueSet)"),
                ))
            }
            Which::Url(url) => self.store.expand_value_set(None, url).await?,
        };
        found.map_err(|why| Error::bad("not-supported", Some("url"), why))
    }

    /// `ValueSet/$expand`: of `ValueSet/[id]` (`id`), of a ValueSet given whole (`given`, the
    /// `valueSet` parameter: expanded as a stored one would be, with the code systems and
    /// value sets it includes that are stored here), else of the `url` parameter's.
    pub async fn expand(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        given: Option<&Value>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let (mut url, mut filter, mut count, mut offset) = (None, None, MAX_COUNT, 0usize);
        let number = |k: &str, v: &str| {
            v.parse::<usize>()
                .map_err(|_| Error::bad("invalid", Some(k), format!("{k} must be a whole number, not '{v}'")))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "url" => url = Some(v.clone()),
                "filter" => filter = Some(v.clone()),
                "count" => count = number(k, v)?.min(MAX_COUNT),
                "offset" => offset = number(k, v)?,
                // Answered by the HTTP layer; or about versions and languages Lantern keeps one of.
                "_format" | "_pretty" | "valueSetVersion" | "displayLanguage" | "includeDesignations" => {}
                _ if ctx.handling == Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("ValueSet/$expand does not support the parameter '{k}'"),
                    ))
                }
                _ => {}
            }
        }
        let which = match (given, id) {
            (Some(vs), _) => Which::Given(vs),
            (None, Some(id)) => Which::Id(id),
            (None, None) => Which::Url(url.clone()),
        };
        let (vs, concepts) = self.value_set_concepts(which, "$expand").await?;
        let lowered = filter.as_deref().map(str::to_lowercase).unwrap_or_default();
        let words: Vec<&str> = lowered.split_whitespace().collect();
        let matching: Vec<_> = concepts
            .into_iter()
            .filter(|c| {
                let text = format!("{} {}", c.code, c.display.as_deref().unwrap_or("")).to_lowercase();
                words.iter().all(|w| text.contains(w))
            })
            .collect();
        let total = matching.len();
        let contains: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|c| {
                let mut o = Map::new();
                if let Some(s) = c.system {
                    o.insert("system".into(), s.into());
                }
                o.insert("code".into(), c.code.into());
                if let Some(d) = c.display {
                    o.insert("display".into(), d.into());
                }
                Value::Object(o)
            })
            .collect();
        let mut parameters = Vec::new();
        if let Some(f) = &filter {
            parameters.push(json!({"name": "filter", "valueString": f}));
        }
        parameters.push(json!({"name": "offset", "valueInteger": offset}));
        parameters.push(json!({"name": "count", "valueInteger": count}));
        let mut out = Map::new();
        out.insert("resourceType".into(), "ValueSet".into());
        for k in ["id", "url", "version", "name", "title", "status"] {
            if let Some(v) = vs.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        let mut expansion = json!({
            "identifier": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            "timestamp": lantern_store::clock::format_instant(self.store.now_micros()),
            "total": total,
            "offset": offset,
            "parameter": parameters,
        });
        if !contains.is_empty() {
            expansion["contains"] = Value::Array(contains);
        }
        out.insert("expansion".into(), expansion);
        Ok(Value::Object(out).to_string())
    }
}

impl Fhir {
    /// `CodeSystem/$lookup` (R4 §4.8.15.1): a code of a CodeSystem stored here, with its
    /// display, designations and properties.
    pub async fn lookup(&self, ctx: &Ctx, pairs: &[(String, String)]) -> Result<String, Error> {
        let (mut system, mut code) = (None, None);
        for (k, v) in pairs {
            match k.as_str() {
                "system" => system = Some(v.clone()),
                "code" => code = Some(v.clone()),
                "_format" | "_pretty" | "version" | "displayLanguage" | "property" | "date" => {}
                _ if ctx.handling == Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("CodeSystem/$lookup does not support the parameter '{k}'"),
                    ))
                }
                _ => {}
            }
        }
        let (Some(system), Some(code)) = (system, code) else {
            return Err(Error::bad("required", Some("code"), "CodeSystem/$lookup needs a system and a code"));
        };
        let cs = self.store.code_system(system.clone()).await?.ok_or_else(|| {
            Error::Store(lantern_store::StoreError::NotFound(format!(
                "the code system {system} (not stored here)"
            )))
        })?;
        let concept = find_concept(cs.get("concept"), &code).ok_or_else(|| {
            Error::Store(lantern_store::StoreError::NotFound(format!(
                "code '{code}' in the code system {system}"
            )))
        })?;
        let name = ["name", "title", "url"]
            .iter()
            .find_map(|k| cs.get(*k).and_then(Value::as_str))
            .unwrap_or(&system);
        let mut parameter = vec![json!({"name": "name", "valueString": name})];
        if let Some(v) = cs.get("version").and_then(Value::as_str) {
            parameter.push(json!({"name": "version", "valueString": v}));
        }
        if let Some(d) = concept.get("display").and_then(Value::as_str) {
            parameter.push(json!({"name": "display", "valueString": d}));
        }
        for d in concept.get("designation").and_then(Value::as_array).into_iter().flatten() {
            let mut part = Vec::new();
            if let Some(l) = d.get("language") {
                part.push(json!({"name": "language", "valueCode": l}));
            }
            if let Some(u) = d.get("use") {
                part.push(json!({"name": "use", "valueCoding": u}));
            }
            if let Some(v) = d.get("value") {
                part.push(json!({"name": "value", "valueString": v}));
            }
            parameter.push(json!({"name": "designation", "part": part}));
        }
        for p in concept.get("property").and_then(Value::as_array).into_iter().flatten() {
            let mut part =
                vec![json!({"name": "code", "valueCode": p.get("code").cloned().unwrap_or_default()})];
            if let Some((k, v)) = p.as_object().and_then(|o| o.iter().find(|(k, _)| k.starts_with("value"))) {
                part.push(json!({"name": "value", k.as_str(): v}));
            }
            parameter.push(json!({"name": "property", "part": part}));
        }
        Ok(json!({"resourceType": "Parameters", "parameter": parameter}).to_string())
    }

    /// `ValueSet/$validate-code` (R4 §4.9.17.2): whether a code (with its system, if given), a
    /// coding or a codeable concept is in a value set this server can expand — `ValueSet/[id]`,
    /// one given whole, or the `url` parameter's, as for [`Fhir::expand`] — and its display; a
    /// `display` that differs from the value set's is reported.
    pub async fn validate_code(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        given: Option<&Value>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let (mut url, mut system, mut code, mut display) = (None, None, None, None);
        // A codeable concept's codings, each `system<TAB>code` (see the HTTP layer): valid if
        // any of them is in the value set.
        let mut codings: Vec<(Option<String>, String)> = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "url" => url = Some(v.clone()),
                "system" => system = Some(v.clone()),
                "code" => code = Some(v.clone()),
                "display" => display = Some(v.clone()),
                "codeableConcept" => codings.push(match v.split_once('\t') {
                    Some((s, c)) => (Some(s.to_string()).filter(|s| !s.is_empty()), c.to_string()),
                    None => (None, v.clone()),
                }),
                "_format" | "_pretty" | "valueSetVersion" | "systemVersion" | "displayLanguage" => {}
                _ if ctx.handling == Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("ValueSet/$validate-code does not support the parameter '{k}'"),
                    ))
                }
                _ => {}
            }
        }
        if let Some(code) = code {
            codings.insert(0, (system.clone(), code));
        }
        if codings.is_empty() {
            return Err(Error::bad(
                "required",
                Some("code"),
                "ValueSet/$validate-code needs a code (or a coding, or a codeableConcept)",
            ));
        }
        let which = match (given, id) {
            (Some(vs), _) => Which::Given(vs),
            (None, Some(id)) => Which::Id(id),
            (None, None) => Which::Url(url.clone()),
        };
        let (vs, concepts) = self.value_set_concepts(which, "$validate-code").await?;
        let name =
            vs.get("url").and_then(Value::as_str).or(url.as_deref()).unwrap_or("the value set").to_string();
        let found = codings.iter().find_map(|(system, code)| {
            concepts
                .iter()
                .find(|c| &c.code == code && system.as_deref().is_none_or(|s| c.system.as_deref() == Some(s)))
        });
        let mut parameter = Vec::new();
        match found {
            None => {
                let what: Vec<String> = codings
                    .iter()
                    .map(|(system, code)| match system {
                        Some(s) => format!("{s}|{code}"),
                        None => code.clone(),
                    })
                    .collect();
                let what = match what.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("none of {} is", many.join(", ")),
                };
                parameter.push(json!({"name": "result", "valueBoolean": false}));
                parameter.push(json!({"name": "message", "valueString": format!("{what} not in {name}")}));
            }
            Some(c) => {
                parameter.push(json!({"name": "result", "valueBoolean": true}));
                if let (Some(given), Some(known)) = (&display, &c.display) {
                    if !given.eq_ignore_ascii_case(known) {
                        parameter.push(json!({"name": "message",
                            "valueString": format!("the display '{given}' is not the value set's ('{known}')")}));
                    }
                }
                if let Some(d) = &c.display {
                    parameter.push(json!({"name": "display", "valueString": d}));
                }
            }
        }
        Ok(json!({"resourceType": "Parameters", "parameter": parameter}).to_string())
    }
}

impl Fhir {
    /// `CodeSystem/$subsumes` (R4 §4.8.15.2): how `codeA` and `codeB` of a code system stored
    /// here relate in its is-a hierarchy (concepts nested in others, or `parent` and `child`
    /// properties): `equivalent`, `subsumes` (A is an ancestor of B), `subsumed-by` or
    /// `not-subsumed`.
    pub async fn subsumes(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let (mut a, mut b, mut system, mut systems) = (None, None, None, Vec::new());
        for (k, v) in pairs {
            match k.as_str() {
                "codeA" => a = Some(v.clone()),
                "codeB" => b = Some(v.clone()),
                "system" => system = Some(v.clone()),
                // From `codingA` and `codingB`: each must be in the one system compared.
                "systemA" | "systemB" => systems.push(v.clone()),
                "_format" | "_pretty" | "version" => {}
                _ if ctx.handling == Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("CodeSystem/$subsumes does not support the parameter '{k}'"),
                    ))
                }
                _ => {}
            }
        }
        let (Some(a), Some(b)) = (a, b) else {
            return Err(Error::bad(
                "required",
                Some("codeA"),
                "CodeSystem/$subsumes needs two codes (codeA and codeB, or codingA and codingB)",
            ));
        };
        let cs: Value = match id {
            Some(id) => crate::crud::resource_of(&self.read(ctx, "CodeSystem", id).await?)?,
            None => {
                let Some(url) = system.clone().or_else(|| systems.first().cloned()) else {
                    return Err(Error::bad(
                        "required",
                        Some("system"),
                        "CodeSystem/$subsumes needs the system",
                    ));
                };
                self.store.code_system(url.clone()).await?.ok_or_else(|| {
                    Error::Store(lantern_store::StoreError::NotFound(format!(
                        "the code system {url} (not stored here)"
                    )))
                })?
            }
        };
        let url = cs.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(other) = system.iter().chain(&systems).find(|s| **s != url) {
            return Err(Error::bad(
                "invalid",
                Some("system"),
                format!(
                    "{other} is not the code system compared ({url}): codes of two systems do not subsume"
                ),
            ));
        }
        if let Some(m) = cs.get("hierarchyMeaning").and_then(Value::as_str).filter(|m| *m != "is-a") {
            return Err(Error::bad(
                "not-supported",
                Some("system"),
                format!("the hierarchy of {url} means '{m}', not is-a: it says nothing of subsumption"),
            ));
        }
        let parents = hierarchy(&cs);
        for c in [&a, &b] {
            if !parents.contains_key(c.as_str()) {
                return Err(Error::Store(lantern_store::StoreError::NotFound(format!(
                    "code '{c}' in the code system {url}"
                ))));
            }
        }
        let outcome = if a == b {
            "equivalent"
        } else if ancestors(&parents, &b).contains(a.as_str()) {
            "subsumes"
        } else if ancestors(&parents, &a).contains(b.as_str()) {
            "subsumed-by"
        } else {
            "not-subsumed"
        };
        Ok(json!({"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]})
            .to_string())
    }
}

/// Every concept of a code system with its parents: the concept it is nested in, and those its
/// `parent` properties name (and the concepts whose `child` properties name it).
fn hierarchy(cs: &Value) -> std::collections::HashMap<&str, Vec<&str>> {
    fn walk<'a>(
        list: Option<&'a Value>,
        parent: Option<&'a str>,
        out: &mut std::collections::HashMap<&'a str, Vec<&'a str>>,
    ) {
        for c in list.and_then(Value::as_array).into_iter().flatten() {
            let Some(code) = c.get("code").and_then(Value::as_str) else { continue };
            let entry = out.entry(code).or_default();
            entry.extend(parent);
            for p in c.get("property").and_then(Value::as_array).into_iter().flatten() {
                let value = p.get("valueCode").and_then(Value::as_str);
                match (p.get("code").and_then(Value::as_str), value) {
                    (Some("parent"), Some(v)) => out.entry(code).or_default().push(v),
                    (Some("child"), Some(v)) => out.entry(v).or_default().push(code),
                    _ => {}
                }
            }
            walk(c.get("concept"), Some(code), out);
        }
    }
    let mut out = std::collections::HashMap::new();
    walk(cs.get("concept"), None, &mut out);
    out
}

/// Every ancestor of `code` (a cycle in the data ends the walk, it does not loop).
fn ancestors<'a>(
    parents: &std::collections::HashMap<&'a str, Vec<&'a str>>,
    code: &str,
) -> std::collections::HashSet<&'a str> {
    let mut seen = std::collections::HashSet::new();
    let mut todo: Vec<&str> = parents.get(code).cloned().unwrap_or_default();
    while let Some(c) = todo.pop() {
        if seen.insert(c) {
            todo.extend(parents.get(c).into_iter().flatten());
        }
    }
    seen
}

/// A concept of a CodeSystem's (possibly nested) `concept` list.
fn find_concept<'a>(concepts: Option<&'a Value>, code: &str) -> Option<&'a Value> {
    for c in concepts.and_then(Value::as_array).into_iter().flatten() {
        if c.get("code").and_then(Value::as_str) == Some(code) {
            return Some(c);
        }
        if let Some(inner) = find_concept(c.get("concept"), code) {
            return Some(inner);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_come_from_nesting_and_properties_and_survive_cycles() {
        let cs = json!({"concept": [
            {"code": "animal", "concept": [{"code": "dog", "concept": [{"code": "puppy"}]}]},
            {"code": "cat", "property": [{"code": "parent", "valueCode": "animal"}]},
            {"code": "pet", "property": [{"code": "child", "valueCode": "cat"}]},
            {"code": "a", "property": [{"code": "parent", "valueCode": "b"}]},
            {"code": "b", "property": [{"code": "parent", "valueCode": "a"}]}
        ]});
        let h = hierarchy(&cs);
        let up = |c: &str| {
            let mut v: Vec<&str> = ancestors(&h, c).into_iter().collect();
            v.sort_unstable();
            v
        };
        assert_eq!(up("puppy"), vec!["animal", "dog"]);
        assert_eq!(up("cat"), vec!["animal", "pet"]);
        assert!(up("animal").is_empty());
        assert_eq!(up("a"), vec!["a", "b"]);
    }
}
