//! A patient's joined-up record as the caller may see it: `Patient/$everything` over every
//! source record linked to the person (paged to the end, no cap) under the caller's access
//! filter, plus what the policy withholds from this caller, counted by reason and holder so the
//! pages can say so.
use super::display;
use super::ViewerState;
use crate::trust::ops;
use crate::trust::Scope;
use lantern_policy::explain::decide;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One resource of the record.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub rtype: String,
    pub id: String,
    pub body: Value,
}

/// Items the caller may not see, of one kind from one holder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Withheld {
    pub why: &'static str,
    pub holder: String,
    pub count: usize,
}

pub(crate) struct Record {
    /// The source record asked about.
    pub id: String,
    /// The Patient resources of the person the caller may see, the one asked about first.
    pub patients: Vec<Item>,
    pub items: Vec<Item>,
    pub withheld: Vec<Withheld>,
    /// Whether the caller is seeing it through a break-glass grant.
    pub glass: bool,
}

pub(crate) enum Failure {
    /// The policy refuses (no relationship, opted out...): the words say why.
    Refused(String),
    NotFound,
    Other(String),
}

impl From<lantern_service::Error> for Failure {
    fn from(e: lantern_service::Error) -> Failure {
        match lantern_service::error_status(&e) {
            403 => Failure::Refused(e.to_string()),
            404 | 410 => Failure::NotFound,
            _ => Failure::Other(e.to_string()),
        }
    }
}

impl Record {
    pub(crate) fn of_type<'a>(&'a self, rtype: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.rtype == rtype)
    }

    pub(crate) fn patient(&self) -> Option<&Value> {
        self.patients.first().map(|p| &p.body)
    }
}

/// ODS code -> name, from the policy's organisations.
pub(crate) fn org_names(scope: &Scope) -> HashMap<String, String> {
    scope.trust.policy.config().organisations.iter().map(|o| (o.ods.clone(), o.name.clone())).collect()
}

/// The organisation's name, or its code when the policy does not name it.
pub(crate) fn org_name(names: &HashMap<String, String>, ods: &str) -> String {
    names.get(ods).filter(|n| !n.is_empty()).cloned().unwrap_or_else(|| ods.to_string())
}

pub(crate) async fn load(st: &ViewerState, scope: &Scope, base: &str, id: &str) -> Result<Record, Failure> {
    let ctx = crate::http::request::caller_ctx(base);
    let mut items = Vec::new();
    let mut patients = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut pairs = vec![("_count".to_string(), "10000".to_string())];
        if let Some(p) = &page {
            pairs.push(("_page".into(), p.clone()));
        }
        let text = st.app.fhir.everything(&ctx, vec![id.to_string()], &pairs).await?;
        let bundle: Value = serde_json::from_str(&text).map_err(|e| Failure::Other(e.to_string()))?;
        for e in bundle.get("entry").and_then(Value::as_array).into_iter().flatten() {
            let Some(r) = e.get("resource") else { continue };
            let rtype = r.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
            let rid = r.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            let item = Item { rtype, id: rid, body: r.clone() };
            if item.rtype == "Patient" {
                patients.push(item);
            } else {
                items.push(item);
            }
        }
        page = next_page(&bundle);
        if page.is_none() {
            break;
        }
    }
    // The record asked about first, then the other linked records.
    patients.sort_by_key(|p| p.id != id);
    let members: Vec<String> = patients.iter().map(|p| p.id.clone()).collect();
    let glass = members.iter().any(|m| scope.caller.glass.contains(m)) || scope.caller.glass.contains(id);
    let withheld = withheld(scope, id).await;
    Ok(Record { id: id.to_string(), patients, items, withheld, glass })
}

/// The `_page` cursor of a Bundle's next link.
fn next_page(bundle: &Value) -> Option<String> {
    let next = bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?;
    let url = next.get("url")?.as_str()?;
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "_page").map(|(_, v)| v.into_owned())
}

/// What the policy withholds from this caller, by reason and holder. Only counts leave here:
/// the rows read to decide are never shown.
async fn withheld(scope: &Scope, id: &str) -> Vec<Withheld> {
    let Ok((_, facts, rows)) = ops::gather(&scope.trust.fhir.store, id).await else { return Vec::new() };
    let now = scope.trust.fhir.store.now_micros();
    let mut counts: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for row in &rows {
        let d = decide(&scope.trust.policy, &scope.caller.requester, &facts, row, now);
        if !d.visible {
            let holder = row.org.clone().unwrap_or_default();
            *counts.entry((classify(&d.reason), holder)).or_default() += 1;
        }
    }
    counts.into_iter().map(|((why, holder), count)| Withheld { why, holder, count }).collect()
}

/// The policy's reason in the words the viewer uses.
fn classify(reason: &str) -> &'static str {
    if reason.starts_with("legally restricted") {
        "legally restricted information, visible only to the organisation that recorded it"
    } else if reason.contains("opted out") {
        "the patient has opted out of sharing"
    } else if reason.contains("no data-sharing agreement") {
        "not shared with your organisation under the data-sharing agreements"
    } else if reason.contains("no current care relationship") {
        "your organisation has no current care relationship with the patient"
    } else if reason.contains("scopes") {
        "your sign-in does not allow reading this kind of information"
    } else {
        "withheld by the access policy"
    }
}

/// The holder's name and the feed of an item, for "from Riverside Surgery (gp-emis), updated 3 Nov 2026 14:02".
pub(crate) fn provenance(
    names: &HashMap<String, String>,
    body: &Value,
) -> (String, Option<String>, Option<String>) {
    let holder =
        display::holder(body).map(|o| org_name(names, o)).unwrap_or_else(|| "an unknown source".into());
    (holder, display::feed(body), display::updated(body).map(display::date_time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_page_cursor() {
        let b = json!({"link": [{"relation": "self", "url": "http://x/fhir/Patient/1/$everything?_count=10"},
                                {"relation": "next", "url": "http://x/fhir/Patient/1/$everything?_count=10&_page=42"}]});
        assert_eq!(next_page(&b).as_deref(), Some("42"));
        assert_eq!(next_page(&json!({"link": []})), None);
    }

    #[test]
    fn reasons_in_plain_words() {
        assert!(classify("legally restricted (sti): only X, which recorded it, may see it")
            .starts_with("legally"));
        assert!(classify("the patient has opted out of sharing, so only X may see it").contains("opted out"));
        assert!(classify("no data-sharing agreement lets X share Y").contains("agreements"));
    }
}
