//! FHIR search through the service layer on both backends (R4 §3.1.1): every parameter type
//! and modifier, chains, `_has`, includes, sorting, paging, result parameters and handling.
use lantern_service::Fhir;
use lantern_testkit::client::*;
use lantern_testkit::{backend_tests, ctx, json, parse, strict};
use serde_json::Value;

const MRN: &str = "http://example.org/mrn";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

/// Every entry of a bundle as `Type/id`, in bundle order.
/// Every entry as `Type/id`, in order.
fn refs(b: &Value) -> Vec<String> {
    lantern_testkit::client::refs_with_mode(b, None)
}

/// A small record set every search test can read.
async fn seed(fhir: &Fhir) {
    for b in [
        json!({"resourceType": "Organization", "id": "org1", "name": "Acme Health"}),
        json!({"resourceType": "Organization", "id": "org2", "name": "Zenith Care"}),
        json!({"resourceType": "Practitioner", "id": "gp1", "name": [{"family": "Watson"}]}),
        json!({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-02-29",
               "meta": {"tag": [{"system": "http://example.org/tags", "code": "vip"}],
                        "profile": ["http://example.org/fhir/StructureDefinition/special-patient"],
                        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
                        "source": "http://feeds.example.org/pas#a1"},
               "identifier": [{"system": MRN, "value": "M1"}, {"value": "NOSYS"}],
               "name": [{"family": "Brontë", "given": ["Zoë"]}],
               "managingOrganization": {"reference": "Organization/org1"},
               "generalPractitioner": [{"reference": "Practitioner/gp1"}]}),
        json!({"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1975-06",
               "identifier": [{"system": MRN, "value": "M2"}],
               "name": [{"family": "Brown", "given": ["Adam"]}],
               "managingOrganization": {"reference": "Organization/org2"}}),
        json!({"resourceType": "Patient", "id": "p3",
               "identifier": [{"system": "http://other.org/id", "value": "M1"}],
               "name": [{"family": "Smith", "given": ["Ann"]}]}),
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
               "subject": {"reference": "Patient/p1"},
               "period": {"start": "2024-03-01T09:00:00Z", "end": "2024-03-03T17:00:00Z"}}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
               "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
               "performer": [{"reference": "Practitioner/gp1"}],
               "effectiveDateTime": "2024-03-02T10:00:00Z",
               "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}),
        json!({"resourceType": "Observation", "id": "o2", "status": "amended",
               "code": {"coding": [{"system": LOINC, "code": "8480-6"}], "text": "SBP"},
               "subject": {"reference": "Patient/p2"},
               "effectiveDateTime": "2024-05",
               "valueQuantity": {"value": 150.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}),
        json!({"resourceType": "Observation", "id": "o3", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
               "subject": {"reference": "http://elsewhere.org/fhir/Patient/99"},
               "effectivePeriod": {"start": "2023-01-01", "end": "2023-12-31"},
               "valueQuantity": {"value": 70, "unit": "kg", "system": UCUM, "code": "kg"}}),
        json!({"resourceType": "Observation", "id": "o4", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
               "subject": {"identifier": {"system": MRN, "value": "M2"}},
               "valueQuantity": {"value": 80, "unit": "kilogram"}}),
        json!({"resourceType": "ValueSet", "id": "vs1", "status": "active", "url": "http://example.org/fhir/ValueSet/colours"}),
        json!({"resourceType": "ValueSet", "id": "vs2", "status": "active", "url": "http://example.org/fhir/ValueSet/colours/warm"}),
        json!({"resourceType": "ValueSet", "id": "vs3", "status": "active", "url": "http://example.org/other/ValueSet/x"}),
        json!({"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"},
               "prediction": [{"probabilityDecimal": 0.25}]}),
        json!({"resourceType": "RiskAssessment", "id": "r2", "status": "final", "subject": {"reference": "Patient/p2"},
               "prediction": [{"probabilityDecimal": 0.8}]}),
    ] {
        put(fhir, b).await;
    }
}

async fn check(fhir: &Fhir, rtype: &str, q: &str, want: &[&str]) {
    assert_eq!(ids(fhir, rtype, q).await, set(want), "{rtype}?{q}");
}

async fn string_params(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Patient", "name=bro", &["p1", "p2"]).await;
    check(&fhir, "Patient", "name=BRONTE", &["p1"]).await;
    check(&fhir, "Patient", "family=Brontë", &["p1"]).await;
    check(&fhir, "Patient", "given=zoe", &["p1"]).await;
    check(&fhir, "Patient", "name:exact=Brontë", &["p1"]).await;
    check(&fhir, "Patient", "name:exact=bronte", &[]).await;
    check(&fhir, "Patient", "name:exact=Bront", &[]).await;
    check(&fhir, "Patient", "name:contains=ont", &["p1"]).await;
    check(&fhir, "Patient", "name:contains=RO", &["p1", "p2"]).await;
    check(&fhir, "Patient", "name=smith,brown", &["p2", "p3"]).await;
    check(&fhir, "Patient", "name=b&given=adam", &["p2"]).await;
    check(&fhir, "Organization", "name=acme", &["org1"]).await;
    check(&fhir, "Patient", "name=ith", &[]).await;
    // LIKE wildcards in a value are literal characters.
    put(&fhir, json!({"resourceType": "Patient", "id": "pct", "name": [{"family": "Cent%_Odd"}]})).await;
    check(&fhir, "Patient", "name:contains=%25", &["pct"]).await;
    check(&fhir, "Patient", "name:contains=_", &["pct"]).await;
    check(&fhir, "Patient", "name=cent%25_", &["pct"]).await;
    check(&fhir, "Patient", "name=cent_", &[]).await;
}

async fn token_params(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Patient", "gender=female", &["p1"]).await;
    check(&fhir, "Patient", "gender:not=female", &["p2", "p3"]).await;
    check(&fhir, "Patient", "identifier=M1", &["p1", "p3"]).await;
    check(&fhir, "Patient", &format!("identifier={MRN}|M1"), &["p1"]).await;
    check(&fhir, "Patient", &format!("identifier={MRN}|"), &["p1", "p2"]).await;
    check(&fhir, "Patient", "identifier=|NOSYS", &["p1"]).await;
    check(&fhir, "Patient", "identifier=|M1", &[]).await;
    check(&fhir, "Patient", "identifier=http://unknown.org|M1", &[]).await;
    check(&fhir, "Observation", &format!("code={LOINC}|8480-6"), &["o1", "o2"]).await;
    check(&fhir, "Observation", "code=8480-6,29463-7", &["o1", "o2", "o3", "o4"]).await;
    check(&fhir, "Observation", "code:text=systolic", &["o1"]).await;
    check(&fhir, "Observation", "code:text=sbp", &["o2"]).await;
    check(&fhir, "Observation", "status:not=final", &["o2"]).await;
    check(&fhir, "Observation", "status=final&code=29463-7", &["o3", "o4"]).await;
    check(&fhir, "Encounter", "class=AMB", &["e1"]).await;
    check(&fhir, "Observation", &format!("code:not={LOINC}|8480-6"), &["o3", "o4"]).await;
    check(&fhir, "Patient", "_id:not=p1", &["p2", "p3"]).await;
    check(&fhir, "Patient", "gender:not=male,female", &["p3"]).await;
    // A concept with only text has a value (kept apart, for `:text`): `:missing` counts it.
    put(
        &fhir,
        json!({"resourceType": "Observation", "id": "t1", "status": "final", "code": {"text": "Only text"}}),
    )
    .await;
    check(&fhir, "Observation", "code:missing=true&_id=t1", &[]).await;
    check(&fhir, "Observation", "code:missing=false&_id=t1", &["t1"]).await;
}

