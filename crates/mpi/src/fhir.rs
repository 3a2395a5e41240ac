//! The index's FHIR face: `Patient/$match` (R4 Patient-match operation) and the PIXm
//! cross-reference `Patient/$ihe-pix` (IHE ITI-83). Both read through the store's search with
//! the caller's access filter, so neither can reveal a record the caller may not see; both
//! return JSON for a thin HTTP handler to send.
use crate::matching::{self, Scoring};
use crate::Mpi;
use lantern_fhir::search::{self, Handling, SearchRequest};
use lantern_identity::score::probability;
use lantern_identity::{Config, Decision};
use lantern_store::clock::format_instant;
use lantern_store::{AccessFilter, StoreError, Stored};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The extension carrying a match's grade on `Bundle.entry.search`.
pub const MATCH_GRADE: &str = "http://hl7.org/fhir/StructureDefinition/match-grade";

/// `$match` grades: a link decision is `certain`; a review decision is `probable` in the upper
/// half of the review band and `possible` in the lower; below the review threshold a candidate
/// is not returned (the specification's `certainly-not` is for records known not to match,
/// which the index does not assert).
pub fn grade(decision: Decision, score: f64, config: &Config) -> Option<&'static str> {
    match decision {
        Decision::Link => Some("certain"),
        Decision::Review if score >= (config.review_threshold + config.link_threshold) / 2.0 => {
            Some("probable")
        }
        Decision::Review => Some("possible"),
        Decision::NewPerson => None,
    }
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::invalid("invalid", None, msg)
}

fn by_ids(ids: &[String]) -> Result<SearchRequest, StoreError> {
    let pairs =
        vec![("_id".to_string(), ids.join(",")), ("_count".to_string(), ids.len().max(1).to_string())];
    search::parse(Some("Patient"), &pairs, Handling::Strict).map_err(StoreError::Invalid)
}

