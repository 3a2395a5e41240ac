//! Search parameters whose values another parameter of the same resource type already yields.
//!
//! Some R4 definitions are another parameter widened or narrowed. Observation `combo-code` is
//! `Observation.code | Observation.component.code`, where `code` is `Observation.code`;
//! `combo-code-value-quantity` is `code-value-quantity` over the components too; `patient` is
//! `Observation.subject.where(resolve() is Patient)`, where `subject` is `Observation.subject`.
//! A store that indexes each parameter on its own keeps the same values twice: six of the
//! seventeen index rows of a Synthea-shaped Observation were copies. [`shared`] tells, from the
//! expressions alone, when a parameter's values can be found among another's, so an indexer can
//! write only what is the parameter's own and a search can read both.
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::search::{search_params, SearchParamDef, SearchParamType, XPathUsage};
use crate::types::resource_types;

/// How a parameter's values relate to those of `base`, another parameter of the same resource
/// type and kind that keeps all of its own values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    /// The values are those of `bases` (one or more, each with branches of its own) and of
    /// `extra`: the parameter's union branches that no base has, joined again with `|`
    /// (`None` when the bases cover them all, and the parameter has no values of its own).
    Extends { bases: Vec<&'static str>, extra: Option<String> },
    /// The values are those of reference parameter `base` that point at a `target`.
    Narrows { base: &'static str, target: &'static str },
}

/// How `code`'s values on `resource_type` are held by another parameter, if they are.
pub fn shared(resource_type: &str, code: &str) -> Option<&'static Shared> {
    SHARED.get(resource_type)?.get(code)
}

static SHARED: LazyLock<HashMap<&'static str, HashMap<&'static str, Shared>>> = LazyLock::new(|| {
    let mut all = HashMap::new();
    for &rt in resource_types() {
        let params: Vec<&'static SearchParamDef> = search_params(rt).collect();
        let mut found = HashMap::new();
        for p in &params {
            if let Some(s) = find(rt, p, &params) {
                found.insert(p.code, s);
            }
        }
        if !found.is_empty() {
            all.insert(rt, found);
        }
    }
    all
});

