//! Small helpers over the service API so that tests read like a client's script.
use crate::{ctx, parse};
use lantern_service::{Created, Ctx, Fhir};
use serde_json::Value;

/// Query-string pairs from `a=1&b=2` (values URL-decoded).
pub fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Creates `body` (of its own resourceType) and returns the new id.
pub async fn create(fhir: &Fhir, body: Value) -> String {
    let t = body["resourceType"].as_str().expect("resourceType").to_string();
    match fhir.create(&ctx(), &t, body, None).await.unwrap_or_else(|e| panic!("create {t}: {e:?}")) {
        Created::New(w) => w.stored.id,
        Created::Existing(s) => s.id,
    }
}

/// Creates or updates `body` with its own id (update-as-create).
pub async fn put(fhir: &Fhir, body: Value) -> i64 {
    let t = body["resourceType"].as_str().expect("resourceType").to_string();
    let id = body["id"].as_str().expect("id").to_string();
    fhir.update(&ctx(), &t, &id, body, None)
        .await
        .unwrap_or_else(|e| panic!("put {t}/{id}: {e:?}"))
        .stored
        .version
}

/// Runs a search and returns the whole Bundle.
pub async fn search_bundle_with(fhir: &Fhir, c: &Ctx, rtype: Option<&str>, query: &str) -> Value {
    let text = fhir
        .search(c, rtype, &pairs(query))
        .await
        .unwrap_or_else(|e| panic!("search {rtype:?}?{query}: {e:?}"));
    parse(&text)
}

pub async fn search_bundle(fhir: &Fhir, rtype: &str, query: &str) -> Value {
    search_bundle_with(fhir, &ctx(), Some(rtype), query).await
}

/// The ids of a bundle's entries with the given search mode, in order.
pub fn ids_with_mode(bundle: &Value, mode: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Each entry of a bundle as `Type/id`, in order; only those of search mode `mode` if given.
pub fn refs_with_mode(bundle: &Value, mode: Option<&str>) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| mode.is_none_or(|m| e["search"]["mode"] == m))
        .map(|e| {
            let r = &e["resource"];
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// The matched ids of a search, sorted (for set comparisons).
pub async fn ids(fhir: &Fhir, rtype: &str, query: &str) -> Vec<String> {
    let mut v = ids_with_mode(&search_bundle(fhir, rtype, query).await, "match");
    v.sort();
    v
}

/// The matched ids of a search in the order returned (one page).
pub async fn ids_in_order(fhir: &Fhir, rtype: &str, query: &str) -> Vec<String> {
    ids_with_mode(&search_bundle(fhir, rtype, query).await, "match")
}

/// Sorted owned strings from literals.
pub fn set(v: &[&str]) -> Vec<String> {
    let mut o: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    o.sort();
    o
}

/// The query string of a link (`next`, `self`) of a bundle, if present.
pub fn link(bundle: &Value, rel: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == rel)
        .and_then(|l| l["url"].as_str())
        .map(|u| u.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default())
}
