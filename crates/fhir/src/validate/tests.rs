//! Tests: the specification's own examples must validate, and a table of broken resources
//! must each give the expected issue at the expected path.
use serde_json::{json, Value};

use super::validate;

fn errors(v: &Value) -> Vec<(String, &'static str, String)> {
    validate(v)
        .into_iter()
        .filter(|i| i.is_error())
        .map(|i| (i.expression.unwrap_or_default(), i.code, i.diagnostics))
        .collect()
}

#[test]
fn a_valid_patient_has_no_issues() {
    let p = json!({
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2024-01-01T10:00:00Z", "tag": [{"system": "http://x", "code": "y"}]},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane</div>"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
        "name": [{"family": "Smith", "given": ["Jane", "Ann"], "_given": [null, {"extension": [{"url": "http://x", "valueString": "y"}]}]}],
        "gender": "female",
        "birthDate": "1970-02-28",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1970-02-28T10:00:00+00:00"}]},
        "deceasedBoolean": false,
        "contact": [{"name": {"text": "Joe"}, "relationship": [{"text": "husband"}]}],
        "generalPractitioner": [{"reference": "Organization/o1"}, {"reference": "#pr"}],
        "contained": [{"resourceType": "Practitioner", "id": "pr", "name": [{"family": "Who"}]}],
        "managingOrganization": {"reference": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"}
    });
    assert_eq!(errors(&p), vec![]);
}

/// Every example resource in the R4 package (`$LANTERN_R4_PACKAGE`, else `target/r4pkg/package`,
/// where `.ci/run` unpacks it) validated; skipped cleanly when the package is not there.
/// Examples the specification ships with genuine errors are listed in `KNOWN_INVALID` with the
/// reason.
#[test]
fn specification_examples_validate() {
    let Some(examples) = crate::examples::r4_examples() else { return };
    let (mut total, mut passed) = (0, 0);
    let mut unexpected = Vec::new();
    for (name, v) in examples {
        total += 1;
        let errs = errors(&v);
        // Mutation check: an unknown property in the last (deepest) object of the tree must be
        // caught, which shows the walk reaches every nested datatype, backbone and resource.
        let mut mutated = v.clone();
        let mut ptr = String::new();
        last_object(&v, &mut ptr);
        if let Some(obj) = mutated.pointer_mut(&ptr).and_then(Value::as_object_mut) {
            obj.insert("zzUnknown".into(), json!(1));
            let caught = validate(&mutated)
                .iter()
                .any(|i| i.code == "structure" && i.diagnostics.contains("'zzUnknown'"));
            assert!(caught, "{name}: an unknown element in its last object was not reported");
        }
        let known = KNOWN_INVALID.iter().any(|(f, _)| *f == name);
        if errs.is_empty() {
            passed += 1;
            assert!(!known, "{name} is listed as invalid but validates: update KNOWN_INVALID");
        } else if !known {
            unexpected.push((name, errs));
        }
    }
    eprintln!("R4 examples: {passed} of {total} valid ({} known invalid)", KNOWN_INVALID.len());
    for (name, errs) in unexpected.iter() {
        for e in errs.iter().take(3) {
            eprintln!("{name}: {e:?}");
        }
    }
    assert!(unexpected.is_empty(), "{} examples gave unexpected errors", unexpected.len());
}

/// The JSON pointer of the last object in document order (depth first), if the value holds
/// any object.
fn last_object(v: &Value, ptr: &mut String) -> bool {
    use std::fmt::Write;
    match v {
        Value::Object(o) => {
            for (k, c) in o.iter().rev() {
                let mark = ptr.len();
                let _ = write!(ptr, "/{}", k.replace('~', "~0").replace('/', "~1"));
                if last_object(c, ptr) {
                    return true;
                }
                ptr.truncate(mark);
            }
            true
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate().rev() {
                let mark = ptr.len();
                let _ = write!(ptr, "/{i}");
                if last_object(c, ptr) {
                    return true;
                }
                ptr.truncate(mark);
            }
            false
        }
        _ => false,
    }
}

/// Examples in hl7.fhir.r4.examples@4.0.1 that are not valid R4, and why.
/// Each is checked to still fail, so the list cannot go stale.
const KNOWN_INVALID: &[(&str, &str)] = &[
    ("DeviceMetric-example.json", "parent references a DeviceDefinition; only Device is allowed"),
    ("DeviceUseStatement-example.json", "reasonReference points at a Procedure, not an allowed target"),
    (
        "ImplementationGuide-fhir.json",
        "no name or status; references a SearchParameter id over 64 characters",
    ),
    ("ig-r4.json", "the same ImplementationGuide as ImplementationGuide-fhir.json"),
    (
        "MedicationRequest-medrx0301.json",
        "dispenseRequest.performer references a Practitioner; only Organization is allowed",
    ),
    ("Observation-clinical-gender.json", "performer references an Encounter"),
    ("Questionnaire-qs1.json", "nested items without the required linkId"),
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "id longer than 64 characters",
    ),
    ("SearchParameter-codesystem-extensions-CodeSystem-author.json", "no base (required, 1..*)"),
    ("SearchParameter-codesystem-extensions-CodeSystem-effective.json", "no base (required, 1..*)"),
    ("SearchParameter-codesystem-extensions-CodeSystem-end.json", "no base (required, 1..*)"),
    ("SearchParameter-codesystem-extensions-CodeSystem-keyword.json", "no base (required, 1..*)"),
    ("SearchParameter-codesystem-extensions-CodeSystem-workflow.json", "no base (required, 1..*)"),
    ("SearchParameter-valueset-extensions-ValueSet-author.json", "no base (required, 1..*)"),
    ("SearchParameter-valueset-extensions-ValueSet-effective.json", "no base (required, 1..*)"),
    ("SearchParameter-valueset-extensions-ValueSet-end.json", "no base (required, 1..*)"),
    ("SearchParameter-valueset-extensions-ValueSet-keyword.json", "no base (required, 1..*)"),
    ("SearchParameter-valueset-extensions-ValueSet-workflow.json", "no base (required, 1..*)"),
];

