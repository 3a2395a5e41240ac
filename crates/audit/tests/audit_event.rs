//! Every kind of record, as a FHIR R4 AuditEvent, passes Lantern's structural validator.
use lantern_audit::{to_audit_event, Action, Agent, Entry, Outcome, MAX_ENTITIES};
use lantern_fhir::validate::validate;
use serde_json::json;

fn full(action: Action) -> Entry {
    Entry::new(
        action,
        Agent::user("u1", Some("Consultant".into()), Some("RVJ".into()))
            .with_name("Dr A Jones")
            .with_purpose("direct-care")
            .with_token("tok-1")
            .with_address("10.1.2.3"),
    )
    .at(1_714_557_600_123_456)
    .patients(["p1", "p2"])
    .entities((0..MAX_ENTITIES + 3).map(|i| format!("Observation/o{i}/_history/1")))
    .with_query("GET /fhir/Observation?patient=p1&code=http://loinc.org|8480-6")
    .with_detail("free text")
}

fn assert_valid(ev: &serde_json::Value) {
    let errors: Vec<_> = validate(ev)
        .into_iter()
        .filter(|i| i.severity == lantern_fhir::Severity::Error)
        .map(|i| format!("{:?}: {}", i.expression, i.diagnostics))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{ev:#}");
}

#[test]
fn every_action_makes_a_valid_audit_event() {
    for a in Action::ALL {
        assert_valid(&to_audit_event(7, &full(a)));
        let minimal = Entry::new(a, Agent::anonymous(None)).at(1);
        assert_valid(&to_audit_event(8, &minimal));
    }
    // The validator does look: a wrong action code or a missing requestor is an error.
    let mut ev = to_audit_event(7, &full(Action::Read));
    ev["action"] = json!("X");
    ev["agent"][0].as_object_mut().unwrap().remove("requestor");
    let errors = validate(&ev).into_iter().filter(|i| i.severity == lantern_fhir::Severity::Error).count();
    assert_eq!(errors, 2);
}

#[test]
fn agents_outcomes_and_entities_are_mapped() {
    let refused = Entry::new(Action::Read, Agent::patient("p1").with_purpose("patient-access"))
        .at(1_714_557_600_000_000)
        .patient("p1")
        .with_outcome(Outcome::refused(403, "not your record"));
    let ev = to_audit_event(3, &refused);
    assert_valid(&ev);
    assert_eq!(ev["id"], json!("3"));
    assert_eq!(ev["type"]["code"], json!("rest"));
    assert_eq!(ev["subtype"][0]["code"], json!("read"));
    assert_eq!(ev["action"], json!("R"));
    assert_eq!(ev["recorded"], json!("2024-05-01T10:00:00.000000Z"));
    assert_eq!(ev["outcome"], json!("4"));
    assert_eq!(ev["outcomeDesc"], json!("refused (403): not your record"));
    assert_eq!(ev["agent"][0]["who"]["reference"], json!("Patient/p1"));
    assert_eq!(ev["agent"][0]["requestor"], json!(true));
    assert_eq!(ev["agent"][0]["purposeOfUse"][0]["coding"][0]["code"], json!("PATRQT"));
    assert_eq!(ev["entity"][0]["what"]["reference"], json!("Patient/p1"));
    assert_eq!(ev["entity"][0]["role"]["code"], json!("1"));

    let ev = to_audit_event(9, &full(Action::Search).with_break_glass(true));
    assert_eq!(ev["action"], json!("E"));
    assert_eq!(ev["subtype"][0]["code"], json!("search-type"));
    assert_eq!(ev["agent"][0]["who"]["identifier"]["value"], json!("u1"));
    assert_eq!(ev["agent"][0]["network"]["address"], json!("10.1.2.3"));
    assert_eq!(ev["agent"][1]["who"]["identifier"]["value"], json!("RVJ"));
    assert_eq!(ev["purposeOfEvent"][0]["coding"][0]["code"], json!("ETREAT"));
    let entities = ev["entity"].as_array().unwrap();
    // 2 patients, 100 resources, "3 more", the query, the detail.
    assert_eq!(entities.len(), 2 + MAX_ENTITIES + 3);
    let query = entities.iter().find(|e| e["role"]["code"] == json!("24")).unwrap();
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.decode(query["query"].as_str().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "GET /fhir/Observation?patient=p1&code=http://loinc.org|8480-6"
    );

    let failed = Entry::new(Action::Create, Agent::system("import"))
        .at(1)
        .with_outcome(Outcome::failed(500, "disk full"));
    assert_eq!(to_audit_event(1, &failed)["outcome"], json!("8"));
}
