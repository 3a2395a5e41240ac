//! Evaluator tests: navigation and typing, operators, and the properties the indexer relies on
//! (borrowed results, typed items, decimal scale).

use crate::{evaluate_to_json, parse, Context};
use serde_json::{json, Value};

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "active": true,
        "name": [
            {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
            {"use": "usual", "given": ["Jim"], "_given": [{"extension": [{"url": "u", "valueString": "x"}]}]}
        ],
        "birthDate": "1974-12-25",
        "managingOrganization": {"reference": "Organization/1"},
        "contained": [{"resourceType": "Practitioner", "id": "pr1"}],
        "generalPractitioner": [{"reference": "#pr1"}]
    })
}

fn observation() -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/example"},
        // JSON text, not a Rust float: the scale of 1.50 must survive.
        "valueQuantity": serde_json::from_str::<Value>(
            r#"{"value": 1.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}"#
        ).unwrap(),
        "effectivePeriod": {"start": "2020-01-01", "end": "2020-01-02"}
    })
}

fn eval(expr: &str, input: &Value) -> Value {
    evaluate_to_json(expr, input).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn choice_elements_are_found_and_typed() {
    let obs = observation();
    let expr = parse("Observation.value").unwrap();
    let items = expr.evaluate(&obs).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].fhir_type(), "Quantity");
    // The item borrows the input node: no copy.
    assert!(std::ptr::eq(items[0].json().unwrap(), &obs["valueQuantity"]));
    assert_eq!(eval("(Observation.value as Quantity).unit", &obs), json!(["kg"]));
    assert_eq!(eval("Observation.effective.as(Period).start", &obs), json!(["2020-01-01"]));
    assert_eq!(eval("Observation.value.as(Period)", &obs), json!([]));
    let coding = parse("Observation.code.coding").unwrap();
    assert_eq!(coding.evaluate(&obs).unwrap()[0].fhir_type(), "Coding");
}

#[test]
fn decimal_scale_is_kept() {
    let obs = observation();
    assert_eq!(eval("Observation.value.value", &obs).to_string(), "[1.50]");
    assert_eq!(eval("1.50 + 1.25", &obs).to_string(), "[2.75]");
    assert_eq!(eval("Observation.value.value * 2", &obs).to_string(), "[3.00]");
}

#[test]
fn primitive_extensions_and_backbone_types() {
    let p = patient();
    assert_eq!(eval("Patient.name.given.extension.url", &p), json!(["u"]));
    assert_eq!(eval("Patient.name.given.extension.value", &p), json!(["x"]));
    let items = parse("Patient.name").unwrap();
    assert_eq!(items.evaluate(&p).unwrap()[0].fhir_type(), "HumanName");
}

#[test]
fn resolve_contained_and_stub() {
    let p = patient();
    assert_eq!(eval("Patient.managingOrganization.resolve() is Organization", &p), json!([true]));
    assert_eq!(eval("Patient.generalPractitioner.resolve().id", &p), json!(["pr1"]));
    let obs = observation();
    assert_eq!(
        eval("Observation.subject.where(resolve() is Patient).reference", &obs),
        json!(["Patient/example"])
    );
}

#[test]
fn three_valued_logic() {
    let p = patient();
    assert_eq!(eval("true and {}", &p), json!([]));
    assert_eq!(eval("false and {}", &p), json!([false]));
    assert_eq!(eval("{} or true", &p), json!([true]));
    assert_eq!(eval("{} implies false", &p), json!([]));
    assert_eq!(eval("false implies {}", &p), json!([true]));
    assert_eq!(eval("true xor false", &p), json!([true]));
}

#[test]
fn equality_equivalence_and_dates() {
    let p = patient();
    assert_eq!(eval("'a b' ~ 'A B'", &p), json!([true]));
    assert_eq!(eval("'a  b' ~ 'a b'", &p), json!([false]));
    assert_eq!(eval("1.10 = 1.1", &p), json!([true]));
    assert_eq!(eval("Patient.birthDate = @1974-12-25", &p), json!([true]));
    assert_eq!(eval("Patient.birthDate < @1974-12-25T10:00:00Z", &p), json!([]));
    assert_eq!(eval("@2012-04-15T15:00:00+02:00 = @2012-04-15T16:00:00+03:00", &p), json!([true]));
    assert_eq!(eval("(1 | 2 | 2).count()", &p), json!([2]));
}

#[test]
fn quantities_convert_units() {
    let p = patient();
    assert_eq!(eval("4 'g' = 4000 'mg'", &p), json!([true]));
    assert_eq!(eval("1 year = 1 'a'", &p), json!([]));
    assert_eq!(eval("1 year ~ 1 'a'", &p), json!([true]));
    assert_eq!(eval("@2020-01-31 + 1 month", &p), json!(["2020-02-29"]));
    assert!(evaluate_to_json("@2020-01-31 + 1 'mo'", &p).is_err());
}

#[test]
fn integer_overflow_and_division_by_zero_are_empty() {
    let p = patient();
    assert_eq!(eval("2147483647 + 1", &p), json!([]));
    assert_eq!(eval("5 div 0", &p), json!([]));
    assert_eq!(eval("1 / 0", &p), json!([]));
}

#[test]
fn singleton_errors() {
    let p = patient();
    assert!(evaluate_to_json("Patient.name.given + 'x'", &p).is_err());
    assert!(evaluate_to_json("Patient.name.as(HumanName)", &p).is_err());
    assert!(evaluate_to_json("%undefined", &p).is_err());
}

#[test]
fn variables_and_context() {
    let p = patient();
    let expr = parse("%n + 1").unwrap();
    let n = json!(41);
    let ctx = Context::new().with_json_variable("n", &n);
    let out = expr.evaluate_with(&p, &ctx).unwrap();
    assert_eq!(crate::collection_to_json(&out), json!([42]));
    assert_eq!(eval("%resource.id", &p), json!(["p1"]));
    assert_eq!(eval("%ucum", &p), json!(["http://unitsofmeasure.org"]));
}

#[test]
fn expressions_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<crate::Expr>();
}

#[test]
fn define_variable_is_scoped_to_its_chain() {
    let p = patient();
    assert_eq!(eval("defineVariable('n', 'x').select(%n)", &p), json!(["x"]));
    // The value is computed once from the whole input: two names, two uses, each selected twice.
    assert_eq!(eval("Patient.name.defineVariable('u', use).select(%u).count()", &p), json!([4]));
    // Not visible to the other operand of a union.
    assert!(evaluate_to_json("defineVariable('n', 1).select(%n) | %n", &p).is_err());
    // No rebinding.
    assert!(evaluate_to_json("defineVariable('context', 1)", &p).is_err());
    assert!(evaluate_to_json("defineVariable('a', 1).defineVariable('a', 2)", &p).is_err());
    // Per item in where(): defined afresh each time, no leak between items.
    assert_eq!(
        eval("Patient.name.where(defineVariable('g', given).select(%g).exists()).count()", &p),
        json!([2])
    );
}