/// (what, resource, expected expression, expected code).
fn invalid_cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let obs = |extra: Value| {
        let mut o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    vec![
        ("not an object", json!([1]), "", "structure"),
        ("no resourceType", json!({"id": "x"}), "", "required"),
        ("unknown resourceType", json!({"resourceType": "Patients"}), "", "invalid"),
        ("resourceType not a string", json!({"resourceType": 1}), "", "value"),
        ("empty resource", json!({"resourceType": "Patient"}), "Patient", "structure"),
        ("unknown element", json!({"resourceType": "Patient", "nmae": []}), "Patient.nmae", "structure"),
        (
            "unknown nested element",
            json!({"resourceType": "Patient", "name": [{"family": "A", "first": "B"}]}),
            "Patient.name[0].first",
            "structure",
        ),
        (
            "unknown backbone element",
            json!({"resourceType": "Patient", "contact": [{"nam": {"text": "x"}}]}),
            "Patient.contact[0].nam",
            "structure",
        ),
        (
            "modifierExtension not on Element",
            json!({"resourceType": "Patient", "name": [{"family": "A", "modifierExtension": [{"url": "http://x", "valueString": "y"}]}]}),
            "Patient.name[0].modifierExtension",
            "structure",
        ),
        (
            "choice type not allowed",
            obs(json!({"valueMoney": {"value": 1}})),
            "Observation.valueMoney",
            "structure",
        ),
        ("bare choice name", obs(json!({"value": 1})), "Observation.value", "structure"),
        (
            "two choice types",
            obs(json!({"valueString": "a", "valueBoolean": true})),
            "Observation.value.ofType(boolean)",
            "structure",
        ),
        (
            "unknown element in choice value",
            obs(json!({"valueQuantity": {"value": 1, "unitt": "mg"}})),
            "Observation.value.ofType(Quantity).unitt",
            "structure",
        ),
        (
            "unknown element in extension value",
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueCoding": {"cod": "a"}}]}),
            "Patient.extension[0].value.ofType(Coding).cod",
            "structure",
        ),
        (
            "unknown element in contained",
            json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "nme": "x"}]}),
            "Patient.contained[0].nme",
            "structure",
        ),
        (
            "unknown element in bundle entry",
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "foo": 1}}]}),
            "Bundle.entry[0].resource.foo",
            "structure",
        ),
        (
            "bad date",
            json!({"resourceType": "Patient", "birthDate": "1970-02-30"}),
            "Patient.birthDate",
            "value",
        ),
        (
            "date as number",
            json!({"resourceType": "Patient", "birthDate": 1970}),
            "Patient.birthDate",
            "value",
        ),
        (
            "bad dateTime",
            obs(json!({"effectiveDateTime": "2024-01-01T10:00"})),
            "Observation.effective.ofType(dateTime)",
            "value",
        ),
        ("bad instant", obs(json!({"issued": "2024-01-01"})), "Observation.issued", "value"),
        ("bad time", obs(json!({"valueTime": "25:00:00"})), "Observation.value.ofType(time)", "value"),
        ("bad id", json!({"resourceType": "Patient", "id": "a b"}), "Patient.id", "value"),
        ("id too long", json!({"resourceType": "Patient", "id": "x".repeat(65)}), "Patient.id", "value"),
        (
            "code with spaces",
            json!({"resourceType": "Patient", "gender": " male"}),
            "Patient.gender",
            "value",
        ),
        (
            "boolean as string",
            json!({"resourceType": "Patient", "active": "true"}),
            "Patient.active",
            "value",
        ),
        (
            "integer with fraction",
            json!({"resourceType": "Patient", "multipleBirthInteger": 1.5}),
            "Patient.multipleBirth.ofType(integer)",
            "value",
        ),
        (
            "integer out of range",
            json!({"resourceType": "Patient", "multipleBirthInteger": 3000000000i64}),
            "Patient.multipleBirth.ofType(integer)",
            "value",
        ),
        (
            "positiveInt zero",
            obs(json!({"valueSampledData": {"origin": {"value": 0}, "period": 1, "dimensions": 0}})),
            "Observation.value.ofType(SampledData).dimensions",
            "value",
        ),
        (
            "unsignedInt negative",
            json!({"resourceType": "Patient", "photo": [{"size": -1, "contentType": "image/png"}]}),
            "Patient.photo[0].size",
            "value",
        ),
        (
            "decimal as string",
            obs(json!({"valueQuantity": {"value": "1.5"}})),
            "Observation.value.ofType(Quantity).value",
            "value",
        ),
        (
            "uri with space",
            json!({"resourceType": "Patient", "identifier": [{"system": "http://a b", "value": "1"}]}),
            "Patient.identifier[0].system",
            "value",
        ),
        (
            "bad oid",
            obs(
                json!({"valueString": "x", "identifier": [{"system": "urn:ietf:rfc:3986", "value": "1"}], "implicitRules": "urn:oid:1.2 3"}),
            ),
            "Observation.implicitRules",
            "value",
        ),
        (
            "bad base64",
            json!({"resourceType": "Binary", "contentType": "text/plain", "data": "abc"}),
            "Binary.data",
            "value",
        ),
        (
            "empty string",
            json!({"resourceType": "Patient", "name": [{"family": ""}]}),
            "Patient.name[0].family",
            "value",
        ),
        (
            "control character",
            json!({"resourceType": "Patient", "name": [{"family": "a\u{1}"}]}),
            "Patient.name[0].family",
            "value",
        ),
        (
            "empty object",
            json!({"resourceType": "Patient", "maritalStatus": {}}),
            "Patient.maritalStatus",
            "structure",
        ),
        ("empty array", json!({"resourceType": "Patient", "name": []}), "Patient.name", "structure"),
        ("null value", json!({"resourceType": "Patient", "gender": null}), "Patient.gender", "structure"),
        (
            "array for single",
            json!({"resourceType": "Patient", "gender": ["male"]}),
            "Patient.gender",
            "structure",
        ),
        (
            "single for array",
            json!({"resourceType": "Patient", "name": {"family": "A"}}),
            "Patient.name",
            "structure",
        ),
        (
            "string for complex",
            json!({"resourceType": "Patient", "maritalStatus": "M"}),
            "Patient.maritalStatus",
            "structure",
        ),
        (
            "null in array without extension",
            json!({"resourceType": "Patient", "name": [{"given": ["a", null]}]}),
            "Patient.name[0].given[1]",
            "structure",
        ),
        (
            "_x length mismatch",
            json!({"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [{"id": "1"}]}]}),
            "Patient.name[0].given",
            "structure",
        ),
        (
            "_x not an object",
            json!({"resourceType": "Patient", "birthDate": "2000", "_birthDate": "x"}),
            "Patient.birthDate",
            "structure",
        ),
        (
            "_x unknown element",
            json!({"resourceType": "Patient", "birthDate": "2000", "_birthDate": {"value": "x"}}),
            "Patient.birthDate.value",
            "structure",
        ),
        (
            "_x on complex",
            json!({"resourceType": "Patient", "_maritalStatus": {"id": "x"}}),
            "Patient._maritalStatus",
            "structure",
        ),
        (
            "_x bad extension",
            json!({"resourceType": "Patient", "name": [{"given": ["a"], "_given": [{"extension": [{"valueString": "x"}]}]}]}),
            "Patient.name[0].given[0].extension[0].url",
            "required",
        ),
        (
            "missing required",
            json!({"resourceType": "Observation", "code": {"text": "x"}}),
            "Observation.status",
            "required",
        ),
        (
            "missing required choice",
            json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"}}),
            "MedicationRequest.medication",
            "required",
        ),
        (
            "missing required in backbone",
            json!({"resourceType": "Patient", "link": [{"type": "seealso"}]}),
            "Patient.link[0].other",
            "required",
        ),
        (
            "missing required in datatype",
            json!({"resourceType": "Patient", "extension": [{"valueString": "x"}]}),
            "Patient.extension[0].url",
            "required",
        ),
        (
            "extension with value and extensions",
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueString": "x", "extension": [{"url": "a", "valueString": "b"}]}]}),
            "Patient.extension[0]",
            "structure",
        ),
        (
            "extension without value",
            json!({"resourceType": "Patient", "extension": [{"url": "http://x"}]}),
            "Patient.extension[0]",
            "structure",
        ),
        (
            "required binding code",
            json!({"resourceType": "Patient", "gender": "F"}),
            "Patient.gender",
            "code-invalid",
        ),
        ("required binding status", obs(json!({"status": "done"})), "Observation.status", "code-invalid"),
        (
            "required binding CodeableConcept",
            json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "gone"}]}}),
            "Condition.clinicalStatus",
            "code-invalid",
        ),
        (
            "bad reference",
            obs(json!({"subject": {"reference": "Patient/"}})),
            "Observation.subject.reference",
            "value",
        ),
        (
            "reference unknown type",
            obs(json!({"subject": {"reference": "Pateint/1"}})),
            "Observation.subject.reference",
            "value",
        ),
        (
            "reference wrong target",
            obs(json!({"subject": {"reference": "Practitioner/1"}})),
            "Observation.subject.reference",
            "invalid",
        ),
        (
            "absolute reference wrong target",
            obs(json!({"subject": {"reference": "http://x.org/fhir/Medication/1"}})),
            "Observation.subject.reference",
            "invalid",
        ),
        (
            "reference type wrong target",
            obs(json!({"subject": {"type": "Medication", "identifier": {"value": "1"}}})),
            "Observation.subject.type",
            "invalid",
        ),
        (
            "reference type mismatch",
            obs(json!({"subject": {"type": "Group", "reference": "Patient/1"}})),
            "Observation.subject.type",
            "invalid",
        ),
        (
            "missing contained",
            obs(json!({"subject": {"reference": "#p"}})),
            "Observation.subject.reference",
            "invalid",
        ),
        (
            "contained wrong target",
            obs(
                json!({"contained": [{"resourceType": "Medication", "id": "m"}], "subject": {"reference": "#m"}}),
            ),
            "Observation.subject.reference",
            "invalid",
        ),
        (
            "nested contained",
            json!({"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "a", "contained": [{"resourceType": "Patient", "id": "b", "active": true}]}]}),
            "Patient.contained[0]",
            "structure",
        ),
        (
            "bad urn:uuid",
            obs(json!({"subject": {"reference": "urn:uuid:1234"}})),
            "Observation.subject.reference",
            "value",
        ),
        (
            "SimpleQuantity comparator",
            json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"}, "medicationCodeableConcept": {"text": "x"}, "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1, "comparator": "<"}}]}]}),
            "MedicationRequest.dosageInstruction[0].doseAndRate[0].dose.ofType(Quantity)",
            "structure",
        ),
        (
            "too deep unknown in content reference",
            json!({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "foo": 1}]}]}),
            "Questionnaire.item[0].item[0].foo",
            "structure",
        ),
        (
            "missing required in content reference",
            json!({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"type": "string"}]}]}),
            "Questionnaire.item[0].item[0].linkId",
            "required",
        ),
        (
            "bad xhtml",
            json!({"resourceType": "Patient", "text": {"status": "generated", "div": "hello"}}),
            "Patient.text.div",
            "value",
        ),
        (
            "wrong resource in contained slot",
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Nope"}}]}),
            "Bundle.entry[0].resource",
            "invalid",
        ),
    ]
}

