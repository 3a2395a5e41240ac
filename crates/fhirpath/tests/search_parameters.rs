//! Every R4 SearchParameter expression (from `lantern-r4`) compiles, and evaluates against an
//! empty resource of each base type without error — the indexer's whole workload.

use serde_json::json;

#[test]
fn every_r4_search_parameter_expression_compiles_and_evaluates() {
    let mut failures = Vec::new();
    let mut count = 0;
    for p in lantern_r4::all_search_params() {
        let Some(expr) = p.expression else { continue };
        count += 1;
        match lantern_fhirpath::parse_search_expression(expr) {
            Err(e) => failures.push(format!("{}: {expr}: {e}", p.url)),
            Ok(compiled) => {
                for base in p.bases.iter().filter(|b| lantern_r4::is_resource_type(b)) {
                    let resource = json!({ "resourceType": base, "id": "x" });
                    if let Err(e) = compiled.evaluate(&resource) {
                        failures.push(format!("{} on {base}: {expr}: {e}", p.url));
                    }
                }
            }
        }
    }
    assert!(count > 1000, "only {count} expressions");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn as_on_collections_filters_in_the_search_dialect() {
    let obs = json!({
        "resourceType": "Observation",
        "component": [
            {"valueQuantity": {"value": 1, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}},
            {"valueCodeableConcept": {"text": "high"}},
            {"valueCodeableConcept": {"text": "low"}}
        ]
    });
    let text = "Observation.component.value.as(CodeableConcept)";
    let search = lantern_fhirpath::parse_search_expression(text).unwrap();
    let items = search.evaluate(&obs).unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.fhir_type() == "CodeableConcept"));
    let q = lantern_fhirpath::parse_search_expression("(Observation.component.value as Quantity)").unwrap();
    assert_eq!(q.evaluate(&obs).unwrap()[0].fhir_type(), "Quantity");
    // Strict FHIRPath: `as` on several items is an error.
    assert!(lantern_fhirpath::parse(text).unwrap().evaluate(&obs).is_err());
}
