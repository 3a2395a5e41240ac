//! `ConceptMap/$translate` (R4 §4.10.14.1): a code translated by the ConceptMaps stored here,
//! e.g. a laboratory's local test codes to LOINC, or back with `reverse`.
//!
//! The maps are found by search, under the caller's access filter and through the index:
//! `ConceptMap/[id]/$translate` uses that one, `url` names one (whatever codes it has elements
//! for), and otherwise every map with an element for the code in its system (`source-system` and `source-code`; `target-system`
//! and `target-code` with `reverse`). For a code a group has no element for, the group's
//! `unmapped` applies (translating forward): `provided` gives the code itself in the target
//! system (equivalence `equal`), `fixed` the code it names (`inexact`: a catch-all is not a
//! translation), `other-map` whatever the ConceptMap it names gives (found by url, under the
//! caller's filter; maps naming each other are followed [`MAX_OTHER_MAPS`] deep). A map's
//! `dependsOn` conditions are reported as products would be, not evaluated.
use crate::{Ctx, Error, Fhir, Handling};
use serde_json::{json, Value};

/// Most ConceptMaps one translation reads (a first page of the search).
const MAX_MAPS: usize = 100;

/// How deep `unmapped` mode `other-map` is followed (a map naming another naming another...).
const MAX_OTHER_MAPS: usize = 3;

/// What is translated, and with which maps.
#[derive(Default)]
struct Ask {
    url: Option<String>,
    version: Option<String>,
    system: Option<String>,
    code: Option<String>,
    source: Option<String>,
    target: Option<String>,
    target_system: Option<String>,
    reverse: bool,
}

impl Fhir {
    /// `ConceptMap/$translate` (`id` for `ConceptMap/[id]/$translate`): a Parameters with
    /// `result`, a `message` when nothing maps, and a `match` per mapping found.
    pub async fn translate(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let ask = read_ask(ctx, pairs)?;
        let code = ask.code.clone().ok_or_else(|| {
            Error::bad("required", Some("code"), "ConceptMap/$translate needs a code (or a coding)")
        })?;
        if ask.system.is_none() {
            return Err(Error::bad(
                "required",
                Some("system"),
                "ConceptMap/$translate needs the code's system (a code means nothing without one)",
            ));
        }
        let maps = match id {
            Some(id) => vec![crate::crud::resource_of(&self.read(ctx, "ConceptMap", id).await?)?],
            None => self.candidate_maps(ctx, &ask, &code).await?,
        };
        let mut matches = Vec::new();
        let mut other_maps: Vec<String> = Vec::new();
        for map in &maps {
            if !map_applies(map, &ask) {
                continue;
            }
            let (found, others) = matches_in(map, &ask, &code);
            matches.extend(found);
            other_maps.extend(others);
        }
        // `unmapped` mode `other-map`: the maps named, found by url, asked the same question.
        let mut followed: Vec<String> = Vec::new();
        for _ in 0..MAX_OTHER_MAPS {
            let next: Vec<String> =
                std::mem::take(&mut other_maps).into_iter().filter(|u| !followed.contains(u)).collect();
            if next.is_empty() {
                break;
            }
            for url in next {
                followed.push(url.clone());
                let q = [("url".to_string(), url), ("_count".to_string(), MAX_MAPS.to_string())];
                let bundle: Value = serde_json::from_str(&self.search(ctx, Some("ConceptMap"), &q).await?)
                    .map_err(|e| Error::Store(lantern_store::StoreError::db(e)))?;
                for map in bundle["entry"].as_array().into_iter().flatten().map(|e| &e["resource"]) {
                    let (found, others) = matches_in(map, &ask, &code);
                    matches.extend(found);
                    other_maps.extend(others);
                }
            }
        }
        let found = matches.iter().any(|m| {
            let e = m["part"][0]["valueCode"].as_str().unwrap_or("");
            e != "unmatched" && e != "disjoint"
        });
        let mut parameter = vec![json!({"name": "result", "valueBoolean": found})];
        if !found {
            let system = ask.system.as_deref().unwrap_or("");
            let within = match (&ask.url, id) {
                (Some(u), _) => format!("the ConceptMap {u}"),
                (None, Some(i)) => format!("ConceptMap/{i}"),
                (None, None) => format!("the {} ConceptMap(s) stored here that name the code", maps.len()),
            };
            let why =
                if matches.is_empty() { "no mapping" } else { "only mappings marked unmatched or disjoint" };
            parameter.push(
                json!({"name": "message", "valueString": format!("{why} for {system}|{code} in {within}")}),
            );
        }
        parameter.extend(matches);
        Ok(json!({"resourceType": "Parameters", "parameter": parameter}).to_string())
    }