fn find(rt: &str, p: &SearchParamDef, params: &[&'static SearchParamDef]) -> Option<Shared> {
    // Phonetic and other special parameters match their values their own way.
    if p.xpath_usage != XPathUsage::Normal {
        return None;
    }
    let mine = branches(p.expression_for(rt)?);
    // A base must keep all of its own values: one that is itself shared would leave nothing
    // to find (such a chain does not occur in R4; refusing it keeps the rule simple).
    let bases = params.iter().filter(|q| {
        q.code != p.code && q.kind == p.kind && q.xpath_usage == XPathUsage::Normal && same_components(p, q)
    });
    // Bases whose branches are a strict subset of this one's (equal sets would make each the
    // other's base), largest first; each taken if it adds branches no base taken has.
    let mut candidates: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for q in bases {
        let Some(theirs) = q.expression_for(rt).map(branches) else { continue };
        if is_narrowing(q, params, rt) || extends_other(q, params, rt) {
            continue;
        }
        if p.kind == SearchParamType::Reference && theirs.len() == mine.len() {
            if let Some(target) = narrowed(&mine, &theirs) {
                return Some(Shared::Narrows { base: q.code, target });
            }
        }
        if theirs.len() < mine.len() && theirs.iter().all(|b| mine.contains(b)) {
            candidates.push((q.code, theirs));
        }
    }
    candidates.sort_by_key(|(code, b)| (std::cmp::Reverse(b.len()), *code));
    let mut covered: Vec<&str> = Vec::new();
    let mut chosen = Vec::new();
    for (code, theirs) in candidates {
        if theirs.iter().all(|b| !covered.contains(b)) {
            covered.extend(&theirs);
            chosen.push(code);
        }
    }
    if chosen.is_empty() {
        return None;
    }
    let rest: Vec<&str> = mine.iter().copied().filter(|b| !covered.contains(b)).collect();
    Some(Shared::Extends { bases: chosen, extra: (!rest.is_empty()).then(|| rest.join(" | ")) })
}

/// Whether `q` would itself be found extending another parameter (so it does not keep all
/// its own values).
fn extends_other(q: &SearchParamDef, params: &[&'static SearchParamDef], rt: &str) -> bool {
    let Some(theirs) = q.expression_for(rt).map(branches) else { return false };
    params.iter().any(|o| {
        o.code != q.code
            && o.kind == q.kind
            && same_components(q, o)
            && o.expression_for(rt)
                .map(branches)
                .is_some_and(|b| b.len() < theirs.len() && b.iter().all(|x| theirs.contains(x)))
    })
}

fn is_narrowing(q: &SearchParamDef, params: &[&'static SearchParamDef], rt: &str) -> bool {
    if q.kind != SearchParamType::Reference {
        return false;
    }
    let Some(theirs) = q.expression_for(rt).map(branches) else { return false };
    params.iter().any(|o| {
        o.code != q.code
            && o.kind == q.kind
            && o.expression_for(rt)
                .map(branches)
                .is_some_and(|b| b.len() == theirs.len() && narrowed(&theirs, &b).is_some())
    })
}

/// The one type `mine` restricts `theirs` to, if each branch of `mine` is the matching branch
/// of `theirs` followed by `.where(resolve() is T)`, with the same `T` throughout.
fn narrowed(mine: &[&str], theirs: &[&str]) -> Option<&'static str> {
    let mut target: Option<&'static str> = None;
    for (m, t) in mine.iter().zip(theirs) {
        let rest = m.strip_prefix(t)?.strip_prefix(".where(resolve() is ")?.strip_suffix(')')?;
        let rest = resource_types().iter().copied().find(|rt| *rt == rest)?;
        if target.is_some_and(|t| t != rest) {
            return None;
        }
        target = Some(rest);
    }
    target
}

/// Composites share rows only if their components are evaluated alike (same kinds, same
/// expressions, in order): the rows' keys are built from the component values alone.
fn same_components(p: &SearchParamDef, q: &SearchParamDef) -> bool {
    p.components.len() == q.components.len()
        && p.components.iter().zip(q.components.iter()).all(|(a, b)| {
            a.expression == b.expression
                && crate::search_param_by_url(a.definition).map(|d| d.kind)
                    == crate::search_param_by_url(b.definition).map(|d| d.kind)
        })
}

/// The top-level union branches of a FHIRPath expression, trimmed (a `|` inside parentheses,
/// brackets or a string literal is not a branch boundary).
fn branches(expr: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'\'' => quoted = !quoted,
            b'(' | b'[' if !quoted => depth += 1,
            b')' | b']' if !quoted => depth -= 1,
            b'|' if !quoted && depth == 0 => {
                out.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(expr[start..].trim());
    out.retain(|b| !b.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observation_combos_extend_their_plain_parameters() {
        let covered = |code: &str, bases: &[&'static str]| {
            assert_eq!(
                shared("Observation", code),
                Some(&Shared::Extends { bases: bases.to_vec(), extra: None }),
                "{code}"
            );
        };
        covered("combo-code", &["code", "component-code"]);
        covered("combo-code-value-quantity", &["code-value-quantity", "component-code-value-quantity"]);
        covered("combo-value-quantity", &["component-value-quantity", "value-quantity"]);
        covered("combo-data-absent-reason", &["component-data-absent-reason", "data-absent-reason"]);
        // The plain parameters keep their own values.
        for code in
            ["code", "component-code", "value-quantity", "code-value-quantity", "subject", "encounter"]
        {
            assert_eq!(shared("Observation", code), None, "{code}");
        }
    }

    #[test]
    fn patient_narrows_subject() {
        for rt in ["Observation", "Condition", "Encounter", "MedicationRequest", "DiagnosticReport"] {
            assert_eq!(
                shared(rt, "patient"),
                Some(&Shared::Narrows { base: "subject", target: "Patient" }),
                "{rt}"
            );
        }
        // AllergyIntolerance.patient is its own element: nothing to share.
        assert_eq!(shared("AllergyIntolerance", "patient"), None);
        // Phonetic matching is not string matching: Organization.phonetic keeps its own.
        assert_eq!(shared("Organization", "name"), None);
    }

    #[test]
    fn every_sharing_is_sound() {
        for &rt in resource_types() {
            for p in search_params(rt) {
                let Some(s) = shared(rt, p.code) else { continue };
                let bases = match s {
                    Shared::Extends { bases, .. } => bases.clone(),
                    Shared::Narrows { base, .. } => {
                        assert_eq!(p.kind, SearchParamType::Reference);
                        vec![*base]
                    }
                };
                for base in bases {
                    let q = crate::search_param(rt, base).expect("base exists");
                    assert_eq!(q.kind, p.kind, "{rt}.{} -> {base}", p.code);
                    assert_eq!(shared(rt, base), None, "{rt}.{base} is a base and shared itself");
                }
            }
        }
    }

    #[test]
    fn branches_split_at_the_top_level_only() {
        assert_eq!(
            branches("A.b | (A.c as X) | A.d.where(e = 'x|y')"),
            vec!["A.b", "(A.c as X)", "A.d.where(e = 'x|y')"]
        );
        assert_eq!(branches("A.b"), vec!["A.b"]);
    }
}
