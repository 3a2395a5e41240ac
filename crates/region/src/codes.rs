//! Clinical vocabulary for the life stories: SNOMED CT problems and allergies, dm+d medicines,
//! LOINC results with UCUM units and reference ranges, vaccines.
//!
//! The concept ids are well-known ones chosen for realism; the lists are illustrative, not a
//! terminology release, and the dm+d ids have not been checked against the current dm+d.
//! The legally restricted codes are taken from `lantern-policy`'s shipped lists
//! (`labels.rs`), so the policy labels what the generator records.
pub(crate) const SNOMED: &str = "http://snomed.info/sct";
pub(crate) const DMD: &str = "https://dmd.nhs.uk";
pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

/// A long-term condition with the medicine usually prescribed for it (index into [`MEDICINES`]).
pub(crate) struct Problem {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
    pub(crate) min_age: i32,
    /// Rough prevalence among adults of the minimum age.
    pub(crate) prevalence: f64,
    pub(crate) medicine: Option<usize>,
}

pub(crate) const PROBLEMS: &[Problem] = &[
    Problem {
        code: "38341003",
        display: "Hypertensive disorder",
        min_age: 35,
        prevalence: 0.25,
        medicine: Some(1),
    },
    Problem {
        code: "44054006",
        display: "Diabetes mellitus type 2",
        min_age: 35,
        prevalence: 0.09,
        medicine: Some(2),
    },
    Problem { code: "195967001", display: "Asthma", min_age: 5, prevalence: 0.09, medicine: Some(4) },
    Problem {
        code: "13645005",
        display: "Chronic obstructive lung disease",
        min_age: 45,
        prevalence: 0.04,
        medicine: Some(4),
    },
    Problem {
        code: "35489007",
        display: "Depressive disorder",
        min_age: 16,
        prevalence: 0.1,
        medicine: Some(6),
    },
    Problem {
        code: "49436004",
        display: "Atrial fibrillation",
        min_age: 55,
        prevalence: 0.06,
        medicine: Some(8),
    },
    Problem {
        code: "53741008",
        display: "Coronary arteriosclerosis",
        min_age: 50,
        prevalence: 0.06,
        medicine: Some(0),
    },
    Problem {
        code: "709044004",
        display: "Chronic kidney disease",
        min_age: 50,
        prevalence: 0.06,
        medicine: None,
    },
    Problem {
        code: "396275006",
        display: "Osteoarthritis",
        min_age: 45,
        prevalence: 0.15,
        medicine: Some(9),
    },
    Problem { code: "40930008", display: "Hypothyroidism", min_age: 25, prevalence: 0.04, medicine: Some(5) },
    Problem { code: "84757009", display: "Epilepsy", min_age: 5, prevalence: 0.01, medicine: None },
    Problem { code: "52448006", display: "Dementia", min_age: 70, prevalence: 0.08, medicine: None },
    Problem {
        code: "235595009",
        display: "Gastroesophageal reflux disease",
        min_age: 25,
        prevalence: 0.08,
        medicine: Some(7),
    },
];

/// (dm+d id, name, dose, unit, dosage text)
pub(crate) const MEDICINES: &[(&str, &str, &str, &str, &str)] = &[
    ("320000009", "Atorvastatin 20mg tablets", "20", "mg", "One tablet at night"),
    ("319283006", "Amlodipine 5mg tablets", "5", "mg", "One tablet once a day"),
    ("325278007", "Metformin 500mg tablets", "500", "mg", "One tablet twice a day with meals"),
    ("318906001", "Ramipril 5mg capsules", "5", "mg", "One capsule once a day"),
    ("320176004", "Salbutamol 100micrograms/dose inhaler", "200", "ug", "Two puffs when required"),
    ("376809003", "Levothyroxine sodium 50microgram tablets", "50", "ug", "One tablet each morning"),
    ("321949006", "Sertraline 50mg tablets", "50", "mg", "One tablet once a day"),
    ("317335003", "Omeprazole 20mg gastro-resistant capsules", "20", "mg", "One capsule once a day"),
    ("703907005", "Apixaban 5mg tablets", "5", "mg", "One tablet twice a day"),
    (
        "322236009",
        "Paracetamol 500mg tablets",
        "1000",
        "mg",
        "Two tablets up to four times a day when required",
    ),
];

/// Acute medicines a hospital starts (antibiotics, analgesia).
pub(crate) const HOSPITAL_MEDICINES: &[(&str, &str, &str, &str, &str)] = &[
    ("323509004", "Amoxicillin 500mg capsules", "500", "mg", "One capsule three times a day for 5 days"),
    ("324095003", "Co-amoxiclav 500mg/125mg tablets", "625", "mg", "One tablet three times a day for 7 days"),
    ("322236009", "Paracetamol 500mg tablets", "1000", "mg", "Two tablets four times a day when required"),
];