    /// The maps a translation without an id reads: found through the search index.
    async fn candidate_maps(&self, ctx: &Ctx, ask: &Ask, code: &str) -> Result<Vec<Value>, Error> {
        let (sys_param, code_param) =
            if ask.reverse { ("target-system", "target-code") } else { ("source-system", "source-code") };
        let mut q: Vec<(String, String)> = vec![("_count".into(), MAX_MAPS.to_string())];
        match &ask.url {
            // Named: that map, whether or not it has an element for the code (its `unmapped`
            // may still say something).
            Some(u) => q.push(("url".into(), u.clone())),
            None => {
                q.push((code_param.into(), code.to_string()));
                if let Some(s) = &ask.system {
                    q.push((sys_param.into(), s.clone()));
                }
            }
        }
        let mut search_ctx = ctx.clone();
        search_ctx.handling = Handling::Strict;
        let bundle: Value = serde_json::from_str(&self.search(&search_ctx, Some("ConceptMap"), &q).await?)
            .map_err(|e| Error::Store(lantern_store::StoreError::db(e)))?;
        Ok(bundle["entry"].as_array().into_iter().flatten().map(|e| e["resource"].clone()).collect())
    }
}

fn read_ask(ctx: &Ctx, pairs: &[(String, String)]) -> Result<Ask, Error> {
    let mut a = Ask::default();
    for (k, v) in pairs {
        match k.as_str() {
            "url" => a.url = Some(v.clone()),
            "conceptMapVersion" => a.version = Some(v.clone()),
            "system" => a.system = Some(v.clone()),
            "code" => a.code = Some(v.clone()),
            "source" => a.source = Some(v.clone()),
            "target" => a.target = Some(v.clone()),
            "targetsystem" => a.target_system = Some(v.clone()),
            "reverse" => {
                a.reverse = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::bad(
                            "invalid",
                            Some("reverse"),
                            format!("reverse is true or false, not '{v}'"),
                        ))
                    }
                }
            }
            // Conditions a map may set on other elements: not evaluated, so refused rather
            // than silently ignored.
            "dependency" => {
                return Err(Error::bad(
                    "not-supported",
                    Some("dependency"),
                    "ConceptMap/$translate here does not evaluate dependencies",
                ))
            }
            "_format" | "_pretty" | "version" | "display" => {}
            _ if ctx.handling == Handling::Strict => {
                return Err(Error::bad(
                    "not-supported",
                    Some(k.as_str()),
                    format!("ConceptMap/$translate does not support the parameter '{k}'"),
                ))
            }
            _ => {}
        }
    }
    Ok(a)
}

/// A canonical or URI element of `map` (`sourceUri` / `sourceCanonical`, say).
fn canonical(map: &Value, stem: &str) -> Option<String> {
    ["Uri", "Canonical"].iter().find_map(|s| map.get(format!("{stem}{s}")).and_then(Value::as_str)).map(|u| {
        // A canonical may carry `|version`: compared without it.
        u.split('|').next().unwrap_or(u).to_string()
    })
}

/// Whether the map is one the request allows: its url and version, and the value sets it maps
/// from and to (with `reverse`, its target is the request's source).
fn map_applies(map: &Value, a: &Ask) -> bool {
    let is = |want: &Option<String>, have: Option<String>| {
        want.as_ref().is_none_or(|w| have.as_deref() == Some(w))
    };
    let (from, to) = if a.reverse { ("target", "source") } else { ("source", "target") };
    is(&a.url, map.get("url").and_then(Value::as_str).map(str::to_string))
        && is(&a.version, map.get("version").and_then(Value::as_str).map(str::to_string))
        && is(&a.source, canonical(map, from))
        && is(&a.target, canonical(map, to))
}

/// R4's equivalence read the other way (`wider` one way is `narrower` back).
fn reversed(equivalence: &str) -> &str {
    match equivalence {
        "wider" => "narrower",
        "narrower" => "wider",
        "subsumes" => "specializes",
        "specializes" => "subsumes",
        other => other,
    }
}

