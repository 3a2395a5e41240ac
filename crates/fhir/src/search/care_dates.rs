//! Which date search parameters say when care happened, per resource type: what
//! `Patient/$everything`'s `start` and `end` select by (R4 §6.1.0.14.1: "the date range
//! relates to care dates, not record currency dates").
//!
//! Most types in the patient compartment carry R4's shared clinical `date` parameter
//! (an Observation's effective time, an Encounter's period, a Procedure's performed time, an
//! Immunization's occurrence...). Those that do not, or whose `date` is not when care was
//! given, are listed here with the parameters that are: a Condition's onset and recording,
//! a prescription's authoring, a dispense's hand-over, a specimen's collection.
use lantern_r4::{search_param, SearchParamType};

/// Types whose care dates are other parameters than `date`.
const OWN: &[(&str, &[&str])] = &[
    ("Claim", &["created"]),
    ("Communication", &["sent"]),
    ("CommunicationRequest", &["authored", "occurrence"]),
    ("Condition", &["onset-date", "recorded-date"]),
    ("DeviceRequest", &["event-date"]),
    ("ExplanationOfBenefit", &["created"]),
    ("ImagingStudy", &["started"]),
    ("MedicationAdministration", &["effective-time"]),
    ("MedicationDispense", &["whenhandedover"]),
    ("MedicationRequest", &["authoredon"]),
    ("MedicationStatement", &["effective"]),
    ("NutritionOrder", &["datetime"]),
    ("ServiceRequest", &["authored", "occurrence"]),
    ("Specimen", &["collected"]),
];

/// The date parameters of `rtype` that say when care happened; empty if it has none (a
/// Patient, an Organization, a Medication: such resources are not placed in time).
pub fn care_date_params(rtype: &str) -> Vec<&'static str> {
    let listed = OWN.iter().find(|(t, _)| *t == rtype).map_or(&["date"][..], |(_, p)| *p);
    listed
        .iter()
        .copied()
        .filter(|p| search_param(rtype, p).is_some_and(|d| d.kind == SearchParamType::Date))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_listed_parameter_is_a_date_parameter_of_its_type() {
        for (t, params) in OWN {
            assert_eq!(care_date_params(t), params.to_vec(), "{t}");
        }
    }

    #[test]
    fn the_shared_clinical_date_serves_the_rest() {
        for t in ["Observation", "Encounter", "Procedure", "Immunization", "AllergyIntolerance", "CarePlan"] {
            assert_eq!(care_date_params(t), vec!["date"], "{t}");
        }
        assert!(care_date_params("Patient").is_empty());
        assert!(care_date_params("Medication").is_empty());
    }
}
