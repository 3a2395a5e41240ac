//! Categories of data named in data-sharing agreements, as sets of R4 resource types.
//!
//! Agreements are written in the words organisations use ("we share encounters and
//! medications with acute trusts"); this table turns them into types. A type may sit in more
//! than one category; an agreement that shares any of them shares the type. The table can be
//! extended in configuration (`[[policy.category]]`).
pub const DEFAULTS: &[(&str, &[&str])] = &[
    ("demographics", &["Patient", "RelatedPerson", "Person", "Coverage"]),
    ("encounters", &["Encounter", "EpisodeOfCare", "Provenance"]),
    ("appointments", &["Appointment", "AppointmentResponse"]),
    (
        "medications",
        &[
            "MedicationRequest",
            "MedicationStatement",
            "MedicationAdministration",
            "MedicationDispense",
            "Immunization",
        ],
    ),
    ("problems", &["Condition", "Procedure"]),
    ("allergies", &["AllergyIntolerance"]),
    ("warnings", &["Flag", "DetectedIssue"]),
    ("results", &["Observation", "DiagnosticReport", "Specimen", "ImagingStudy", "MolecularSequence"]),
    ("care-plans", &["CarePlan", "Goal", "CareTeam"]),
    ("referrals", &["ServiceRequest", "Task", "Communication", "CommunicationRequest"]),
    ("documents", &["DocumentReference", "Composition", "Media", "QuestionnaireResponse"]),
    (
        "social-care",
        &[
            "EpisodeOfCare",
            "CarePlan",
            "CareTeam",
            "Goal",
            "Communication",
            "Task",
            "QuestionnaireResponse",
            "ServiceRequest",
        ],
    ),
    ("consents", &["Consent"]),
];

/// Every category name known by default.
pub fn names() -> impl Iterator<Item = &'static str> {
    DEFAULTS.iter().map(|(n, _)| *n)
}