/// `:in` and `:not-in`: a stored ValueSet that lists its codes, one that carries an
/// expansion, one of R4's own; what cannot be expanded without a terminology server is refused.
async fn value_set_modifiers(fhir: Fhir) {
    seed(&fhir).await;
    let bp = "http://example.org/fhir/ValueSet/blood-pressure";
    put(
        &fhir,
        json!({"resourceType": "ValueSet", "id": "bp", "url": bp, "status": "active",
        "compose": {"include": [{"system": LOINC, "concept": [{"code": "8480-6"}, {"code": "8462-4"}]}]}}),
    )
    .await;
    check(&fhir, "Observation", &format!("code:in={bp}"), &["o1", "o2"]).await;
    check(&fhir, "Observation", &format!("code:not-in={bp}"), &["o3", "o4"]).await;
    check(&fhir, "Observation", &format!("code:in={bp}|1.0&status=amended"), &["o2"]).await;
    // An expansion, as a terminology server would have written it.
    let weight = "http://example.org/fhir/ValueSet/weight";
    put(&fhir, json!({"resourceType": "ValueSet", "id": "weight", "url": weight, "status": "active",
        "compose": {"include": [{"system": LOINC, "filter": [{"property": "COMPONENT", "op": "=", "value": "Body weight"}]}]},
        "expansion": {"timestamp": "2024-01-01T00:00:00Z", "contains": [{"system": LOINC, "code": "29463-7"}]}}))
    .await;
    check(&fhir, "Observation", &format!("code:in={weight}"), &["o3", "o4"]).await;
    check(&fhir, "Observation", &format!("code:in={bp},{weight}"), &["o1", "o2", "o3", "o4"]).await;
    // R4's own value sets; a `code` element is indexed without a system, its binding implies it.
    check(&fhir, "Patient", "gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", &["p1", "p2"])
        .await;
    check(&fhir, "Observation", "status:not-in=http://hl7.org/fhir/ValueSet/observation-status", &[]).await;
    // What Lantern cannot expand is an error, not an empty or partial answer.
    put(
        &fhir,
        json!({"resourceType": "ValueSet", "id": "all-snomed", "url": "http://example.org/fhir/ValueSet/all",
        "status": "active", "compose": {"include": [{"system": "http://snomed.info/sct"}]}}),
    )
    .await;
    for q in
        ["code:in=http://example.org/fhir/ValueSet/all", "code:in=http://example.org/fhir/ValueSet/unknown"]
    {
        for c in [strict(), ctx()] {
            let e = fhir.search(&c, Some("Observation"), &pairs(q)).await.unwrap_err();
            assert_eq!(lantern_service::error_status(&e), 400, "{q}");
        }
    }
}

async fn reference_params(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Observation", "subject=Patient/p1", &["o1"]).await;
    check(&fhir, "Observation", "subject=p1", &["o1"]).await;
    check(&fhir, "Observation", "subject:Patient=p2", &["o2"]).await;
    check(&fhir, "Observation", "patient=p1", &["o1"]).await;
    check(&fhir, "Observation", "subject=Patient/p1,Patient/p2", &["o1", "o2"]).await;
    check(&fhir, "Observation", "subject=http://elsewhere.org/fhir/Patient/99", &["o3"]).await;
    check(&fhir, "Observation", &format!("subject:identifier={MRN}|M2"), &["o4"]).await;
    // A reference by identifier only is a value too.
    check(&fhir, "Observation", "subject:missing=true", &[]).await;
    check(&fhir, "Observation", "subject:missing=false", &["o1", "o2", "o3", "o4"]).await;
    check(&fhir, "Observation", "subject=Group/p1", &[]).await;
    check(&fhir, "Observation", "encounter=Encounter/e1", &["o1"]).await;
    // A reference by the server's own absolute URL is the local reference.
    check(&fhir, "Observation", &format!("subject={}/Patient/p1", lantern_testkit::BASE), &["o1"]).await;
    // And a reference *written* as the server's own absolute URL is stored as the local one.
    let obs = json!({"resourceType": "Observation", "id": "abs1", "status": "final",
        "code": {"text": "x"}, "subject": {"reference": format!("{}/Patient/p2", lantern_testkit::BASE)}});
    let w = fhir.update(&ctx(), "Observation", "abs1", obs, None).await.expect("write");
    assert!(w.stored.body.as_deref().unwrap_or("").contains("\"reference\":\"Patient/p2\""));
    check(&fhir, "Observation", "subject=Patient/p2", &["abs1", "o2"]).await;
}

async fn date_params(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Patient", "birthdate=1980", &["p1"]).await;
    check(&fhir, "Patient", "birthdate=1980-02-29", &["p1"]).await;
    check(&fhir, "Patient", "birthdate=1975", &["p2"]).await;
    check(&fhir, "Patient", "birthdate=1975-06-15", &[]).await; // a month does not fit in a day
                                                                // ap: within 10% of the gap between now and the date (R4's recommendation), so p1 may come too.
    assert!(ids(&fhir, "Patient", "birthdate=ap1975-06-15").await.contains(&"p2".to_string()));
    check(&fhir, "Patient", "birthdate=ap2020-06-15", &[]).await;
    check(&fhir, "Patient", "birthdate=lt1979", &["p2"]).await;
    check(&fhir, "Patient", "birthdate=gt1979", &["p1"]).await;
    check(&fhir, "Patient", "birthdate=ge1980-02-29", &["p1"]).await;
    check(&fhir, "Patient", "birthdate=le1975-06-30", &["p2"]).await;
    check(&fhir, "Patient", "birthdate=ne1980", &["p2"]).await;
    check(&fhir, "Patient", "birthdate=sa1975", &["p1"]).await;
    check(&fhir, "Patient", "birthdate=eb1980", &["p2"]).await;
    check(&fhir, "Patient", "birthdate:missing=true", &["p3"]).await;
    check(&fhir, "Patient", "birthdate:missing=false", &["p1", "p2"]).await;
    // Periods.
    check(&fhir, "Encounter", "date=2024-03-02", &[]).await;
    check(&fhir, "Encounter", "date=2024-03", &["e1"]).await;
    check(&fhir, "Encounter", "date=ge2024-03-02", &["e1"]).await;
    check(&fhir, "Encounter", "date=le2024-03-02", &["e1"]).await;
    check(&fhir, "Encounter", "date=gt2024-03-04", &[]).await;
    check(&fhir, "Encounter", "date=sa2024-02-28", &["e1"]).await;
    check(&fhir, "Encounter", "date=eb2024-03-04", &["e1"]).await;
    check(&fhir, "Encounter", "date=2024-03-01T09:00:00Z", &[]).await;
    check(&fhir, "Observation", "date=2024", &["o1", "o2"]).await;
    check(&fhir, "Observation", "date=2023-06-01", &[]).await;
    check(&fhir, "Observation", "date=le2023-06-01", &["o3"]).await;
    check(&fhir, "Observation", "date=2024-03-02T10:00:00Z", &["o1"]).await;
    check(&fhir, "Observation", "date=2024-03-02T11:00:00%2B01:00", &["o1"]).await;
    check(&fhir, "Observation", "date=gt2024-03-02T10:00:00Z", &["o2"]).await;
    check(&fhir, "Observation", "date=ge2024-03-02T10:00:00Z", &["o1", "o2"]).await;
    check(&fhir, "Observation", "date:missing=true", &["o4"]).await;
    // Two criteria on one parameter: a range.
    check(&fhir, "Observation", "date=ge2024-01-01&date=lt2024-04-01", &["o1"]).await;
    // Bad dates are refused, not ignored.
    assert!(fhir.search(&ctx(), Some("Patient"), &pairs("birthdate=1980-13")).await.is_err());
}