fn coding(
    system: Option<&Value>,
    version: Option<&Value>,
    code: Option<&Value>,
    display: Option<&Value>,
) -> Value {
    let mut c = serde_json::Map::new();
    for (k, v) in [("system", system), ("version", version), ("code", code), ("display", display)] {
        if let Some(v) = v {
            c.insert(k.into(), v.clone());
        }
    }
    Value::Object(c)
}

/// Every `match` the map gives for the code, and the urls of the maps its groups' `unmapped`
/// hands the code on to (mode `other-map`).
fn matches_in(map: &Value, a: &Ask, code: &str) -> (Vec<Value>, Vec<String>) {
    let url = map.get("url").cloned();
    let mut out = Vec::new();
    let mut others = Vec::new();
    for g in map.get("group").and_then(Value::as_array).into_iter().flatten() {
        let (from, to) = if a.reverse { ("target", "source") } else { ("source", "target") };
        if a.system.as_deref().is_some_and(|s| g.get(from).and_then(Value::as_str) != Some(s)) {
            continue;
        }
        if a.target_system.as_deref().is_some_and(|s| g.get(to).and_then(Value::as_str) != Some(s)) {
            continue;
        }
        let elements = g.get("element").and_then(Value::as_array).into_iter().flatten();
        if !a.reverse && !elements.clone().any(|e| e.get("code").and_then(Value::as_str) == Some(code)) {
            if let Some((concept, equivalence)) = unmapped(g, code, &mut others) {
                let mut part = vec![
                    json!({"name": "equivalence", "valueCode": equivalence}),
                    json!({"name": "concept", "valueCoding": concept}),
                ];
                if let Some(u) = &url {
                    part.push(json!({"name": "source", "valueUri": u}));
                }
                out.push(json!({"name": "match", "part": part}));
            }
        }
        for e in elements {
            for t in e.get("target").and_then(Value::as_array).into_iter().flatten() {
                let equivalence = t.get("equivalence").and_then(Value::as_str).unwrap_or("equivalent");
                let (hit, concept, equivalence) = if a.reverse {
                    (
                        t.get("code").and_then(Value::as_str) == Some(code),
                        coding(g.get("source"), g.get("sourceVersion"), e.get("code"), e.get("display")),
                        reversed(equivalence),
                    )
                } else {
                    (
                        e.get("code").and_then(Value::as_str) == Some(code),
                        coding(g.get("target"), g.get("targetVersion"), t.get("code"), t.get("display")),
                        equivalence,
                    )
                };
                // An element that says the code has no counterpart carries no code of its own.
                if !hit || (concept.get("code").is_none() && equivalence != "unmatched") {
                    continue;
                }
                let mut part = vec![json!({"name": "equivalence", "valueCode": equivalence})];
                if concept.get("code").is_some() {
                    part.push(json!({"name": "concept", "valueCoding": concept}));
                }
                for p in t.get("product").and_then(Value::as_array).into_iter().flatten() {
                    part.push(json!({"name": "product", "part": [
                        {"name": "element", "valueUri": p.get("property").cloned().unwrap_or_default()},
                        {"name": "concept", "valueCoding": coding(p.get("system"), None, p.get("value"), p.get("display"))},
                    ]}));
                }
                if let Some(u) = &url {
                    part.push(json!({"name": "source", "valueUri": u}));
                }
                out.push(json!({"name": "match", "part": part}));
            }
        }
    }
    (out, others)
}

