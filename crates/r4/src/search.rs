//! FHIR R4 SearchParameter definitions (R4 §3.1.1 "Search", §2.39 SearchParameter): every
//! parameter the specification defines, the common ones on `Resource` (`_id`, `_lastUpdated`,
//! `_tag`, `_profile`, `_security`, `_source`, ...) and `DomainResource` (`_text`) included.
//!
//! Many R4 definitions serve several resource types with one expression joined by `|`
//! (`clinical-code`: `AllergyIntolerance.code | Condition.code | ...`); the table keeps the full
//! expression and, per base resource type, just the union branches rooted at that type, so an
//! indexer evaluates only what applies ([`SearchParamDef::expression_for`]).
use std::sync::LazyLock;

use crate::hash::FxHashMap;
use crate::tsv;
use crate::types::{is_a, resource_types};

/// SearchParameter.type (http://hl7.org/fhir/search-param-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl SearchParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Date => "date",
            Self::String => "string",
            Self::Token => "token",
            Self::Reference => "reference",
            Self::Composite => "composite",
            Self::Quantity => "quantity",
            Self::Uri => "uri",
            Self::Special => "special",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "number" => Self::Number,
            "date" => Self::Date,
            "string" => Self::String,
            "token" => Self::Token,
            "reference" => Self::Reference,
            "composite" => Self::Composite,
            "quantity" => Self::Quantity,
            "uri" => Self::Uri,
            "special" => Self::Special,
            _ => return None,
        })
    }
}

/// SearchParameter.xpathUsage (http://hl7.org/fhir/search-xpath-usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XPathUsage {
    Normal,
    Phonetic,
    Nearby,
    Distance,
    Other,
}

/// One component of a composite parameter.
#[derive(Debug)]
pub struct Component {
    /// The code of the parameter the component refers to (`code` for `clinical-code`).
    pub code: &'static str,
    /// The referenced SearchParameter's canonical URL.
    pub definition: &'static str,
    /// FHIRPath evaluated on each result of the composite's own expression.
    pub expression: &'static str,
}