async fn number_quantity_uri_composite(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "RiskAssessment", "probability=0.25", &["r1"]).await;
    check(&fhir, "RiskAssessment", "probability=0.4", &[]).await;
    check(&fhir, "RiskAssessment", "probability=0.250", &["r1"]).await;
    check(&fhir, "RiskAssessment", "probability=0.251", &[]).await;
    check(&fhir, "RiskAssessment", "probability=gt0.5", &["r2"]).await;
    check(&fhir, "RiskAssessment", "probability=le0.25", &["r1"]).await;
    check(&fhir, "RiskAssessment", "probability=ne0.8", &["r1"]).await;

    check(&fhir, "Observation", "value-quantity=120", &["o1"]).await;
    check(&fhir, "Observation", "value-quantity=1.2e2", &["o1"]).await;
    check(&fhir, "Observation", "value-quantity=150", &[]).await;
    check(&fhir, "Observation", "value-quantity=150.5", &["o2"]).await;
    check(&fhir, "Observation", "value-quantity=gt100", &["o1", "o2"]).await;
    check(&fhir, "Observation", &format!("value-quantity=lt100|{UCUM}|kg"), &["o3"]).await;
    check(&fhir, "Observation", "value-quantity=gt100||mm[Hg]", &["o1", "o2"]).await;
    check(&fhir, "Observation", "value-quantity=gt100||mmHg", &["o1", "o2"]).await;
    check(&fhir, "Observation", "value-quantity=80||kilogram", &["o4"]).await;
    check(&fhir, "Observation", "value-quantity=ap78", &["o4"]).await;
    check(&fhir, "Observation", &format!("value-quantity=120|{UCUM}|kg"), &[]).await;

    check(&fhir, "Observation", &format!("code-value-quantity={LOINC}|8480-6$gt130"), &["o2"]).await;
    check(&fhir, "Observation", "code-value-quantity=8480-6$lt130", &["o1"]).await;
    check(&fhir, "Observation", &format!("code-value-quantity={LOINC}|8480-6$120"), &["o1"]).await;
    check(&fhir, "Observation", &format!("code-value-quantity={LOINC}|29463-7$gt130"), &[]).await;

    // Composites inside backbone elements (Observation.component).
    put(
        &fhir,
        json!({"resourceType": "Observation", "id": "bp", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
               "component": [
                   {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 140, "system": UCUM, "code": "mm[Hg]"}},
                   {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 90, "system": UCUM, "code": "mm[Hg]"}}]}),
    )
    .await;
    check(&fhir, "Observation", &format!("component-code-value-quantity={LOINC}|8462-4$gt85"), &["bp"]).await;
    check(&fhir, "Observation", &format!("component-code-value-quantity={LOINC}|8462-4$gt95"), &[]).await;
    check(&fhir, "Observation", "combo-code-value-quantity=8480-6$gt130", &["bp", "o2"]).await;
    check(&fhir, "Observation", "component-value-quantity=90", &["bp"]).await;
    check(&fhir, "ValueSet", "url=http://example.org/fhir/ValueSet/colours", &["vs1"]).await;
    check(&fhir, "ValueSet", "url:below=http://example.org/fhir/ValueSet/colours", &["vs1", "vs2"]).await;
    check(&fhir, "ValueSet", "url:below=http://example.org/fhir", &["vs1", "vs2"]).await;
    check(
        &fhir,
        "ValueSet",
        "url:above=http://example.org/fhir/ValueSet/colours/warm/deeper",
        &["vs1", "vs2"],
    )
    .await;
    check(&fhir, "ValueSet", "url:above=http://example.org/fhir/ValueSet/colours", &["vs1"]).await;
}

/// Parameters whose values another parameter's index rows hold (`lantern_r4::shared`):
/// `combo-*` is the plain parameter and the component one together, `patient` is `subject`
/// pointing at a Patient. Every way of reading them must see what their own rows would show.
async fn shared_parameters(fhir: Fhir) {
    seed(&fhir).await;
    put(
        &fhir,
        json!({"resourceType": "Observation", "id": "bp", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
               "subject": {"reference": "Group/g1"},
               "component": [
                   {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic"}]},
                    "valueQuantity": {"value": 140, "system": UCUM, "code": "mm[Hg]"}},
                   {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                    "valueQuantity": {"value": 90, "system": UCUM, "code": "mm[Hg]"}}]}),
    )
    .await;
    put(&fhir, json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true})).await;
    // combo-code: the code or a component's code; :text and :not alike.
    check(&fhir, "Observation", "combo-code=8480-6", &["bp", "o1", "o2"]).await;
    check(&fhir, "Observation", &format!("combo-code={LOINC}|85354-9"), &["bp"]).await;
    check(&fhir, "Observation", "combo-code:text=systolic", &["bp", "o1"]).await;
    check(&fhir, "Observation", "combo-code:text=blood", &["bp"]).await;
    check(&fhir, "Observation", "combo-code:not=8480-6", &["o3", "o4"]).await;
    check(&fhir, "Observation", "combo-value-quantity=90", &["bp"]).await;
    check(&fhir, "Observation", "combo-value-quantity=gt130", &["bp", "o2"]).await;
    check(&fhir, "Observation", "combo-code-value-quantity=8462-4$90", &["bp"]).await;
    check(&fhir, "Observation", "combo-code:missing=true", &[]).await;
    assert_eq!(
        ids_in_order(&fhir, "Observation", "combo-code=8480-6&_sort=-combo-value-quantity").await,
        vec!["o2", "bp", "o1"]
    );
    // patient: subject when it is a Patient, relative or absolute.
    check(&fhir, "Observation", "patient=p1", &["o1"]).await;
    check(&fhir, "Observation", "patient=Patient/p2", &["o2"]).await;
    check(&fhir, "Observation", "patient=g1", &[]).await;
    check(&fhir, "Observation", "subject=Group/g1", &["bp"]).await;
    check(&fhir, "Observation", "patient=http://elsewhere.org/fhir/Patient/99", &["o3"]).await;
    check(&fhir, "Observation", "patient:missing=true", &["bp", "o4"]).await;
    check(&fhir, "Observation", "patient:missing=false", &["o1", "o2", "o3"]).await;
    check(&fhir, "Observation", "patient.name=bronte", &["o1"]).await;
    check(&fhir, "Group", "_has:Observation:patient:code=85354-9", &[]).await;
    check(&fhir, "Group", "_has:Observation:subject:code=85354-9", &["g1"]).await;
    let b = search_bundle(&fhir, "Observation", "_id=bp,o1&_include=Observation:patient").await;
    assert_eq!(ids_with_mode(&b, "include"), vec!["p1"], "the Group is not a patient");
    let b = search_bundle(&fhir, "Group", "_id=g1&_revinclude=Observation:patient").await;
    assert!(ids_with_mode(&b, "include").is_empty());
    let b = search_bundle(&fhir, "Patient", "_id=p1&_revinclude=Observation:patient").await;
    assert_eq!(ids_with_mode(&b, "include"), vec!["o1"]);
}

async fn meta_params(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Patient", "_id=p1,p3", &["p1", "p3"]).await;
    check(&fhir, "Patient", "_tag=http://example.org/tags|vip", &["p1"]).await;
    check(&fhir, "Patient", "_tag=vip", &["p1"]).await;
    check(&fhir, "Patient", "_profile=http://example.org/fhir/StructureDefinition/special-patient", &["p1"])
        .await;
    check(&fhir, "Patient", "_security=R", &["p1"]).await;
    check(&fhir, "Patient", "_source=http://feeds.example.org/pas%23a1", &["p1"]).await;
    check(&fhir, "Patient", "_tag:missing=true", &["p2", "p3"]).await;
    let p3 = parse(fhir.read(&ctx(), "Patient", "p3").await.unwrap().body.as_deref().unwrap());
    let lu = p3["meta"]["lastUpdated"].as_str().unwrap().replace('+', "%2B");
    check(&fhir, "Patient", &format!("_lastUpdated=ge{lu}"), &["p3"]).await;
    check(&fhir, "Patient", &format!("_lastUpdated=lt{lu}"), &["p1", "p2"]).await;
    check(&fhir, "Patient", "_lastUpdated=gt2000-01-01", &["p1", "p2", "p3"]).await;
}

async fn chains_and_has(fhir: Fhir) {
    seed(&fhir).await;
    check(&fhir, "Observation", "subject.name=bronte", &["o1"]).await;
    check(&fhir, "Observation", "subject:Patient.gender=male", &["o2"]).await;
    check(&fhir, "Observation", "subject:Patient.organization.name=acme", &["o1"]).await;
    check(&fhir, "Observation", "patient.organization.name=zenith", &["o2"]).await;
    check(&fhir, "Observation", &format!("subject:Patient.identifier={MRN}|M2"), &["o2"]).await;
    check(&fhir, "Observation", "encounter.subject:Patient.general-practitioner.name=watson", &["o1"]).await;
    check(&fhir, "Patient", "_has:Observation:patient:code=8480-6", &["p1", "p2"]).await;
    check(&fhir, "Patient", "_has:Observation:patient:status=amended", &["p2"]).await;
    check(&fhir, "Patient", "_has:Encounter:patient:_has:Observation:encounter:code=8480-6", &["p1"]).await;
    check(
        &fhir,
        "Organization",
        "_has:Patient:organization:_has:Observation:patient:status=amended",
        &["org2"],
    )
    .await;
    check(&fhir, "Patient", "_has:Observation:patient:code=nothing", &[]).await;
    // A deleted link breaks the chain.
    fhir.delete(&ctx(), "Organization", "org2", None).await.unwrap();
    check(&fhir, "Observation", "patient.organization.name=zenith", &[]).await;
}

