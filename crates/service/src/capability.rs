//! The CapabilityStatement (R4 §3.1.0.13 capabilities): generated from the same R4 tables the
//! server uses, so what it claims is what the server does — every resource type, the
//! interactions implemented, every search parameter, includes and operations.
use lantern_r4::SearchParamType;
use serde_json::{json, Value};

/// The server's CapabilityStatement. `base` is the FHIR base URL; `version` the software's;
/// `cors` whether cross-origin requests from browsers are answered.
pub fn capability_statement(base: &str, version: &str, cors: bool) -> Value {
    let interactions: Vec<Value> = [
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    ]
    .iter()
    .map(|c| json!({"code": c}))
    .collect();
    let mut resources = Vec::new();
    for &t in lantern_r4::resource_types() {
        let params: Vec<Value> = lantern_r4::search_params(t)
            .filter(|p| p.kind != SearchParamType::Special || p.code == "_filter")
            .filter(|p| !matches!(p.code, "_query" | "_list" | "_has" | "_type"))
            .map(|p| {
                json!({
                    "name": p.code,
                    "definition": p.url,
                    "type": p.kind.as_str(),
                })
            })
            .collect();
        let refs: Vec<String> = lantern_r4::search_params(t)
            .filter(|p| p.kind == SearchParamType::Reference)
            .map(|p| format!("{t}:{}", p.code))
            .collect();
        let revs: Vec<String> = lantern_r4::all_search_params()
            .iter()
            .filter(|p| {
                p.kind == SearchParamType::Reference && (p.targets.contains(&t) || p.targets.is_empty())
            })
            .flat_map(|p| {
                p.bases
                    .iter()
                    .filter(|b| lantern_r4::is_resource_type(b))
                    .map(move |b| format!("{b}:{}", p.code))
            })
            .collect();
        let mut r = json!({
            "type": t,
            "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
            "interaction": interactions,
            "versioning": "versioned-update",
            "readHistory": true,
            "updateCreate": true,
            "conditionalCreate": true,
            "conditionalRead": "full-support",
            "conditionalUpdate": true,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical", "local"],
            "searchInclude": refs,
            "searchRevInclude": revs,
            "searchParam": params,
        });
        let mut operations = vec![
            json!({"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}),
            // On an instance (and `$meta` on a version) only: see `meta_op`.
            json!({"name": "meta", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-meta"}),
            json!({"name": "meta-add", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-meta-add"}),
            json!({"name": "meta-delete", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-meta-delete"}),
        ];
        if t == "ValueSet" {
            operations.extend([
                json!({"name": "expand", "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"}),
                json!({"name": "validate-code", "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code"}),
            ]);
        }
        if t == "CodeSystem" {
            operations.extend([
                json!({"name": "lookup", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"}),
                json!({"name": "subsumes", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes"}),
            ]);
        }
        if t == "Composition" {
            operations.push(json!(
                {"name": "document", "definition": "http://hl7.org/fhir/OperationDefinition/Composition-document"}
            ));
        }
        if t == "Observation" {
            operations.extend([
                json!({"name": "lastn", "definition": "http://hl7.org/fhir/OperationDefinition/Observation-lastn"}),
                json!({"name": "stats", "definition": "http://hl7.org/fhir/OperationDefinition/Observation-stats"}),
            ]);
        }
        if t == "ConceptMap" {
            operations.push(json!(
                {"name": "translate", "definition": "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"}
            ));
        }
        if t == "Group" {
            operations.push(json!(
                {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}
            ));
        }
        if t == "Patient" {
            operations.extend([
                json!({"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}),
                json!({"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}),
                json!({"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"}),
                json!({"name": "ihe-pix", "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix"}),
                json!({"name": "summary", "definition": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"}),
            ]);
        }
        r["operation"] = json!(operations);
        resources.push(r);
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "Lantern", "version": version},
        "implementation": {"description": "Lantern shared care record", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/json", "application/fhir+xml", "application/xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": cors,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"}]}],
                "description": "Every request except this CapabilityStatement needs a bearer JWT from a configured \
                    issuer (RS256/ES256) carrying SMART v2 scopes, the user, organisation, role and purpose of use. \
                    What a caller may see is decided by the access policy inside each query; every access is audited.",
            },
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "search-system"}, {"code": "history-system"}],
            "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
            // Searched as `Patient/1/Observation`, or every type at once as `Patient/1/*`.
            "compartment": [
                "http://hl7.org/fhir/CompartmentDefinition/patient",
                "http://hl7.org/fhir/CompartmentDefinition/encounter",
                "http://hl7.org/fhir/CompartmentDefinition/relatedPerson",
                "http://hl7.org/fhir/CompartmentDefinition/practitioner",
                "http://hl7.org/fhir/CompartmentDefinition/device",
            ],
            "searchParam": [
                {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
                {"name": "_lastUpdated", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"},
            ],
        }],
    })
}