/// One R4 SearchParameter.
#[derive(Debug)]
pub struct SearchParamDef {
    pub code: &'static str,
    pub url: &'static str,
    pub kind: SearchParamType,
    pub xpath_usage: XPathUsage,
    /// The resource types it applies to (`Resource`/`DomainResource` for the common ones).
    pub bases: Box<[&'static str]>,
    /// For reference parameters: the resource types it may point at.
    pub targets: Box<[&'static str]>,
    pub modifiers: Box<[&'static str]>,
    pub comparators: Box<[&'static str]>,
    pub multiple_or: Option<bool>,
    pub multiple_and: Option<bool>,
    /// The full FHIRPath expression as published; `None` for parameters the server implements
    /// itself (`_content`, `_text`, `_query`, `_filter`, Patient `age`/`birthOrderBoolean`).
    pub expression: Option<&'static str>,
    pub components: Box<[Component]>,
    /// Per base: the branches of `expression` that apply to it (`None` = the whole expression).
    base_expressions: Box<[(&'static str, Option<&'static str>)]>,
}

impl SearchParamDef {
    /// The expression to evaluate on a resource of `resource_type`: only the union branches
    /// rooted at that type for multi-resource definitions, the whole expression otherwise.
    /// Expressions of `Resource`/`DomainResource` parameters stay rooted at `Resource`
    /// (`Resource.meta.tag`), which FHIRPath resolves against any resource. `None` if the
    /// parameter has no expression or does not apply to `resource_type`.
    pub fn expression_for(&self, resource_type: &str) -> Option<&'static str> {
        let expr = self.expression?;
        for &(base, sub) in self.base_expressions.iter() {
            if base == resource_type
                || (matches!(base, "Resource" | "DomainResource") && is_a(resource_type, base))
            {
                return Some(sub.unwrap_or(expr));
            }
        }
        None
    }

    /// Whether the parameter applies to `resource_type` (directly or through `Resource`).
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.bases.iter().any(|b| {
            *b == resource_type || (matches!(*b, "Resource" | "DomainResource") && is_a(resource_type, b))
        })
    }
}

struct Search {
    defs: Vec<SearchParamDef>,
    by_type: FxHashMap<&'static str, Vec<usize>>,
    by_code: FxHashMap<(&'static str, &'static str), usize>,
    by_url: FxHashMap<&'static str, usize>,
}

fn parse_bool(f: &str) -> Option<bool> {
    match f {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

static SEARCH: LazyLock<Search> = LazyLock::new(|| {
    let mut defs: Vec<SearchParamDef> = Vec::with_capacity(1400);
    let mut base_expr: Vec<(&'static str, Option<&'static str>)> = Vec::new();
    let mut comps: Vec<Component> = Vec::new();
    let finish = |defs: &mut Vec<SearchParamDef>, b: &mut Vec<_>, c: &mut Vec<Component>| {
        if let Some(last) = defs.last_mut() {
            last.base_expressions = std::mem::take(b).into();
            last.components = std::mem::take(c).into();
        }
    };
    for line in tsv::records(include_str!("../data/search.tsv")) {
        let mut f = line.split('\t');
        match tsv::next(&mut f, line) {
            "P" => {
                finish(&mut defs, &mut base_expr, &mut comps);
                let code = tsv::next(&mut f, line);
                let url = tsv::next(&mut f, line);
                let kind = SearchParamType::parse(tsv::next(&mut f, line)).expect("search param type");
                let xpath_usage = match tsv::next(&mut f, line) {
                    "normal" => XPathUsage::Normal,
                    "phonetic" => XPathUsage::Phonetic,
                    "nearby" => XPathUsage::Nearby,
                    "distance" => XPathUsage::Distance,
                    _ => XPathUsage::Other,
                };
                defs.push(SearchParamDef {
                    code,
                    url,
                    kind,
                    xpath_usage,
                    bases: tsv::list(tsv::next(&mut f, line)),
                    targets: tsv::list(tsv::next(&mut f, line)),
                    modifiers: tsv::list(tsv::next(&mut f, line)),
                    comparators: tsv::list(tsv::next(&mut f, line)),
                    multiple_or: parse_bool(tsv::next(&mut f, line)),
                    multiple_and: parse_bool(tsv::next(&mut f, line)),
                    expression: tsv::opt(tsv::next(&mut f, line)),
                    components: Box::new([]),
                    base_expressions: Box::new([]),
                });
            }
            "B" => {
                let base = tsv::next(&mut f, line);
                let sub = match tsv::next(&mut f, line) {
                    "=" | "-" => None,
                    s => Some(s),
                };
                base_expr.push((base, sub));
            }
            "C" => comps.push(Component {
                code: tsv::next(&mut f, line),
                definition: tsv::next(&mut f, line),
                expression: tsv::next(&mut f, line),
            }),
            other => panic!("lantern-r4: unknown search record {other}"),
        }
    }
    finish(&mut defs, &mut base_expr, &mut comps);

    let mut by_type: FxHashMap<&'static str, Vec<usize>> = FxHashMap::default();
    let mut by_code = FxHashMap::default();
    let by_url = defs.iter().enumerate().map(|(i, d)| (d.url, i)).collect();
    let all_types = resource_types().iter().copied().chain(["Resource", "DomainResource"]);
    for rt in all_types {
        let list: Vec<usize> = (0..defs.len()).filter(|&i| defs[i].applies_to(rt)).collect();
        for &i in &list {
            by_code.insert((rt, defs[i].code), i);
        }
        by_type.insert(rt, list);
    }
    Search { defs, by_type, by_code, by_url }
});

/// Every search parameter that applies to `resource_type`: its own, then those inherited from
/// `DomainResource` and `Resource` (empty for an unknown type).
pub fn search_params(resource_type: &str) -> impl Iterator<Item = &'static SearchParamDef> {
    let s: &'static Search = &SEARCH;
    s.by_type.get(resource_type).into_iter().flatten().map(move |&i| &s.defs[i])
}

/// The parameter `code` of `resource_type` (own or inherited, e.g. `_lastUpdated`).
pub fn search_param(resource_type: &str, code: &str) -> Option<&'static SearchParamDef> {
    let s: &'static Search = &SEARCH;
    s.by_code.get(&(resource_type, code)).map(|&i| &s.defs[i])
}

/// The parameter with canonical URL `url` (e.g. a composite component's `definition`).
pub fn search_param_by_url(url: &str) -> Option<&'static SearchParamDef> {
    let s: &'static Search = &SEARCH;
    s.by_url.get(url).map(|&i| &s.defs[i])
}

/// Every R4 search parameter definition.
pub fn all_search_params() -> &'static [SearchParamDef] {
    &SEARCH.defs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(all_search_params().len(), 1387);
        let n = search_params("Patient").count();
        assert!((30..=45).contains(&n), "Patient has {n} parameters");
        assert!(search_params("Nope").next().is_none());
        for rt in resource_types() {
            assert!(search_param(rt, "_id").is_some(), "{rt} _id");
            assert!(search_param(rt, "_lastUpdated").is_some(), "{rt} _lastUpdated");
        }
        assert!(search_param("Bundle", "_text").is_none(), "Bundle is not a DomainResource");
        assert!(search_param("Patient", "_text").is_some());
    }

    #[test]
    fn patient_name() {
        let p = search_param("Patient", "name").unwrap();
        assert_eq!(p.kind, SearchParamType::String);
        assert_eq!(p.expression, Some("Patient.name"));
        assert_eq!(p.expression_for("Patient"), Some("Patient.name"));
        assert_eq!(p.url, "http://hl7.org/fhir/SearchParameter/Patient-name");
        let ph = search_param("Patient", "phonetic").unwrap();
        assert_eq!(ph.xpath_usage, XPathUsage::Phonetic);
        assert_eq!(ph.expression_for("Patient"), Some("Patient.name"));
    }

    #[test]
    fn multi_base_sub_expressions() {
        let code = search_param("Condition", "code").unwrap();
        assert!(code.expression.unwrap().contains("AllergyIntolerance.code |"));
        assert_eq!(code.expression_for("Condition"), Some("Condition.code"));
        assert_eq!(
            code.expression_for("AllergyIntolerance"),
            Some("AllergyIntolerance.code | AllergyIntolerance.reaction.substance")
        );
        assert_eq!(code.expression_for("Patient"), None);
        let med = search_param("MedicationRequest", "medication").unwrap();
        assert_eq!(
            med.expression_for("MedicationRequest"),
            Some("(MedicationRequest.medication as Reference)")
        );
        let tag = search_param("Observation", "_tag").unwrap();
        assert_eq!(tag.expression_for("Observation"), Some("Resource.meta.tag"));
        assert_eq!(tag.kind, SearchParamType::Token);
        for rt in resource_types() {
            for p in search_params(rt) {
                if p.expression.is_some() {
                    assert!(p.expression_for(rt).is_some(), "{rt} {}", p.code);
                }
            }
        }
    }

    #[test]
    fn references_and_composites() {
        let s = search_param("Observation", "subject").unwrap();
        assert_eq!(s.kind, SearchParamType::Reference);
        assert!(s.targets.contains(&"Patient"));
        let cvq = search_param("Observation", "code-value-quantity").unwrap();
        assert_eq!(cvq.kind, SearchParamType::Composite);
        assert_eq!(cvq.components.len(), 2);
        assert_eq!(cvq.components[0].code, "code");
        assert_eq!(cvq.components[1].code, "value-quantity");
        assert_eq!(cvq.components[1].expression, "value.as(Quantity)");
        let vq = search_param("Observation", "value-quantity").unwrap();
        assert!(vq.comparators.contains(&"gt"));
        assert!(search_param_by_url(cvq.components[1].definition).is_some());
        let content = search_param("Patient", "_content").unwrap();
        assert_eq!(content.expression, None);
        for p in ["_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"] {
            assert!(search_param("Patient", p).unwrap().expression.is_some(), "{p}");
        }
    }
}