async fn includes(fhir: Fhir) {
    seed(&fhir).await;
    let b = search_bundle(&fhir, "Observation", "_id=o1&_include=Observation:subject").await;
    assert_eq!(ids_with_mode(&b, "match"), vec!["o1"]);
    assert_eq!(ids_with_mode(&b, "include"), vec!["p1"]);
    let b = search_bundle(
        &fhir,
        "Observation",
        "_id=o1&_include=Observation:subject&_include:iterate=Patient:organization",
    )
    .await;
    let mut inc = ids_with_mode(&b, "include");
    inc.sort();
    assert_eq!(inc, set(&["org1", "p1"]));
    let b = search_bundle(
        &fhir,
        "Observation",
        "_id=o1&_include=Observation:subject&_include=Patient:organization",
    )
    .await;
    assert_eq!(
        ids_with_mode(&b, "include"),
        vec!["p1"],
        "without :iterate, Patient:organization is not followed from includes"
    );
    let b = search_bundle(&fhir, "Observation", "_id=o1&_include=*").await;
    let mut inc = ids_with_mode(&b, "include");
    inc.sort();
    assert_eq!(inc, set(&["e1", "gp1", "p1"]));
    let b = search_bundle(&fhir, "Observation", "_id=o1&_include=Observation:subject:Practitioner").await;
    assert!(ids_with_mode(&b, "include").is_empty());
    let b = search_bundle(&fhir, "Patient", "_id=p1&_revinclude=Observation:subject").await;
    assert_eq!(ids_with_mode(&b, "include"), vec!["o1"]);
    let b = search_bundle(
        &fhir,
        "Patient",
        "_id=p1&_revinclude=Encounter:subject&_revinclude:iterate=Observation:encounter",
    )
    .await;
    let mut inc = ids_with_mode(&b, "include");
    inc.sort();
    assert_eq!(inc, set(&["e1", "o1"]));
    // Included resources do not count toward the total.
    assert_eq!(b["total"], 1);
    // `_revinclude=*`: everything, of any type, that refers to the match.
    let b = search_bundle(&fhir, "Patient", "_id=p1&_revinclude=*").await;
    let inc = ids_with_mode(&b, "include");
    assert!(inc.contains(&"o1".to_string()) && inc.contains(&"e1".to_string()), "{inc:?}");
}

async fn sorting(fhir: Fhir) {
    seed(&fhir).await;
    assert_eq!(ids_in_order(&fhir, "Patient", "_sort=family").await, vec!["p1", "p2", "p3"]);
    assert_eq!(ids_in_order(&fhir, "Patient", "_sort=-family").await, vec!["p3", "p2", "p1"]);
    put(&fhir, json!({"resourceType": "Organization", "id": "org0", "name": "Aardvark"})).await;
    put(&fhir, json!({"resourceType": "Organization", "id": "orgx", "active": true})).await;
    assert_eq!(
        ids_in_order(&fhir, "Organization", "_sort=name").await,
        vec!["org0", "org1", "org2", "orgx"],
        "text: missing last"
    );
    assert_eq!(
        ids_in_order(&fhir, "Organization", "_sort=-name").await,
        vec!["org2", "org1", "org0", "orgx"],
        "text: missing last descending"
    );
    assert_eq!(
        ids_in_order(&fhir, "Organization", "_sort=-active,name").await,
        vec!["orgx", "org0", "org1", "org2"]
    );
    assert_eq!(
        ids_in_order(&fhir, "Patient", "_sort=birthdate").await,
        vec!["p2", "p1", "p3"],
        "missing last"
    );
    assert_eq!(
        ids_in_order(&fhir, "Patient", "_sort=-birthdate").await,
        vec!["p1", "p2", "p3"],
        "missing last descending too"
    );
    assert_eq!(ids_in_order(&fhir, "Observation", "_sort=code,-date").await, vec!["o3", "o4", "o2", "o1"]);
    assert_eq!(ids_in_order(&fhir, "Observation", "_sort=-code,date").await, vec!["o1", "o2", "o3", "o4"]);
    assert_eq!(ids_in_order(&fhir, "Patient", "_sort=-_id").await, vec!["p3", "p2", "p1"]);
    assert_eq!(
        ids_in_order(&fhir, "Observation", "_sort=value-quantity").await,
        vec!["o3", "o4", "o1", "o2"]
    );
    assert!(fhir.search(&ctx(), Some("Patient"), &pairs("_sort=nonsense")).await.is_err());
}

async fn result_params(fhir: Fhir) {
    seed(&fhir).await;
    let b = search_bundle(&fhir, "Patient", "_summary=count").await;
    assert_eq!(b["total"], 3);
    assert!(b.get("entry").is_none());
    let b = search_bundle(&fhir, "Patient", "_total=none").await;
    assert!(b.get("total").is_none());
    assert_eq!(ids_with_mode(&b, "match").len(), 3);
    let b = search_bundle(&fhir, "Patient", "_count=1").await;
    assert_eq!(b["total"], 3);
    assert_eq!(ids_with_mode(&b, "match").len(), 1);
    assert!(link(&b, "next").is_some());
    let b = search_bundle(&fhir, "Patient", "_count=0").await;
    assert_eq!(b["total"], 3);
    // The total comes from the first page when it holds every match, and from a count when it
    // does not; both must agree, whatever the page size and total mode.
    for (q, total) in [
        ("_count=2", Some(3)),
        ("_count=3", Some(3)),
        ("_count=4", Some(3)),
        ("_count=3&_total=accurate", Some(3)),
        ("_count=4&_total=accurate", Some(3)),
        ("_count=4&_total=none", None),
        ("gender=male&_count=4", Some(1)),
        ("gender=other", Some(0)),
    ] {
        let b = search_bundle(&fhir, "Patient", q).await;
        assert_eq!(b["total"].as_i64(), total, "{q}");
    }
    let first = search_bundle(&fhir, "Patient", "_count=2").await;
    let next = link(&first, "next").expect("a second page");
    let second = search_bundle(&fhir, "Patient", &next).await;
    assert_eq!(ids_with_mode(&second, "match").len(), 1);
    assert_eq!(second["total"], 3, "a later page, short as it is, still counts every match");
    let b = search_bundle(&fhir, "Patient", "_id=p1&_elements=gender").await;
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["gender"], "female");
    assert_eq!(r["id"], "p1");
    assert!(r.get("name").is_none(), "{r}");
    assert!(r.get("birthDate").is_none(), "{r}");
    let b = search_bundle(&fhir, "Patient", "_id=p1&_summary=true").await;
    let r = &b["entry"][0]["resource"];
    assert!(r.get("name").is_some());
    // System search with _type.
    let b = search_bundle_with(&fhir, &ctx(), None, "_type=Patient,Organization&_sort=_id").await;
    assert_eq!(ids_with_mode(&b, "match"), vec!["org1", "org2", "p1", "p2", "p3"]);
    let b = search_bundle_with(&fhir, &strict(), None, "name=b&_type=Patient,Organization").await;
    let mut m = ids_with_mode(&b, "match");
    m.sort();
    assert_eq!(m, set(&["p1", "p2"]), "a system search takes the parameters its _type lists");
    let b = search_bundle_with(&fhir, &ctx(), None, "_type=Patient,Observation&_id=p1,o1").await;
    let mut m = ids_with_mode(&b, "match");
    m.sort();
    assert_eq!(m, set(&["o1", "p1"]));
}

