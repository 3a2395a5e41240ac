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
        match lantern_fhirpath::parse(expr) {
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