impl Mpi {
    /// Reads current Patients by id under `access`, with `Patient.link` rendered.
    async fn visible(
        &self,
        ids: &[String],
        access: &AccessFilter,
    ) -> Result<HashMap<String, Stored>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let page = self.store.search(by_ids(chunk)?, access.clone()).await?;
            let linked = self
                .store
                .linked_patients(page.matches.iter().map(|s| s.id.clone()).collect(), access.clone())
                .await?;
            for mut s in page.matches {
                if let (Some(b), Some(others)) = (&s.body, linked.get(&s.id)) {
                    s.body = Some(lantern_store::person::with_links(b, others));
                }
                out.insert(s.id.clone(), s);
            }
        }
        Ok(out)
    }

    /// `POST Patient/$match`: `input` is a Parameters resource with `resource` (a Patient),
    /// optional `onlyCertainMatches` and `count` (a bare Patient is accepted too). Returns a
    /// searchset Bundle, best match first, each entry with `search.score` (the match
    /// probability) and the match-grade extension.
    pub async fn match_patient(
        &self,
        input: &Value,
        access: AccessFilter,
        base: &str,
    ) -> Result<String, StoreError> {
        let (resource, only_certain, count) = match input.get("resourceType").and_then(Value::as_str) {
            Some("Parameters") => {
                let mut resource = None;
                let mut only_certain = false;
                let mut count = None;
                for p in input.get("parameter").and_then(Value::as_array).into_iter().flatten() {
                    match p.get("name").and_then(Value::as_str) {
                        Some("resource") => resource = p.get("resource").cloned(),
                        Some("onlyCertainMatches") => {
                            only_certain = p.get("valueBoolean").and_then(Value::as_bool).unwrap_or(false)
                        }
                        Some("count") => {
                            count = Some(
                                p.get("valueInteger")
                                    .and_then(Value::as_u64)
                                    .ok_or_else(|| invalid("count must be a valueInteger"))?
                                    as usize,
                            )
                        }
                        _ => {}
                    }
                }
                (resource.ok_or_else(|| invalid("the Parameters have no 'resource'"))?, only_certain, count)
            }
            Some("Patient") => (input.clone(), false, None),
            _ => return Err(invalid("$match takes a Parameters resource holding a Patient")),
        };
        if resource.get("resourceType").and_then(Value::as_str) != Some("Patient") {
            return Err(invalid("the 'resource' parameter must be a Patient"));
        }
        let count = count.unwrap_or(10).clamp(1, 100);
        let record = crate::record::demographics(&resource).record;
        let model = self.model.clone();
        let scored = self
            .store
            .with_reader(move |c, _| {
                let mut s = Scoring::new(&model);
                let incoming = s.prepare(&record);
                let keys = s.keys(&incoming);
                let scored = matching::score_candidates(c, &mut s, "", &incoming, &keys)?;
                Ok(scored.into_iter().map(|s| (s.patient, s.decision, s.score)).collect::<Vec<_>>())
            })
            .await?;
        let config = &self.model.config;
        let mut hits: Vec<(String, f64, &'static str)> = scored
            .into_iter()
            .filter_map(|(p, d, score)| grade(d, score, config).map(|g| (p, probability(score), g)))
            .filter(|(_, _, g)| !only_certain || *g == "certain")
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let ids: Vec<String> = hits.iter().map(|h| h.0.clone()).collect();
        let bodies = self.visible(&ids, &access).await?;
        let entries: Vec<Value> = hits
            .iter()
            .filter_map(|(p, prob, g)| {
                let s = bodies.get(p)?;
                let resource: Value = serde_json::from_str(s.body.as_deref()?).ok()?;
                Some(json!({
                    "fullUrl": format!("{base}/Patient/{p}"),
                    "resource": resource,
                    "search": {
                        "extension": [{"url": MATCH_GRADE, "valueCode": g}],
                        "mode": "match",
                        "score": (prob * 10_000.0).round() / 10_000.0,
                    }
                }))
            })
            .take(count)
            .collect();
        let bundle = json!({
            "resourceType": "Bundle",
            "id": uuid::Uuid::new_v4().to_string(),
            "meta": {"lastUpdated": format_instant(self.store.now_micros())},
            "type": "searchset",
            "total": entries.len(),
            "link": [{"relation": "self", "url": format!("{base}/Patient/$match")}],
            "entry": entries,
        });
        Ok(bundle.to_string())
    }

    /// PIXm `GET Patient/$ihe-pix?sourceIdentifier=system|value[&targetSystem=...]`: the other
    /// identifiers, and the Patient records, of the person the source identifier belongs to.
    /// An unknown source identifier is NotFound.
    pub async fn pix(
        &self,
        source_identifier: &str,
        target_systems: &[String],
        access: AccessFilter,
    ) -> Result<Value, StoreError> {
        let (system, value) = source_identifier
            .split_once('|')
            .filter(|(s, v)| !s.is_empty() && !v.is_empty())
            .ok_or_else(|| invalid("sourceIdentifier must be system|value"))?;
        let pairs =
            vec![("identifier".to_string(), source_identifier.to_string()), ("_count".into(), "100".into())];
        let req = search::parse(Some("Patient"), &pairs, Handling::Strict).map_err(StoreError::Invalid)?;
        let found = self.store.search(req, access.clone()).await?;
        if found.matches.is_empty() {
            return Err(StoreError::NotFound(format!("a Patient with identifier {source_identifier}")));
        }
        let mut members: Vec<String> = Vec::new();
        for s in &found.matches {
            for m in self.store.person_members(&s.id).await? {
                if !members.contains(&m) {
                    members.push(m);
                }
            }
        }
        let bodies = self.visible(&members, &access).await?;
        let mut params = Vec::new();
        let mut seen: Vec<(String, String)> = vec![(system.to_string(), value.to_string())];
        for m in &members {
            let Some(body) = bodies.get(m).and_then(|s| s.body.as_deref()) else { continue };
            let v: Value = serde_json::from_str(body).map_err(StoreError::db)?;
            for (sys, val) in crate::record::demographics(&v).identifiers {
                let wanted = target_systems.is_empty() || target_systems.contains(&sys);
                if wanted && !seen.contains(&(sys.clone(), val.clone())) {
                    params.push(
                        json!({"name": "targetIdentifier", "valueIdentifier": {"system": sys, "value": val}}),
                    );
                    seen.push((sys, val));
                }
            }
            params.push(json!({"name": "targetId", "valueReference": {"reference": format!("Patient/{m}")}}));
        }
        Ok(json!({"resourceType": "Parameters", "parameter": params}))
    }
}