async fn handling(fhir: Fhir) {
    seed(&fhir).await;
    let e = fhir.search(&strict(), Some("Patient"), &pairs("nonsense=1&gender=male")).await.unwrap_err();
    assert_eq!(lantern_service::error_status(&e), 400);
    assert!(e.issues().iter().any(|i| i.expression.as_deref() == Some("nonsense")), "{:?}", e.issues());
    let b = search_bundle(&fhir, "Patient", "nonsense=1&gender=male").await;
    assert_eq!(ids_with_mode(&b, "match"), vec!["p2"]);
    let oo: Vec<&Value> =
        b["entry"].as_array().unwrap().iter().filter(|e| e["search"]["mode"] == "outcome").collect();
    assert_eq!(oo.len(), 1);
    assert_eq!(oo[0]["resource"]["resourceType"], "OperationOutcome");
    assert!(oo[0]["resource"].to_string().contains("nonsense"));
    // Unknown modifiers and bad values are errors under either handling.
    for q in [
        "gender:fuzzy=male",
        "birthdate=notadate",
        "_count=abc",
        "subject=Nope/1",
        "_include=Observation:nope",
    ] {
        let t = if q.starts_with("subject") || q.starts_with("_include") { "Observation" } else { "Patient" };
        for c in [strict(), ctx()] {
            let e = fhir.search(&c, Some(t), &pairs(q)).await.unwrap_err();
            assert_eq!(lantern_service::error_status(&e), 400, "{q}");
        }
    }
    assert!(fhir.search(&ctx(), Some("Nonsense"), &[]).await.is_err());
}

/// Pages through Patients 5 at a time while new ones are created between requests: every
/// patient that existed before the first page is seen exactly once.
async fn paging_under_inserts(fhir: Fhir) {
    for sort in ["", "_sort=family", "_sort=-_lastUpdated", "_sort=-birthdate,_id"] {
        let mut pre = Vec::new();
        for i in 0..23 {
            let mut p =
                json!({"resourceType": "Patient", "name": [{"family": format!("Page{:02}", (i * 7) % 23)}]});
            if i % 3 == 0 {
                p["birthDate"] = json!(format!("19{:02}", 50 + i));
            }
            pre.push(create(&fhir, p).await);
        }
        let mut q = format!("name=page&_count=5&{sort}");
        let mut seen: Vec<String> = Vec::new();
        let mut pages = 0;
        loop {
            let b = search_bundle(&fhir, "Patient", &q).await;
            seen.extend(ids_with_mode(&b, "match"));
            pages += 1;
            assert!(pages < 20, "paging does not end");
            create(&fhir, json!({"resourceType": "Patient", "name": [{"family": format!("Page{pages}new")}], "birthDate": "1960"})).await;
            match link(&b, "next") {
                Some(n) => q = n,
                None => break,
            }
        }
        let mut uniq = seen.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), seen.len(), "{sort}: duplicates across pages");
        for id in &pre {
            assert!(seen.contains(id), "{sort}: pre-existing {id} skipped");
        }
        // Clean up so the next sort order starts from the same state.
        for id in uniq.iter().chain(pre.iter()) {
            let _ = fhir.delete(&ctx(), "Patient", id, None).await;
        }
        let rest = ids(&fhir, "Patient", "name=page&_count=1000").await;
        for id in rest {
            fhir.delete(&ctx(), "Patient", &id, None).await.unwrap();
        }
    }
}

/// A search by one exact token (system and code) walks that code's index rows in order and
/// stops after a page: pages, totals, deleted resources and inserts between pages must come out
/// as from any other search.
async fn exact_token_pages(fhir: Fhir) {
    let obs = |code: &str| {
        json!({"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
    };
    let mut want = Vec::new();
    for i in 0..23 {
        want.push(create(&fhir, obs("8480-6")).await);
        if i % 4 == 0 {
            create(&fhir, obs("8462-4")).await;
        }
    }
    let gone = want.remove(5);
    fhir.delete(&ctx(), "Observation", &gone, None).await.unwrap();
    let first = search_bundle(&fhir, "Observation", "code=http://loinc.org|8480-6&_count=5").await;
    assert_eq!(first["total"], 22);
    let mut q = "code=http://loinc.org|8480-6&_count=5".to_string();
    let mut seen = Vec::new();
    let mut added = Vec::new();
    loop {
        let b = search_bundle(&fhir, "Observation", &q).await;
        seen.extend(ids_with_mode(&b, "match"));
        // Inserted between pages: later in rk order, so it may appear, never twice.
        added.push(create(&fhir, obs("8480-6")).await);
        match link(&b, "next") {
            Some(n) => q = n,
            None => break,
        }
        assert!(seen.len() < 100, "paging does not end");
    }
    let mut uniq = seen.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), seen.len(), "duplicates across pages");
    for id in &want {
        assert!(seen.contains(id), "{id} skipped");
    }
    assert!(!seen.contains(&gone), "a deleted resource was returned");
    assert!(
        seen.iter().all(|id| want.contains(id) || added.contains(id)),
        "another code's resource returned"
    );
    let accurate =
        search_bundle(&fhir, "Observation", "code=http://loinc.org|8480-6&_total=accurate&_count=1").await;
    assert_eq!(accurate["total"], 22 + added.len());
}

/// `Patient/$everything`'s own parameters: `_type` narrows the page (referenced resources too)
/// and stays in the paging links with `_since`; `start` and `end` select by care dates; what
/// it does not support is refused when strict.
async fn everything_params(fhir: Fhir) {
    seed(&fhir).await;
    let every = |q: &'static str, c: lantern_service::Ctx| {
        let fhir = fhir.clone();
        async move { fhir.everything(&c, vec!["p1".into()], &pairs(q)).await.map(|t| parse(&t)) }
    };
    let kinds = |b: &Value| -> Vec<String> {
        let mut v = refs(b);
        v.sort();
        v
    };
    let all = every("", ctx()).await.unwrap();
    assert_eq!(
        kinds(&all),
        [
            "Encounter/e1",
            "Observation/o1",
            "Organization/org1",
            "Patient/p1",
            "Practitioner/gp1",
            "RiskAssessment/r1"
        ]
    );
    let some = every("_type=Observation,Encounter", ctx()).await.unwrap();
    assert_eq!(
        (kinds(&some), some["total"].as_i64()),
        (vec!["Encounter/e1".to_string(), "Observation/o1".into()], Some(2))
    );
    // Paged one at a time: the next link keeps `_type` and `_since`.
    let first = every("_type=Observation,Encounter&_since=2000-01-01&_count=1", ctx()).await.unwrap();
    let next = link(&first, "next").expect("a next link"); // its query
    assert!(next.contains("_type=Observation%2CEncounter") && next.contains("_since=2000-01-01"), "{next}");
    let second = fhir.everything(&ctx(), vec!["p1".into()], &pairs(&next)).await.map(|t| parse(&t)).unwrap();
    let mut both = kinds(&first);
    both.extend(kinds(&second));
    both.sort();
    assert_eq!(both, ["Encounter/e1", "Observation/o1"]);
    assert!(link(&second, "next").is_none());
    // Bad or unsupported parameters.
    assert_eq!(
        every("_type=Nope", ctx()).await.unwrap_err().issues()[0].expression.as_deref(),
        Some("_type")
    );
    assert!(every("start=2024-13-01", ctx()).await.is_err(), "not a date");
    assert!(every("nonsense=1", strict()).await.is_err(), "strict refuses what it does not support");
    let formatted = every("_format=json&_pretty=true", strict()).await.unwrap();
    assert!(ids_with_mode(&formatted, "outcome").is_empty(), "_format and _pretty are every interaction's");
    let lenient = every("nonsense=1", ctx()).await.unwrap();
    assert_eq!(ids_with_mode(&lenient, "match").len(), 4, "lenient ignores");
    assert_eq!(ids_with_mode(&lenient, "include").len(), 2, "what the compartment refers to");
    let said = ids_with_mode(&lenient, "outcome");
    assert_eq!(said.len(), 1, "and says so in the Bundle");
    assert!(lenient.to_string().contains("does not support the parameter 'nonsense'"));

    // `start` and `end`: care dates, each type's own (a Condition's onset, an Encounter's
    // period, an Observation's effective time); what has none (the Patient, the undated
    // RiskAssessment) is always in, and what they refer to comes along.
    for (id, onset) in [("c-old", "2010-05-01"), ("c-new", "2024-03-01")] {
        put(
            &fhir,
            json!({"resourceType": "Condition", "id": id, "subject": {"reference": "Patient/p1"},
            "code": {"text": id}, "onsetDateTime": onset}),
        )
        .await;
    }
    let undated = ["Organization/org1", "Patient/p1", "Practitioner/gp1", "RiskAssessment/r1"];
    let with = |dated: &[&str]| {
        let mut v: Vec<String> = undated.iter().chain(dated).map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let since_2024 = every("start=2024-01-01", strict()).await.unwrap();
    assert_eq!(kinds(&since_2024), with(&["Condition/c-new", "Encounter/e1", "Observation/o1"]));
    assert_eq!(since_2024["total"], 5, "the total counts the range too (the referenced two are not counted)");
    assert_eq!(kinds(&every("end=2015", ctx()).await.unwrap()), with(&["Condition/c-old"]));
    // The encounter's period (1-3 March) overlaps 3 March; the observation (2 March) does not.
    assert_eq!(
        kinds(&every("start=2024-03-03&end=2024-03-03T23:59:59%2B00:00", ctx()).await.unwrap()),
        with(&["Encounter/e1"])
    );
    let paged = every("start=2024-01-01&end=2024-12-31&_count=2", ctx()).await.unwrap();
    let next = link(&paged, "next").expect("a next link");
    assert!(next.contains("start=2024-01-01") && next.contains("end=2024-12-31"), "{next}");
}

