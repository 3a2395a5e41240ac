//! The codes of the R4 value sets that required bindings point at (R4 §4.1 "Terminologies",
//! §4.1.5 binding strength `required`), expanded from the package's ValueSet and CodeSystem
//! resources at generation time. Value sets that cannot be enumerated from the package
//! (UCUM units, MIME types, currencies, a LOINC answer list) are absent.
use std::sync::LazyLock;

use crate::hash::{FxHashMap, FxHashSet};
use crate::tsv;

/// Codes of one code system: (system URL, codes).
pub type SystemCodes = (&'static str, Box<[&'static str]>);

/// One enumerated value set.
#[derive(Debug)]
pub struct ValueSetCodes {
    pub url: &'static str,
    /// Every code in definition order, all code systems together.
    pub codes: Box<[&'static str]>,
    /// (code system URL, codes from it).
    pub systems: Box<[SystemCodes]>,
    set: FxHashSet<(&'static str, &'static str)>,
    code_set: FxHashSet<&'static str>,
}

impl ValueSetCodes {
    /// Whether `code` is in the value set; with `Some(system)` the code must come from that
    /// code system (a Coding), with `None` any system will do (a `code` element, whose system
    /// the binding implies).
    pub fn contains(&self, system: Option<&str>, code: &str) -> bool {
        match system {
            Some(s) => self.set.contains(&(s, code)),
            None => self.code_set.contains(code),
        }
    }
}

static VALUE_SETS: LazyLock<FxHashMap<&'static str, ValueSetCodes>> = LazyLock::new(|| {
    let mut map = FxHashMap::default();
    let mut cur: Option<(&'static str, Vec<SystemCodes>)> = None;
    let mut flush = |cur: Option<(&'static str, Vec<SystemCodes>)>| {
        if let Some((url, systems)) = cur {
            let codes: Box<[&'static str]> = systems.iter().flat_map(|(_, c)| c.iter().copied()).collect();
            let set = systems.iter().flat_map(|(s, c)| c.iter().map(move |c| (*s, *c))).collect();
            let code_set = codes.iter().copied().collect();
            map.insert(url, ValueSetCodes { url, codes, systems: systems.into(), set, code_set });
        }
    };
    for line in tsv::records(include_str!("../data/valuesets.tsv")) {
        let mut f = line.split('\t');
        match tsv::next(&mut f, line) {
            "V" => flush(cur.replace((tsv::next(&mut f, line), Vec::new()))),
            "S" => {
                let system = tsv::next(&mut f, line);
                if let Some((_, systems)) = cur.as_mut() {
                    systems.push((system, f.collect()));
                }
            }
            other => panic!("lantern-r4: unknown value set record {other}"),
        }
    }
    flush(cur);
    map
});

fn strip_version(url: &str) -> &str {
    url.split_once('|').map_or(url, |(u, _)| u)
}

/// The enumerated value set `url` (a `|version` suffix is ignored).
pub fn value_set(url: &str) -> Option<&'static ValueSetCodes> {
    VALUE_SETS.get(strip_version(url))
}

/// The codes allowed by the required-binding value set `url` (a `|4.0.1` suffix is ignored);
/// `None` if the value set is not enumerable from the package.
pub fn required_codes(url: &str) -> Option<&'static [&'static str]> {
    value_set(url).map(|v| &*v.codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_code_systems() {
        let g = required_codes("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1").unwrap();
        assert_eq!(g, &["male", "female", "other", "unknown"]);
        let s = required_codes("http://hl7.org/fhir/ValueSet/observation-status").unwrap();
        assert!(s.contains(&"final") && s.contains(&"entered-in-error"));
        assert!(required_codes("http://hl7.org/fhir/ValueSet/request-status").unwrap().contains(&"active"));
        assert!(required_codes("http://hl7.org/fhir/ValueSet/ucum-units").is_none());
        let vs = value_set("http://hl7.org/fhir/ValueSet/administrative-gender").unwrap();
        assert!(vs.contains(Some("http://hl7.org/fhir/administrative-gender"), "male"));
        assert!(!vs.contains(Some("http://example.org"), "male"));
        assert!(vs.contains(None, "unknown"));
        assert!(!vs.contains(None, "Male"));
    }

    #[test]
    fn every_required_binding_is_known_or_documented() {
        let not_enumerable = [
            "http://hl7.org/fhir/ValueSet/currencies",
            "http://hl7.org/fhir/ValueSet/mimetypes",
            "http://hl7.org/fhir/ValueSet/ucum-units",
            "http://loinc.org/vs/LL379-9",
        ];
        for t in crate::types::TYPES.defs.iter() {
            for e in crate::children(t.name).unwrap_or(&[]) {
                if let Some(vs) = e.required_binding {
                    assert!(value_set(vs).is_some() || not_enumerable.contains(&vs), "{}: {vs}", e.path);
                }
            }
        }
    }
}
