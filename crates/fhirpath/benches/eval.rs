//! Evaluating typical R4 SearchParameter expressions on a typical Observation — the indexer's
//! hot path (about 20 expressions per resource written), compiled as the indexer compiles them
//! (`parse_search_expression`: two components make strict `as` an error).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

const EXPRESSIONS: &[&str] = &[
    "Resource.id",
    "Resource.meta.lastUpdated",
    "Resource.meta.profile",
    "Resource.meta.tag",
    "Observation.identifier",
    "Observation.status",
    "Observation.category",
    "Observation.code",
    "Observation.subject.where(resolve() is Patient)",
    "Observation.subject",
    "Observation.encounter",
    "Observation.effective",
    "Observation.performer",
    "(Observation.value as Quantity) | (Observation.value as SampledData)",
    "(Observation.value as CodeableConcept)",
    "(Observation.value as string)",
    "Observation.component.code",
    "(Observation.component.value as Quantity) | (Observation.component.value as SampledData)",
    "Observation.component.value.as(CodeableConcept)",
    "Observation.dataAbsentReason",
    "Observation.basedOn",
    "Observation.derivedFrom",
    "Observation.hasMember",
    "Observation.device",
    "Observation.method",
    "Observation.specimen",
    "Observation.partOf",
    "Observation.focus",
];

fn observation() -> Value {
    json!({
        "resourceType": "Observation",
        "id": "blood-pressure",
        "meta": {"lastUpdated": "2024-03-01T10:00:00Z", "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"}],
        "basedOn": [{"identifier": {"system": "https://acme.org/identifiers", "value": "1234"}}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/example"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2012-09-17",
        "performer": [{"reference": "Practitioner/example"}],
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "L"}]}],
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "368209003"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 107, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 60, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    })
}

fn bench(c: &mut Criterion) {
    let obs = observation();
    let compiled: Vec<_> =
        EXPRESSIONS.iter().map(|e| lantern_fhirpath::parse_search_expression(e).unwrap()).collect();
    c.bench_function(&format!("evaluate {} search expressions on an Observation", compiled.len()), |b| {
        b.iter(|| {
            let mut n = 0;
            for e in &compiled {
                n += e.evaluate(black_box(&obs)).unwrap().len();
            }
            n
        })
    });
    let where_resolve = lantern_fhirpath::parse("Observation.subject.where(resolve() is Patient)").unwrap();
    c.bench_function("Observation.subject.where(resolve() is Patient)", |b| {
        b.iter(|| where_resolve.evaluate(black_box(&obs)).unwrap().len())
    });
    c.bench_function(&format!("parse {} search expressions", EXPRESSIONS.len()), |b| {
        b.iter(|| {
            EXPRESSIONS
                .iter()
                .map(|e| lantern_fhirpath::parse_search_expression(black_box(e)).unwrap())
                .collect::<Vec<_>>()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
