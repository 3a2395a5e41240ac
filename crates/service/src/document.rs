//! `Composition/[id]/$document` (R4 OperationDefinition Composition-document): a stored
//! Composition — a discharge summary, a clinic letter — as a FHIR document: a Bundle of type
//! `document` holding the Composition first, then every resource it refers to, directly or
//! through those (its subject, author, encounter, attesters, custodian, section entries and
//! what they refer to in turn), each with its RESTful full URL.
//!
//! Each reference is read under the caller's access filter, like any read: what the caller
//! may not see is left out (the reference then does not resolve inside the Bundle; nothing
//! says why, as a search's total would not), and every resource put in is in the request's
//! audit record. References outside this server (absolute URLs elsewhere), to contained
//! resources, and logical ones are left as they are. `persist=true` also stores the document
//! Bundle, as a Bundle anyone the caller's organisation shares with may read like its other data.
use crate::{Ctx, Error, Fhir};
use lantern_store::clock::format_instant;
use lantern_store::StoreError;
use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};

/// Most resources one document holds: a Composition that leads to more (through references of
/// references) is refused with the reason rather than cut short.
const MAX_RESOURCES: usize = 5_000;

impl Fhir {
    /// The document Bundle of Composition `id` (stored too if `persist=true`).
    pub async fn document(&self, ctx: &Ctx, id: &str, pairs: &[(String, String)]) -> Result<String, Error> {
        let mut persist = false;
        for (k, v) in pairs {
            match (k.as_str(), v.as_str()) {
                ("persist", "true") => persist = true,
                ("persist", "false") | ("_format" | "_pretty", _) => {}
                ("persist", _) => {
                    return Err(Error::bad("invalid", Some("persist"), "persist is true or false"));
                }
                ("graph", _) => return Err(Error::bad(
                    "not-supported",
                    Some("graph"),
                    "a GraphDefinition is not taken: the document holds everything the Composition refers to",
                )),
                _ => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("Composition/[id]/$document takes no parameter '{k}'"),
                    ))
                }
            }
        }
        let composition = self.read(ctx, "Composition", id).await?;
        let mut seen: HashSet<String> = HashSet::from([format!("Composition/{id}")]);
        let mut queue: VecDeque<Value> = VecDeque::from([resource_of(&composition.body)]);
        let mut entries: Vec<Value> = Vec::new();
        while let Some(resource) = queue.pop_front() {
            let (rtype, rid) =
                (resource["resourceType"].as_str().unwrap_or(""), resource["id"].as_str().unwrap_or(""));
            let full_url = format!("{}/{rtype}/{rid}", ctx.base);
            let mut targets = Vec::new();
            local_references(&resource, &ctx.base, &mut targets);
            entries.push(json!({"fullUrl": full_url, "resource": resource}));
            for (t, i) in targets {
                if !seen.insert(format!("{t}/{i}")) {
                    continue;
                }
                if seen.len() > MAX_RESOURCES {
                    return Err(Error::Store(StoreError::invalid(
                        "too-costly",
                        None,
                        format!("Composition/{id} leads to more than {MAX_RESOURCES} resources"),
                    )));
                }
                match self.read(ctx, &t, &i).await {
                    Ok(s) => queue.push_back(resource_of(&s.body)),
                    // Withheld, deleted or never there: left out, as a search would leave it.
                    Err(Error::Forbidden(_) | Error::UnknownType(_))
                    | Err(Error::Store(
                        StoreError::NotFound(_) | StoreError::Gone(_) | StoreError::Forbidden(_),
                    )) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let now = self.store.now_micros();
        let bundle_id = uuid::Uuid::new_v4().to_string();
        let bundle = json!({
            "resourceType": "Bundle",
            "id": bundle_id,
            "meta": {"lastUpdated": format_instant(now)},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{bundle_id}")},
            "type": "document",
            "timestamp": format_instant(now),
            "entry": entries,
        });
        if persist {
            let mut stored = bundle.clone();
            if let Some(o) = stored.as_object_mut() {
                o.remove("meta");
            }
            let written = self.update(ctx, "Bundle", &bundle_id, stored, None).await?;
            return Ok(written.stored.body.unwrap_or_default());
        }
        Ok(bundle.to_string())
    }
}

fn resource_of(body: &Option<String>) -> Value {
    body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default()
}

/// The resources on this server that `v` refers to, as (type, id): relative references
/// (`Patient/1`, `Patient/1/_history/2`) and absolute ones under `base`; not contained (`#x`),
/// `urn:`, other servers' or logical references.
fn local_references(v: &Value, base: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                match (k.as_str(), c) {
                    ("reference", Value::String(r)) => {
                        let r = r.strip_prefix(base).map_or(r.as_str(), |r| r.trim_start_matches('/'));
                        let mut parts = r.split('/');
                        if let (Some(t), Some(i)) = (parts.next(), parts.next()) {
                            if lantern_r4::is_resource_type(t) && !i.is_empty() && !r.contains(':') {
                                out.push((t.to_string(), i.to_string()));
                            }
                        }
                    }
                    _ => local_references(c, base, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| local_references(c, base, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_on_this_server_only() {
        let c = json!({
            "resourceType": "Composition",
            "subject": {"reference": "Patient/p1"},
            "author": [{"reference": "https://lantern.example/fhir/Practitioner/d1"}, {"reference": "https://elsewhere.example/fhir/Practitioner/x"}],
            "encounter": {"reference": "Encounter/e1/_history/3"},
            "custodian": {"reference": "#org"},
            "attester": [{"party": {"reference": "urn:uuid:0b3e5d50-0e58-4f5c-9c8c-6ad3b50cd2a1"}}],
            "section": [{"entry": [{"reference": "Condition/c1"}], "section": [{"entry": [{"reference": "Observation/o1"}]}]}],
            "relatesTo": [{"targetIdentifier": {"value": "not a reference"}}]
        });
        let mut out = Vec::new();
        local_references(&c, "https://lantern.example/fhir", &mut out);
        let got: Vec<String> = out.iter().map(|(t, i)| format!("{t}/{i}")).collect();
        assert_eq!(got, ["Patient/p1", "Practitioner/d1", "Encounter/e1", "Condition/c1", "Observation/o1"]);
    }
}