/// What group `g`'s `unmapped` says of a code it has no element for: a concept and its
/// equivalence (`provided`, `fixed`), or the url of another map to ask (`other-map`, pushed
/// onto `others`).
fn unmapped(g: &Value, code: &str, others: &mut Vec<String>) -> Option<(Value, &'static str)> {
    let u = g.get("unmapped")?;
    let (target, version) = (g.get("target"), g.get("targetVersion"));
    match u.get("mode").and_then(Value::as_str)? {
        "provided" => Some((coding(target, version, Some(&json!(code)), None), "equal")),
        "fixed" => Some((coding(target, version, Some(u.get("code")?), u.get("display")), "inexact")),
        "other-map" => {
            let url = u.get("url").and_then(Value::as_str)?;
            others.push(url.split('|').next().unwrap_or(url).to_string());
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Value {
        json!({"resourceType": "ConceptMap", "url": "http://lab.example/map", "version": "2",
        "sourceUri": "http://lab.example/vs", "targetCanonical": "http://loinc.org/vs|1",
        "group": [
            {"source": "http://lab.example/codes", "target": "http://loinc.org", "element": [
                {"code": "HB", "display": "Haemoglobin", "target": [
                    {"code": "718-7", "display": "Hemoglobin [Mass/volume] in Blood", "equivalence": "equivalent"},
                    {"code": "20509-6", "equivalence": "wider",
                     "product": [{"property": "http://loinc.org/property/method", "system": "http://s", "value": "calc"}]}]},
                {"code": "XX", "target": [{"equivalence": "unmatched", "comment": "no LOINC code"}]}]},
            {"source": "http://other.example", "target": "http://loinc.org", "element": [
                {"code": "HB", "target": [{"code": "1-1", "equivalence": "equal"}]}]}
        ]})
    }

    fn ask(system: &str, reverse: bool) -> Ask {
        Ask { system: Some(system.into()), reverse, ..Ask::default() }
    }

    #[test]
    fn translates_forward_within_the_codes_system() {
        let m = matches_in(&map(), &ask("http://lab.example/codes", false), "HB").0;
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0]["part"][0]["valueCode"], "equivalent");
        assert_eq!(
            m[0]["part"][1]["valueCoding"],
            json!({"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin [Mass/volume] in Blood"})
        );
        assert_eq!(m[0]["part"][2], json!({"name": "source", "valueUri": "http://lab.example/map"}));
        assert_eq!(m[1]["part"][2]["name"], "product");
        let mut only = ask("http://lab.example/codes", false);
        only.target_system = Some("http://snomed.info/sct".into());
        assert!(matches_in(&map(), &only, "HB").0.is_empty());
        let unmatched = matches_in(&map(), &ask("http://lab.example/codes", false), "XX").0;
        assert_eq!(unmatched.len(), 1);
        assert_eq!(unmatched[0]["part"][0]["valueCode"], "unmatched");
        assert_eq!(unmatched[0]["part"][1]["name"], "source", "no concept for an unmatched code");
    }

    #[test]
    fn translates_back_with_the_equivalence_turned_round() {
        let m = matches_in(&map(), &ask("http://loinc.org", true), "20509-6").0;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["part"][0]["valueCode"], "narrower");
        assert_eq!(
            m[0]["part"][1]["valueCoding"],
            json!({"system": "http://lab.example/codes", "code": "HB", "display": "Haemoglobin"})
        );
    }

    #[test]
    fn codes_without_an_element_follow_the_groups_unmapped() {
        let with = |unmapped: Value| {
            let mut m = map();
            m["group"][0]["unmapped"] = unmapped;
            m
        };
        let a = ask("http://lab.example/codes", false);
        let (m, others) = matches_in(&with(json!({"mode": "provided"})), &a, "NA");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["part"][0]["valueCode"], "equal");
        assert_eq!(m[0]["part"][1]["valueCoding"], json!({"system": "http://loinc.org", "code": "NA"}));
        assert!(others.is_empty());
        let fixed = with(json!({"mode": "fixed", "code": "UNK", "display": "Unknown"}));
        let (m, _) = matches_in(&fixed, &a, "NA");
        assert_eq!(m[0]["part"][0]["valueCode"], "inexact");
        assert_eq!(m[0]["part"][1]["valueCoding"]["code"], "UNK");
        // A code the group does have an element for is not "unmapped", even if unmatched.
        assert_eq!(matches_in(&fixed, &a, "XX").0.len(), 1);
        assert_eq!(matches_in(&fixed, &a, "XX").0[0]["part"][0]["valueCode"], "unmatched");
        let (m, others) =
            matches_in(&with(json!({"mode": "other-map", "url": "http://lab.example/map2|3"})), &a, "NA");
        assert!(m.is_empty());
        assert_eq!(others, ["http://lab.example/map2"]);
        // Backwards, unmapped says nothing (it is about source codes).
        assert!(matches_in(&fixed, &ask("http://loinc.org", true), "NA").0.is_empty());
    }

    #[test]
    fn a_map_applies_by_url_version_and_value_sets() {
        let m = map();
        let mut a = ask("http://lab.example/codes", false);
        assert!(map_applies(&m, &a));
        a.target = Some("http://loinc.org/vs".into());
        a.source = Some("http://lab.example/vs".into());
        assert!(map_applies(&m, &a), "a canonical's version aside");
        a.version = Some("1".into());
        assert!(!map_applies(&m, &a));
        let mut back = ask("http://loinc.org", true);
        back.source = Some("http://loinc.org/vs".into());
        assert!(map_applies(&m, &back));
    }
}
