//! FHIR XML at the HTTP edge: a search page (a Bundle of 100 Observations with their Patient)
//! written as XML and read back, beside the same Bundle as JSON text, so the figures say what
//! an XML client costs the server over a JSON one.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

fn page() -> Value {
    let patient = json!({"resourceType": "Patient", "id": "p1", "meta": {"versionId": "3", "lastUpdated": "2026-12-01T10:00:00Z"},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann <b>Example</b></div>"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
        "name": [{"family": "Example", "given": ["Ann", "Marie"]}], "gender": "female", "birthDate": "1980-02-03",
        "address": [{"line": ["1 Line"], "city": "Leeds", "postalCode": "LS1 4AP"}]});
    let mut entries = vec![
        json!({"fullUrl": "http://x/fhir/Patient/p1", "resource": patient, "search": {"mode": "include"}}),
    ];
    for i in 0..100 {
        let obs = json!({"resourceType": "Observation", "id": format!("o{i}"), "meta": {"versionId": "1", "lastUpdated": "2026-12-01T10:00:00Z"},
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-01T09:30:00+00:00",
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 120 + i % 20, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]});
        entries.push(json!({"fullUrl": format!("http://x/fhir/Observation/o{i}"), "resource": obs, "search": {"mode": "match"}}));
    }
    json!({"resourceType": "Bundle", "type": "searchset", "total": 100, "entry": entries})
}

fn bench(c: &mut Criterion) {
    let bundle = page();
    let xml = lantern_fhir::xml::write(&bundle, false).unwrap();
    let json_text = bundle.to_string();
    c.bench_function("xml write: Bundle of 101", |b| {
        b.iter(|| lantern_fhir::xml::write(black_box(&bundle), false))
    });
    c.bench_function("xml read: Bundle of 101", |b| {
        b.iter(|| lantern_fhir::xml::parse(black_box(&xml)).unwrap())
    });
    c.bench_function("json write: Bundle of 101", |b| b.iter(|| black_box(&bundle).to_string()));
    c.bench_function("json read: Bundle of 101", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&json_text)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