/// `_total=estimate` (the default) at its cap: a first page that is not the last says how many
/// match up to the cap, and nothing above it; the next page and `_total=accurate` still count.
async fn estimate_at_the_cap(fhir: Fhir) {
    let cap = lantern_fhir::search::ESTIMATE_CAP as usize;
    let obs = |code: &str| {
        json!({"resource": {"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": LOINC, "code": code}]}},
               "request": {"method": "POST", "url": "Observation"}})
    };
    let mut entries: Vec<Value> = (0..cap).map(|_| obs("cap")).collect();
    entries.extend((0..7).map(|_| obs("few")));
    fhir.bundle(&ctx(), json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}), false)
        .await
        .unwrap();
    let at_cap = search_bundle(&fhir, "Observation", "code=cap&_count=5").await;
    assert_eq!(at_cap["total"].as_u64(), Some(cap as u64));
    assert_eq!(ids_with_mode(&at_cap, "match").len(), 5);
    let few = search_bundle(&fhir, "Observation", "code=few&_count=5").await;
    assert_eq!(few["total"], 7);
    let next = link(&few, "next").expect("a second page");
    let second = search_bundle(&fhir, "Observation", &next).await;
    assert_eq!((ids_with_mode(&second, "match").len(), second["total"].as_u64()), (2, Some(7)));
    create(&fhir, obs("cap")["resource"].clone()).await;
    let over = search_bundle(&fhir, "Observation", "code=cap&_count=5").await;
    assert!(over.get("total").is_none(), "past the cap an estimate gives no total: {}", over["total"]);
    assert_eq!(ids_with_mode(&over, "match").len(), 5);
    assert!(link(&over, "next").is_some());
    let accurate = search_bundle(&fhir, "Observation", "code=cap&_count=5&_total=accurate").await;
    assert_eq!(accurate["total"].as_u64(), Some(cap as u64 + 1));
    // With `_sort`, the same totals and order: counted by a second pass over a whole type, in
    // the one pass for a search by patient.
    let sorted = search_bundle(&fhir, "Observation", "code=few&_count=5&_sort=-_lastUpdated").await;
    assert_eq!(sorted["total"], 7);
    let mut made = Vec::new();
    for _ in 0..7 {
        let mut o = obs("mine")["resource"].clone();
        o["subject"] = json!({"reference": "Patient/est"});
        made.push(create(&fhir, o).await);
    }
    made.reverse();
    let q = "subject=Patient/est&_count=5&_sort=-_lastUpdated";
    let first = search_bundle(&fhir, "Observation", q).await;
    assert_eq!(first["total"], 7);
    let mut got = ids_with_mode(&first, "match");
    let second = search_bundle(&fhir, "Observation", &link(&first, "next").expect("a second page")).await;
    assert_eq!(second["total"], 7);
    got.extend(ids_with_mode(&second, "match"));
    assert_eq!(got, made, "newest first, across both pages");
}

/// The ids of a compartment search's matches.
async fn in_compartment(fhir: &Fhir, compartment: &str, id: &str, rtype: &str, q: &str) -> Vec<String> {
    let b = parse(&fhir.search_compartment(&ctx(), compartment, id, rtype, &pairs(q)).await.unwrap());
    let mut got = ids_with_mode(&b, "match");
    got.sort();
    got
}

/// `$everything` holds the whole compartment: a resource naming the patient through any
/// compartment parameter, not only the one its patient column was made from (a Group's
/// second member; a patient who performed another's Observation).
async fn everything_spans_every_compartment_reference(fhir: Fhir) {
    seed(&fhir).await;
    put(
        &fhir,
        json!({"resourceType": "Observation", "id": "o-perf", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
        "subject": {"reference": "Patient/p2"}, "performer": [{"reference": "Patient/p1"}]}),
    )
    .await;
    put(
        &fhir,
        json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true,
        "member": [{"entity": {"reference": "Patient/p2"}}, {"entity": {"reference": "Patient/p1"}}]}),
    )
    .await;
    for (patient, want_in) in [("p1", true), ("p2", true), ("p3", false)] {
        let b = parse(&fhir.everything(&ctx(), vec![patient.into()], &pairs("_count=100")).await.unwrap());
        let got = refs(&b);
        for r in ["Observation/o-perf", "Group/g1"] {
            assert_eq!(got.contains(&r.to_string()), want_in, "{patient}: {r} in {got:?}");
        }
        // Paged one at a time, the same resources (each page brings what it refers to).
        let mut paged = std::collections::BTreeSet::new();
        let mut q = "_count=1".to_string();
        loop {
            let b = parse(&fhir.everything(&ctx(), vec![patient.into()], &pairs(&q)).await.unwrap());
            paged.extend(refs(&b));
            match link(&b, "next") {
                Some(n) => q = n,
                None => break,
            }
        }
        let whole: std::collections::BTreeSet<String> = got.into_iter().collect();
        assert_eq!(paged, whole, "{patient}: paged");
    }
}

