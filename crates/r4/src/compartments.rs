//! FHIR R4 compartments (R4 §3.1.1.3 "Compartments", the CompartmentDefinitions for Patient,
//! Encounter, RelatedPerson, Practitioner and Device): which search parameters of a resource
//! type put a resource into a compartment.
use std::sync::LazyLock;

use crate::hash::FxHashMap;
use crate::tsv;

type Params = Box<[&'static str]>;

/// compartment code -> resource type -> params.
static COMPARTMENTS: LazyLock<FxHashMap<&'static str, FxHashMap<&'static str, Params>>> =
    LazyLock::new(|| {
        let mut map: FxHashMap<&'static str, FxHashMap<&'static str, Params>> = FxHashMap::default();
        for line in tsv::records(include_str!("../data/compartments.tsv")) {
            let mut f = line.split('\t');
            let compartment = tsv::next(&mut f, line);
            let rt = tsv::next(&mut f, line);
            map.entry(compartment).or_default().insert(rt, tsv::list(tsv::next(&mut f, line)));
        }
        map
    });

/// The parameters of `resource_type` that link it into `compartment` (`Patient`, `Encounter`,
/// `RelatedPerson`, `Practitioner`, `Device`); empty if the type is not in that compartment.
/// A parameter value `{def}` (used for the compartment's own resource type) means the
/// resource itself.
pub fn compartment_params(compartment: &str, resource_type: &str) -> &'static [&'static str] {
    COMPARTMENTS.get(compartment).and_then(|m| m.get(resource_type)).map_or(&[], |v| v)
}

/// [`compartment_params`] for the Patient compartment: e.g. `Observation` ->
/// `subject, performer`.
pub fn patient_compartment_params(resource_type: &str) -> &'static [&'static str] {
    compartment_params("Patient", resource_type)
}

/// The resource types that can be in `compartment`, sorted.
pub fn compartment_resource_types(compartment: &str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> =
        COMPARTMENTS.get(compartment).map(|m| m.keys().copied().collect()).unwrap_or_default();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_compartment() {
        let obs = patient_compartment_params("Observation");
        assert!(obs.contains(&"subject") && obs.contains(&"performer"), "{obs:?}");
        assert_eq!(patient_compartment_params("Patient"), &["link"]);
        assert!(patient_compartment_params("ValueSet").is_empty());
        assert!(patient_compartment_params("Nope").is_empty());
        let types = compartment_resource_types("Patient");
        assert!(types.len() > 60, "{}", types.len());
        for rt in types {
            for p in patient_compartment_params(rt) {
                assert!(crate::search_param(rt, p).is_some() || *p == "{def}", "{rt}.{p}");
            }
        }
        assert!(compartment_params("Encounter", "Observation").contains(&"encounter"));
        assert!(!compartment_params("Practitioner", "Observation").is_empty());
    }
}