/// (SNOMED, allergy, reaction)
pub(crate) const ALLERGIES: &[(&str, &str, &str)] = &[
    ("91936005", "Allergy to penicillin", "Rash"),
    ("300916003", "Latex allergy", "Urticaria"),
    ("91935009", "Allergy to peanut", "Anaphylaxis"),
    ("293586001", "Allergy to aspirin", "Wheeze"),
    ("294505008", "Allergy to amoxicillin", "Rash"),
];

/// (LOINC, name, unit, low, high, typical low, typical high, decimals)
pub(crate) type Test = (&'static str, &'static str, &'static str, f64, f64, f64, f64, usize);

pub(crate) const GP_TESTS: &[Test] = &[
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 90.0, 140.0, 105.0, 165.0, 0),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 60.0, 90.0, 62.0, 98.0, 0),
    ("29463-7", "Body weight", "kg", 0.0, 0.0, 52.0, 110.0, 1),
    ("59261-8", "Haemoglobin A1c (IFCC)", "mmol/mol", 20.0, 42.0, 30.0, 75.0, 0),
    ("14647-2", "Cholesterol", "mmol/L", 0.0, 5.0, 3.2, 7.4, 1),
];

pub(crate) const BLOOD_COUNT: &[Test] = &[
    ("718-7", "Haemoglobin", "g/L", 115.0, 170.0, 100.0, 165.0, 0),
    ("6690-2", "White cell count", "10*9/L", 4.0, 11.0, 3.5, 14.0, 1),
    ("777-3", "Platelets", "10*9/L", 150.0, 400.0, 130.0, 420.0, 0),
];

pub(crate) const RENAL: &[Test] = &[
    ("2951-2", "Sodium", "mmol/L", 133.0, 146.0, 130.0, 147.0, 0),
    ("2823-3", "Potassium", "mmol/L", 3.5, 5.3, 3.3, 5.6, 1),
    ("14682-9", "Creatinine", "umol/L", 59.0, 104.0, 50.0, 160.0, 0),
];

/// (SNOMED, vaccine)
pub(crate) const VACCINES: &[(&str, &str)] = &[
    ("1181000221105", "Influenza vaccine"),
    ("1119349007", "COVID-19 mRNA vaccine"),
    ("836398006", "Pneumococcal vaccine"),
];

/// (SNOMED, diagnosis) for hospital stays, coded in DG1.
pub(crate) const ADMISSION_REASONS: &[(&str, &str)] = &[
    ("233604007", "Pneumonia"),
    ("68566005", "Urinary tract infection"),
    ("22298006", "Myocardial infarction"),
    ("230690007", "Cerebrovascular accident"),
    ("5913000", "Fracture of neck of femur"),
    ("195951007", "Acute exacerbation of chronic obstructive airways disease"),
    ("74400008", "Appendicitis"),
];

/// (code, clinic) outpatient clinics.
pub(crate) const CLINICS: &[(&str, &str)] = &[
    ("CARD", "Cardiology outpatients"),
    ("DIAB", "Diabetes clinic"),
    ("ORTH", "Orthopaedic clinic"),
    ("RESP", "Respiratory clinic"),
    ("GENM", "General medicine clinic"),
];

/// (SNOMED, condition) seen by the mental-health trust.
pub(crate) const MENTAL_HEALTH: &[(&str, &str)] = &[
    ("35489007", "Depressive disorder"),
    ("197480006", "Anxiety disorder"),
    ("58214004", "Schizophrenia"),
    ("13746004", "Bipolar disorder"),
    ("47505003", "Posttraumatic stress disorder"),
];

/// (SNOMED, display, label) legally restricted items: SNOMED ids on `lantern-policy`'s lists.
pub(crate) const STI: (&str, &str) = ("105629000", "Chlamydial infection");
pub(crate) const IVF: (&str, &str) = ("52637005", "In vitro fertilization");
pub(crate) const TERMINATION: (&str, &str) = ("714812005", "Induced termination of pregnancy");
pub(crate) const GENDER: (&str, &str) = ("93461009", "Gender dysphoria");

/// A value between `lo` and `hi` rounded to `decimals`.
pub(crate) fn value(u: f64, lo: f64, hi: f64, decimals: usize) -> String {
    format!("{:.*}", decimals, lo + u * (hi - lo))
}