/// `_include` and `_revinclude` through canonical references: the target is found by its
/// `url`, with or without a `|version`; `$everything` brings it along too.
async fn canonical_includes(fhir: Fhir) {
    seed(&fhir).await;
    let url = "http://example.org/fhir/Questionnaire/phq-9";
    put(
        &fhir,
        json!({"resourceType": "Questionnaire", "id": "q1", "url": url, "version": "1", "status": "active"}),
    )
    .await;
    put(&fhir, json!({"resourceType": "Questionnaire", "id": "q-other", "url": "http://example.org/fhir/Questionnaire/gad-7", "status": "active"})).await;
    put(
        &fhir,
        json!({"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed",
        "questionnaire": format!("{url}|1"), "subject": {"reference": "Patient/p1"}}),
    )
    .await;
    put(
        &fhir,
        json!({"resourceType": "QuestionnaireResponse", "id": "qr2", "status": "completed",
        "questionnaire": url, "subject": {"reference": "Patient/p2"}}),
    )
    .await;
    for (q, want) in [
        ("_include=QuestionnaireResponse:questionnaire", set(&["q1"])),
        ("_include=QuestionnaireResponse:questionnaire:Questionnaire", set(&["q1"])),
        ("_include=*", set(&["p1", "p2", "q1"])),
    ] {
        let b = search_bundle(&fhir, "QuestionnaireResponse", q).await;
        assert_eq!(ids_with_mode(&b, "match"), set(&["qr1", "qr2"]), "{q}");
        assert_eq!(ids_with_mode(&b, "include"), want, "{q}: {b}");
    }
    let b =
        search_bundle(&fhir, "QuestionnaireResponse", "_include=QuestionnaireResponse:questionnaire:Patient")
            .await;
    assert!(ids_with_mode(&b, "include").is_empty(), "{b}");
    // And back: a questionnaire with its responses, versioned or not.
    for q in ["_revinclude=QuestionnaireResponse:questionnaire", "_revinclude=*"] {
        let b = search_bundle(&fhir, "Questionnaire", q).await;
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(sorted(ids_with_mode(&b, "match")), set(&["q-other", "q1"]), "{q}");
        assert_eq!(sorted(ids_with_mode(&b, "include")), set(&["qr1", "qr2"]), "{q}: {b}");
    }
    let b =
        search_bundle(&fhir, "Questionnaire", "_id=q-other&_revinclude=QuestionnaireResponse:questionnaire")
            .await;
    assert!(ids_with_mode(&b, "include").is_empty(), "{b}");
    let every = parse(&fhir.everything(&ctx(), vec!["p1".into()], &pairs("_count=100")).await.unwrap());
    let got: Vec<&str> =
        every["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap()).collect();
    assert!(got.contains(&"qr1") && got.contains(&"q1") && !got.contains(&"q-other"), "{got:?}");
    // The compartment's resources are the matches; what they refer to comes as `include`, and
    // the total counts the matches only.
    assert!(ids_with_mode(&every, "match").contains(&"qr1".to_string()), "{every}");
    let included = ids_with_mode(&every, "include");
    assert!(included.contains(&"q1".to_string()) && included.contains(&"gp1".to_string()), "{every}");
    assert!(!included.contains(&"qr1".to_string()), "{every}");
    assert_eq!(every["total"].as_u64(), Some(ids_with_mode(&every, "match").len() as u64), "{every}");
}

/// `Observation/$lastn`: the newest `max` of each code for one patient, under the filters
/// given; refused without a patient, or with a `max` out of range.
async fn lastn_gives_the_newest_of_each_code(fhir: Fhir) {
    put(&fhir, json!({"resourceType": "Patient", "id": "pl"})).await;
    let o = |id: &str, patient: &str, code: &str, when: &str, category: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": when})
    };
    for r in [
        o("hb1", "pl", "718-7", "2024-01-01", "laboratory"),
        o("hb3", "pl", "718-7", "2024-03-01", "laboratory"),
        o("hb2", "pl", "718-7", "2024-02-01", "laboratory"),
        o("wt1", "pl", "29463-7", "2023-06-01", "vital-signs"),
        o("wt2", "pl", "29463-7", "2024-02-15", "vital-signs"),
        o("other", "p2", "718-7", "2025-01-01", "laboratory"),
    ] {
        put(&fhir, r).await;
    }
    let lastn = |q: &str| {
        let q = q.to_string();
        let fhir = fhir.clone();
        async move { fhir.lastn(&ctx(), &pairs(&q)).await }
    };
    let b = parse(&lastn("patient=pl").await.unwrap());
    assert_eq!(refs(&b), ["Observation/hb3", "Observation/wt2"], "{b}");
    assert_eq!(b["total"], 2);
    let b = parse(&lastn("patient=Patient/pl&max=2").await.unwrap());
    assert_eq!(refs(&b), ["Observation/hb3", "Observation/wt2", "Observation/hb2", "Observation/wt1"], "{b}");
    let b = parse(&lastn("subject=Patient/pl&category=vital-signs&max=5").await.unwrap());
    assert_eq!(refs(&b), ["Observation/wt2", "Observation/wt1"], "{b}");
    assert!(b["link"][0]["url"].as_str().unwrap().contains("/Observation/$lastn?"), "{b}");
    let status = |e: lantern_service::Error| lantern_service::error_status(&e);
    for q in [
        "category=laboratory",
        "patient:missing=true",
        "patient=pl&max=0",
        "patient=pl&max=many",
        "patient=pl&_sort=date",
    ] {
        assert_eq!(status(lastn(q).await.unwrap_err()), 400, "{q}");
    }
}

async fn count_zero_is_a_count(fhir: Fhir) {
    seed(&fhir).await;
    let b = search_bundle(&fhir, "Patient", "_count=0").await;
    assert_eq!(b["total"], 3, "{b}");
    assert!(b.get("entry").is_none(), "{b}");
    let b = search_bundle(&fhir, "Observation", "_count=0&code=8480-6").await;
    assert_eq!(b["total"], 2, "{b}");
}