#[test]
fn invalid_resources_give_the_expected_issue() {
    let mut failures = Vec::new();
    for (what, resource, path, code) in invalid_cases() {
        let errs = errors(&resource);
        if !errs.iter().any(|(p, c, _)| p == path && *c == code) {
            failures.push(format!("{what}: expected {code} at '{path}', got {errs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn issues_have_plain_diagnostics_and_paths() {
    let p = json!({"resourceType": "Patient", "name": [{"given": ["a", "b", " "]}]});
    let issues = validate(&p);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].expression.as_deref(), Some("Patient.name[0].given[2]"));
    assert!(issues[0].diagnostics.contains("given"), "{}", issues[0].diagnostics);
}

/// Speed check, run with
/// `cargo test --release -p lantern-fhir validate_speed -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn validate_speed() {
    let obs = json!({
        "resourceType": "Observation", "id": "bp-1",
        "meta": {"versionId": "1", "lastUpdated": "2024-03-01T10:00:00Z", "source": "urn:lantern:feed:pas",
                 "tag": [{"system": "https://lantern.example/org", "code": "RVJ"}]},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Blood pressure 120/80</div>"},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"}],
        "basedOn": [{"identifier": {"system": "https://acme.org/identifiers", "value": "1234"}}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/example"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2024-03-01T09:30:00+00:00",
        "issued": "2024-03-01T09:45:00.000Z",
        "performer": [{"reference": "Practitioner/example"}],
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N", "display": "normal"}]}],
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "368209003", "display": "Right arm"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"}]},
             "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
             "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N"}]}]},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic blood pressure"}]},
             "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
             "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N"}]}]}
        ]
    });
    let size = serde_json::to_string(&obs).unwrap().len();
    assert!(validate(&obs).is_empty(), "{:?}", validate(&obs));
    let n = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(validate(std::hint::black_box(&obs)));
    }
    let per = start.elapsed() / n;
    eprintln!("validate(): {per:?} per {size}-byte Observation");
}
