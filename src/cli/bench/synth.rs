//! Synthea-shaped synthetic patients for the load benchmarks: one transaction bundle per patient
//! holding the patient and their encounters, observations, conditions, medication requests,
//! procedures and immunizations, linked with `urn:uuid:` references as Synthea's bundles are.
//! Seeded, so two runs load the same data.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const FAMILY: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
    "Clarke", "Khan", "Hughes", "Edwards",
];
const GIVEN: &[&str] = &[
    "Oliver", "George", "Harry", "Jack", "Amelia", "Olivia", "Isla", "Emily", "Mohammed", "Noah", "Ava",
    "Jessica", "Thomas", "Sophie", "Grace", "Ruby", "James", "William", "Lily", "Ella",
];
/// (LOINC code, display, unit, low, high)
const VITALS: &[(&str, &str, &str, f64, f64)] = &[
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 95.0, 180.0),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 55.0, 110.0),
    ("8867-4", "Heart rate", "/min", 45.0, 130.0),
    ("29463-7", "Body weight", "kg", 3.0, 140.0),
    ("8302-2", "Body height", "cm", 50.0, 200.0),
    ("39156-5", "Body mass index", "kg/m2", 15.0, 45.0),
    ("2339-0", "Glucose", "mg/dL", 60.0, 250.0),
    ("2093-3", "Cholesterol", "mg/dL", 120.0, 300.0),
    ("4548-4", "Hemoglobin A1c", "%", 4.0, 12.0),
    ("2160-0", "Creatinine", "mg/dL", 0.5, 3.0),
];
const CONDITIONS: &[(&str, &str)] = &[
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder"),
    ("195967001", "Asthma"),
    ("13645005", "Chronic obstructive lung disease"),
    ("49436004", "Atrial fibrillation"),
    ("35489007", "Depressive disorder"),
    ("10509002", "Acute bronchitis"),
    ("444814009", "Viral sinusitis"),
];
const MEDS: &[(&str, &str)] = &[
    ("860975", "metformin 500 MG Oral Tablet"),
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("895994", "salbutamol 100 MCG inhaler"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("617314", "atorvastatin 10 MG Oral Tablet"),
];

fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

fn date(rng: &mut StdRng, from_year: i32) -> String {
    let y = rng.random_range(from_year..2026);
    format!(
        "{y}-{:02}-{:02}T{:02}:{:02}:00+00:00",
        rng.random_range(1..13),
        rng.random_range(1..29),
        rng.random_range(7..19),
        rng.random_range(0..60)
    )
}

fn entry(full: &str, resource: Value) -> Value {
    let t = resource["resourceType"].as_str().unwrap_or("").to_string();
    json!({"fullUrl": full, "resource": resource, "request": {"method": "POST", "url": t}})
}

/// A transaction bundle for patient number `n` with about `size` resources.
pub(crate) fn patient_bundle(seed: u64, n: u64, size: usize) -> Value {
    let mut rng = StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let pid = format!("urn:uuid:{}", uuid(&mut rng));
    let family = FAMILY[rng.random_range(0..FAMILY.len())];
    let given = GIVEN[rng.random_range(0..GIVEN.len())];
    let birth = format!(
        "{}-{:02}-{:02}",
        rng.random_range(1930..2020),
        rng.random_range(1..13),
        rng.random_range(1..29)
    );
    let mut entries = vec![entry(
        &pid,
        json!({
            "resourceType": "Patient",
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": format!("9{:09}", n % 1_000_000_000)},
                {"system": "https://bench.lantern.health/mrn", "value": format!("MRN{n:08}")}
            ],
            "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Mx"]}],
            "telecom": [{"system": "phone", "value": format!("07700 9{:05}", n % 100_000), "use": "mobile"}],
            "gender": if rng.random_bool(0.5) { "female" } else { "male" },
            "birthDate": birth,
            "address": [{"line": [format!("{} High Street", rng.random_range(1..200))], "city": "Bristol", "postalCode": format!("BS{} {}AB", rng.random_range(1..40), rng.random_range(1..9)), "country": "GB"}],
            "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "Married"}]}
        }),
    )];
    let subject = json!({"reference": pid});
    while entries.len() < size {
        let eid = format!("urn:uuid:{}", uuid(&mut rng));
        let when = date(&mut rng, 2005);
        entries.push(entry(
            &eid,
            json!({
                "resourceType": "Encounter", "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003", "display": "Encounter for check up"}], "text": "Encounter for check up"}],
                "subject": subject, "period": {"start": when, "end": when}
            }),
        ));
        let enc = json!({"reference": eid});
        for _ in 0..rng.random_range(4..9) {
            let (code, display, unit, lo, hi) = VITALS[rng.random_range(0..VITALS.len())];
            let v = (rng.random_range(lo..hi) * 10.0_f64).round() / 10.0;
            entries.push(entry(
                &format!("urn:uuid:{}", uuid(&mut rng)),
                json!({
                    "resourceType": "Observation", "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "vital-signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
                    "subject": subject, "encounter": enc, "effectiveDateTime": when, "issued": when,
                    "valueQuantity": {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
                }),
            ));
        }
        if rng.random_bool(0.3) {
            let (code, display) = CONDITIONS[rng.random_range(0..CONDITIONS.len())];
            entries.push(entry(
                &format!("urn:uuid:{}", uuid(&mut rng)),
                json!({
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
                    "subject": subject, "encounter": enc, "onsetDateTime": when, "recordedDate": when
                }),
            ));
        }
        if rng.random_bool(0.3) {
            let (code, display) = MEDS[rng.random_range(0..MEDS.len())];
            entries.push(entry(
                &format!("urn:uuid:{}", uuid(&mut rng)),
                json!({
                    "resourceType": "MedicationRequest", "status": "active", "intent": "order",
                    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}], "text": display},
                    "subject": subject, "encounter": enc, "authoredOn": when,
                    "dosageInstruction": [{"sequence": 1, "text": "Take one daily", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]
                }),
            ));
        }
        if rng.random_bool(0.15) {
            entries.push(entry(
                &format!("urn:uuid:{}", uuid(&mut rng)),
                json!({
                    "resourceType": "Immunization", "status": "completed",
                    "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza, seasonal"}]},
                    "patient": subject, "encounter": enc, "occurrenceDateTime": when, "primarySource": true
                }),
            ));
        }
    }
    entries.truncate(size.max(1));
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}