/// `Observation/$stats`: statistics of a patient's readings of a code, standalone or inside a
/// panel, in one unit, over a period; entered-in-error and other patients left out.
async fn observation_stats(fhir: Fhir) {
    let sbp = json!({"coding": [{"system": LOINC, "code": "8480-6"}]});
    let mmhg = |v: f64| json!({"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"});
    let mut n = 0;
    let mut obs = |patient: &str, when: &str, status: &str, body: Value| {
        n += 1;
        let mut o = json!({"resourceType": "Observation", "id": format!("st{n}"), "status": status,
            "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": when});
        o.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        o
    };
    let all = [
        obs("sp1", "2026-01-10", "final", json!({"code": sbp, "valueQuantity": mmhg(120.0)})),
        obs("sp1", "2026-02-10", "final", json!({"code": sbp, "valueQuantity": mmhg(140.0)})),
        obs(
            "sp1",
            "2026-03-10",
            "final",
            json!({"code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "component": [{"code": sbp, "valueQuantity": mmhg(130.0)}]}),
        ),
        obs("sp1", "2026-03-11", "entered-in-error", json!({"code": sbp, "valueQuantity": mmhg(300.0)})),
        obs("sp1", "2020-01-01", "final", json!({"code": sbp, "valueQuantity": mmhg(90.0)})),
        obs("sp2", "2026-01-10", "final", json!({"code": sbp, "valueQuantity": mmhg(200.0)})),
    ];
    for o in all {
        put(&fhir, o).await;
    }
    let q = format!(
        "subject=Patient/sp1&system={LOINC}&code=8480-6&period=2025-01-01/2026-12-31&statistic=average,minimum,maximum,count,median,std-dev&include=true"
    );
    let out = parse(&fhir.stats(&ctx(), &pairs(&q)).await.unwrap());
    let stats = &out["parameter"][0]["resource"];
    assert_eq!(stats["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(stats["effectivePeriod"]["start"], "2025-01-01");
    let value = |code: &str| {
        let c = stats["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == code)
            .unwrap();
        c.get("valueQuantity")
            .map(|q| q["value"].to_string())
            .unwrap_or_else(|| c["valueInteger"].to_string())
    };
    assert_eq!(value("average"), "130");
    assert_eq!(value("minimum"), "120");
    assert_eq!(value("maximum"), "140");
    assert_eq!(value("count"), "3");
    assert_eq!(value("median"), "130");
    assert_eq!(value("std-dev"), "10");
    let unit = &stats["component"][0]["valueQuantity"];
    assert_eq!((unit["unit"].as_str(), unit["code"].as_str()), (Some("mmHg"), Some("mm[Hg]")));
    let sources: Vec<&str> = out["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "source")
        .map(|p| p["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
    // Refused with the reason: no subject, no code, an unknown statistic, a duration past any
    // record, a period not written start/end.
    for bad in [
        "system=x&code=1&statistic=average",
        "subject=Patient/sp1&statistic=average",
        "subject=Patient/sp1&code=1&statistic=mode",
        "subject=Patient/sp1&code=1&statistic=count&duration=1e30",
        "subject=Patient/sp1&code=1&statistic=count&period=2024",
    ] {
        assert!(fhir.stats(&ctx(), &pairs(bad)).await.is_err(), "{bad}");
    }
}

/// `_filter` gives what the ordinary parameters it stands for give, and refuses (whatever the
/// handling) what they cannot say.
async fn filter_param(fhir: Fhir) {
    seed(&fhir).await;
    let f = |e: &str| {
        format!("_filter={}", url::form_urlencoded::byte_serialize(e.as_bytes()).collect::<String>())
    };
    check(&fhir, "Patient", &f(r#"name co "ro" and gender eq male"#), &["p2"]).await;
    check(&fhir, "Patient", &f(r#"family eq "Brontë""#), &["p1"]).await;
    check(&fhir, "Patient", &f("gender eq male or gender eq female"), &["p1", "p2"]).await;
    check(&fhir, "Patient", &f("(gender ne male) and birthdate lt 1990"), &["p1"]).await;
    check(&fhir, "Patient", &f("birthdate pr false"), &["p3"]).await;
    check(&fhir, "Patient", &f("organization.name sw acme"), &["p1"]).await;
    check(&fhir, "Observation", &f("value-quantity gt 130 and status eq amended"), &["o2"]).await;
    // Beside ordinary parameters, ANDed with them.
    check(&fhir, "Patient", &format!("{}&gender=female", f("name sw b")), &["p1"]).await;
    // `or` across parameters and `not`: groups of criteria.
    check(&fhir, "Patient", &f("gender eq male or birthdate pr false"), &["p2", "p3"]).await;
    check(&fhir, "Patient", &f("not (gender eq male)"), &["p1", "p3"]).await;
    check(&fhir, "Patient", &f("not (gender eq male or family eq Smith)"), &["p1"]).await;
    check(
        &fhir,
        "Patient",
        &f("(gender eq female or family eq Smith) and identifier pr true"),
        &["p1", "p3"],
    )
    .await;
    check(
        &fhir,
        "Patient",
        &f("organization.name sw zenith or general-practitioner.name sw wat"),
        &["p1", "p2"],
    )
    .await;
    check(&fhir, "Observation", &f("value-quantity gt 130 or code eq 29463-7"), &["o2", "o3", "o4"]).await;
    // Paged through its links, the groups kept: every match once.
    let first =
        search_bundle(&fhir, "Patient", &format!("{}&_count=1", f("gender eq male or birthdate pr false")))
            .await;
    let next = link(&first, "next").expect("a next page");
    assert!(next.contains("_filter="), "{next}");
    let second = search_bundle(&fhir, "Patient", &next).await;
    let mut both = ids_with_mode(&first, "match");
    both.extend(ids_with_mode(&second, "match"));
    both.sort();
    assert_eq!(both, set(&["p2", "p3"]));
    for bad in ["name ew son", "name[use eq official].family eq x", "gender eq"] {
        for strict in [false, true] {
            let c = if strict { lantern_testkit::strict() } else { ctx() };
            let e = fhir.search(&c, Some("Patient"), &pairs(&f(bad))).await.unwrap_err();
            assert_eq!(lantern_service::error_status(&e), 400, "{bad}");
            assert!(e.issues()[0].expression.as_deref() == Some("_filter"), "{bad}: {:?}", e.issues());
        }
    }
}

/// `Patient/p1/*?q`: the sorted references of its entries, and the bundle.
async fn whole_compartment(fhir: &Fhir, q: &str) -> (Vec<String>, Value) {
    let b = parse(&fhir.search_compartment(&ctx(), "Patient", "p1", "*", &pairs(q)).await.unwrap());
    let mut got = refs(&b);
    got.sort();
    (got, b)
}

async fn compartment_search(fhir: Fhir) {
    seed(&fhir).await;
    // A patient who performed an observation of another is in its compartment too (Observation
    // is in the Patient compartment through subject and performer).
    put(
        &fhir,
        json!({"resourceType": "Observation", "id": "o5", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
        "subject": {"reference": "Patient/p2"}, "performer": [{"reference": "Patient/p1"}]}),
    )
    .await;
    assert_eq!(in_compartment(&fhir, "Patient", "p1", "Observation", "").await, set(&["o1", "o5"]));
    assert_eq!(in_compartment(&fhir, "Patient", "p2", "Observation", "").await, set(&["o2", "o5"]));
    assert_eq!(
        in_compartment(&fhir, "Patient", "p1", "Observation", &format!("code={LOINC}|8480-6&status=final"))
            .await,
        set(&["o1", "o5"])
    );
    assert_eq!(in_compartment(&fhir, "Patient", "p1", "Observation", "code=29463-7").await, set(&[]));
    assert_eq!(in_compartment(&fhir, "Patient", "p1", "RiskAssessment", "").await, set(&["r1"]));
    assert_eq!(
        in_compartment(&fhir, "Patient", "p1", "Patient", "").await,
        set(&["p1"]),
        "the patient is in its own"
    );
    assert_eq!(in_compartment(&fhir, "Encounter", "e1", "Observation", "").await, set(&["o1"]));
    assert_eq!(in_compartment(&fhir, "Practitioner", "gp1", "Observation", "").await, set(&["o1"]));
    assert_eq!(in_compartment(&fhir, "Patient", "nobody", "Observation", "").await, set(&[]));
    // Paging stays in the compartment: the links name it.
    let first = parse(
        &fhir.search_compartment(&ctx(), "Patient", "p1", "Observation", &pairs("_count=1")).await.unwrap(),
    );
    let next = first["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"]
        .as_str()
        .unwrap();
    assert!(next.contains("/Patient/p1/Observation?"), "{next}");
    let (_, q) = next.split_once('?').unwrap();
    let second =
        parse(&fhir.search_compartment(&ctx(), "Patient", "p1", "Observation", &pairs(q)).await.unwrap());
    let mut both = ids_with_mode(&first, "match");
    both.extend(ids_with_mode(&second, "match"));
    both.sort();
    assert_eq!(both, set(&["o1", "o5"]));
    // Every type at once (`Patient/p1/*`): the compartment's resources as `$everything` matches
    // them (without what they refer to), narrowed by `_type`, paged across types.
    let every = parse(&fhir.everything(&ctx(), vec!["p1".into()], &pairs("_count=100")).await.unwrap());
    let mut want = lantern_testkit::client::refs_with_mode(&every, Some("match"));
    want.sort();
    let (got, b) = whole_compartment(&fhir, "_count=100").await;
    assert!(want.len() > 3 && got == want, "{got:?} against {want:?}");
    assert_eq!(b["total"].as_u64(), Some(want.len() as u64));
    assert!(b["link"][0]["url"].as_str().unwrap().contains("/Patient/p1/*?"), "{b}");
    assert_eq!(
        whole_compartment(&fhir, "_type=Observation").await.0,
        set(&["Observation/o1", "Observation/o5"])
    );
    assert_eq!(
        whole_compartment(&fhir, "_type=Observation,Patient").await.0,
        set(&["Observation/o1", "Observation/o5", "Patient/p1"])
    );
    let mut paged = Vec::new();
    let mut q = "_count=2".to_string();
    loop {
        let b = parse(&fhir.search_compartment(&ctx(), "Patient", "p1", "*", &pairs(&q)).await.unwrap());
        paged.extend(refs(&b));
        match link(&b, "next") {
            Some(n) => q = n,
            None => break,
        }
    }
    paged.sort();
    assert_eq!(paged, want, "paged two at a time");
    // The result parameters work across types as on one: includes (marked as such), a count
    // alone, chosen elements, and an order over every type.
    let (_, b) = whole_compartment(&fhir, "_type=Observation&_include=Observation:subject").await;
    let mut matched = lantern_testkit::client::refs_with_mode(&b, Some("match"));
    matched.sort();
    assert_eq!(matched, set(&["Observation/o1", "Observation/o5"]));
    let mut included = lantern_testkit::client::refs_with_mode(&b, Some("include"));
    included.sort();
    assert_eq!(included, set(&["Patient/p1", "Patient/p2"]), "{b}");
    let (_, b) = whole_compartment(&fhir, "_summary=count").await;
    assert_eq!(b["total"].as_u64(), Some(want.len() as u64));
    assert!(b.get("entry").is_none(), "{b}");
    let (_, b) = whole_compartment(&fhir, "_type=Observation&_elements=status").await;
    for e in b["entry"].as_array().unwrap() {
        let r = &e["resource"];
        // `code` stays: mandatory elements are always returned (R4 §3.1.1.5.9).
        assert!(r.get("status").is_some() && r.get("subject").is_none(), "{r}");
    }
    let (_, b) = whole_compartment(&fhir, "_sort=-_lastUpdated&_count=100").await;
    let stamps: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["lastUpdated"].as_str().unwrap())
        .collect();
    assert!(stamps.len() == want.len() && stamps.windows(2).all(|w| w[0] >= w[1]), "{stamps:?}");
    // Refused: a type never in the compartment, no such compartment or type.
    let status = |e: lantern_service::Error| lantern_service::error_status(&e);
    for (compartment, rtype, q, want) in [
        ("Patient", "Organization", "", 400),
        ("Patient", "*", "_type=Organization", 400),
        ("Organization", "Observation", "", 404),
        ("Patient", "Nonsense", "", 404),
    ] {
        let e = fhir.search_compartment(&ctx(), compartment, "p1", rtype, &pairs(q)).await.unwrap_err();
        assert_eq!(status(e), want, "{compartment}/p1/{rtype}?{q}");
    }
}

backend_tests!(
    filter_param,
    observation_stats,
    lastn_gives_the_newest_of_each_code,
    estimate_at_the_cap,
    everything_params,
    exact_token_pages,
    string_params,
    token_params,
    value_set_modifiers,
    reference_params,
    date_params,
    number_quantity_uri_composite,
    shared_parameters,
    meta_params,
    chains_and_has,
    includes,
    sorting,
    result_params,
    handling,
    paging_under_inserts,
    compartment_search,
    count_zero_is_a_count,
    everything_spans_every_compartment_reference,
    canonical_includes,
);
