// The mapping context and transaction Bundle assembly — FHIR R4 http.html#transaction
// (conditional update `PUT Type?identifier=system|value`, `urn:uuid:` fullUrls resolved
// within the transaction) and the v2-to-FHIR IG's MSH[Provenance] pattern. Also stamps every
// resource with Lantern's provenance metadata (meta.source, meta.tag).

use super::config::FeedConfig;
use super::datetime::{self, LocalZone};
use super::systems;
use crate::issue::{ErrorCode, Issue, Location, MapIssue, Severity};
use crate::message::{Message, Segment};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

struct Entry {
    full_url: String,
    resource: Value,
    url: String,
}

/// State shared by all segment maps while one message is mapped.
pub(crate) struct Ctx<'a> {
    pub(crate) msg: &'a Message,
    pub(crate) cfg: &'a FeedConfig,
    pub(crate) zone: LocalZone,
    pub(crate) control_id: String,
    pub(crate) issues: Vec<MapIssue>,
    /// The sending facility (MSH-4), named as an informant on the Provenance.
    pub(crate) facility: Option<Value>,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

/// Percent-encode a search parameter value (keeps URI punctuation readable).
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(msg: &'a Message, cfg: &'a FeedConfig, control_id: &str) -> Self {
        Ctx {
            msg,
            cfg,
            zone: cfg.zone(),
            control_id: control_id.to_string(),
            issues: Vec::new(),
            facility: None,
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// 1-based position of a segment in the message (for issue locations).
    pub(crate) fn pos(&self, seg: &Segment) -> usize {
        self.msg.segments.iter().position(|s| std::ptr::eq(s, seg)).map_or(0, |i| i + 1)
    }

    pub(crate) fn loc(&self, seg: &Segment, field: usize) -> Location {
        Location::field(&seg.name, self.pos(seg), field)
    }

    pub(crate) fn warn(&mut self, code: ErrorCode, location: Option<Location>, message: impl Into<String>) {
        self.issues.push(Issue::new(Severity::Warning, code, location, message));
    }

    pub(crate) fn info(&mut self, location: Option<Location>, message: impl Into<String>) {
        self.issues.push(Issue::new(Severity::Information, ErrorCode::Accepted, location, message));
    }

    /// A v2 DTM at `seg-field` as FHIR dateTime; warns when present but unreadable.
    pub(crate) fn datetime(&mut self, seg: &Segment, field: usize, raw: &str) -> Option<String> {
        if raw.trim().is_empty() {
            return None;
        }
        let out = datetime::to_datetime(raw, &self.zone);
        if out.is_none() {
            let loc = self.loc(seg, field);
            self.warn(ErrorCode::DataType, Some(loc), "unreadable date/time dropped");
        }
        out
    }

    /// A v2 DT/DTM as FHIR date; warns when present but unreadable.
    pub(crate) fn date(&mut self, seg: &Segment, field: usize, raw: &str) -> Option<String> {
        if raw.trim().is_empty() {
            return None;
        }
        let out = datetime::to_date(raw);
        if out.is_none() {
            let loc = self.loc(seg, field);
            self.warn(ErrorCode::DataType, Some(loc), "unreadable date dropped");
        }
        out
    }

    /// Add a resource identified by `system|value` (added to its identifiers if missing) as a
    /// conditional update. If the same identity was already added, the first one stands.
    /// Returns a reference to it.
    pub(crate) fn add(
        &mut self,
        resource_type: &str,
        system: &str,
        value: &str,
        mut resource: Value,
    ) -> Value {
        let key = format!("{resource_type}|{system}|{value}");
        let full_url = format!("urn:uuid:{}", Uuid::new_v5(&Uuid::NAMESPACE_URL, key.as_bytes()));
        if self.index.contains_key(&key) {
            return json!({ "reference": full_url });
        }
        if let Some(obj) = resource.as_object_mut() {
            let ids = obj.entry("identifier").or_insert_with(|| json!([]));
            if let Some(arr) = ids.as_array_mut() {
                if !arr.iter().any(|i| i["system"] == system && i["value"] == value) {
                    arr.insert(0, json!({ "system": system, "value": value }));
                }
            }
            obj.insert("resourceType".into(), json!(resource_type));
        }
        // FHIR search escaping (R4 §3.1.1.6): `\`, `|`, `,` and `$` in a token are escaped with `\`.
        let esc = |s: &str| {
            encode_query(&s.replace('\\', "\\\\").replace('|', "\\|").replace(',', "\\,").replace('$', "\\$"))
        };
        let url = format!("{resource_type}?identifier={}|{}", esc(system), esc(value));
        self.index.insert(key, self.entries.len());
        self.entries.push(Entry { full_url: full_url.clone(), resource, url });
        json!({ "reference": full_url })
    }

    /// The owning organisation (ODS), added once; returns its reference with display.
    pub(crate) fn owner(&mut self) -> Value {
        let org = &self.cfg.organisation;
        let (code, name) = (org.ods_code.clone(), org.name.clone());
        let mut r = self.add(
            "Organization",
            systems::ODS_ORGANISATION,
            &code,
            json!({ "active": true, "name": name }),
        );
        r["display"] = json!(name);
        r
    }

    /// Set a member on the first entry of a type (e.g. `Patient.active`).
    pub(crate) fn set_first(&mut self, resource_type: &str, member: &str, value: Value) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.resource["resourceType"] == resource_type) {
            e.resource[member] = value;
        }
    }

    fn meta(&self) -> Value {
        json!({
            "source": format!("{}#{}", self.cfg.feed_uri(), self.control_id),
            "tag": [
                { "system": systems::FEED_TAG_SYSTEM, "code": self.cfg.feed_id },
                { "system": systems::ORGANISATION_TAG_SYSTEM, "code": self.cfg.organisation.ods_code,
                  "display": self.cfg.organisation.name }
            ]
        })
    }

    /// Stamp meta, add the Provenance and assemble the transaction Bundle.
    pub(crate) fn finish(mut self, recorded: String, activity: &str) -> (Value, Vec<MapIssue>) {
        let meta = self.meta();
        let owner = self.owner();
        let mut agents = vec![json!({
            "type": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author", "display": "Author"
            }]},
            "who": owner
        })];
        if let Some(facility) = self.facility.clone() {
            agents.push(json!({
                "type": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                    "code": "informant", "display": "Informant"
                }]},
                "who": facility
            }));
        }
        let targets: Vec<Value> = self.entries.iter().map(|e| json!({ "reference": e.full_url })).collect();
        // A Provenance has no business identifier, so its id is derived from the feed and the
        // message bytes: re-sending the same message rewrites the same Provenance, while a
        // different message that reuses a control id gets its own.
        let name = format!("{}|{}|{}", self.cfg.feed_uri(), self.control_id, self.msg.encode());
        let prov_id = Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()).to_string();
        // Built with `object` rather than `json!` wherever a whole resource goes in: `json!`
        // copies an interpolated Value by serialising it, which made assembling the bundle
        // most of a message's mapping time.
        let provenance = object([
            ("resourceType", json!("Provenance")),
            ("id", json!(prov_id)),
            ("target", Value::Array(targets)),
            ("recorded", json!(recorded)),
            (
                "activity",
                json!({ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "UPDATE", "display": "revise"
                }], "text": activity }),
            ),
            ("agent", Value::Array(agents)),
            (
                "entity",
                json!([{
                    "role": "source",
                    "what": {
                        "identifier": { "system": self.cfg.system("message"), "value": self.control_id },
                        "display": format!("HL7 v2 {activity} message {}", self.control_id)
                    }
                }]),
            ),
            ("meta", meta.clone()),
        ]);
        let mut entries: Vec<Value> = Vec::with_capacity(self.entries.len() + 1);
        let request = |url: String| object([("method", json!("PUT")), ("url", Value::String(url))]);
        for e in self.entries.drain(..) {
            let mut resource = e.resource;
            if let Some(obj) = resource.as_object_mut() {
                reorder_type_first(obj);
                obj.insert("meta".into(), meta.clone());
            }
            entries.push(object([
                ("fullUrl", Value::String(e.full_url)),
                ("resource", resource),
                ("request", request(e.url)),
            ]));
        }
        entries.push(object([
            ("fullUrl", Value::String(format!("urn:uuid:{prov_id}"))),
            ("resource", provenance),
            ("request", request(format!("Provenance/{prov_id}"))),
        ]));
        let bundle = object([
            ("resourceType", json!("Bundle")),
            ("type", json!("transaction")),
            ("entry", Value::Array(entries)),
        ]);
        (bundle, self.issues)
    }
}

/// A JSON object of `members`, moved in (not copied as `json!` would).
fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Put `resourceType` first so bundles read naturally (serde_json keeps insertion order).
fn reorder_type_first(obj: &mut Map<String, Value>) {
    if let Some(t) = obj.remove("resourceType") {
        let rest = std::mem::take(obj);
        obj.insert("resourceType".into(), t);
        obj.extend(rest);
    }
}

/// Remove null, empty-string, empty-array and empty-object members, recursively, so builders
/// can write `json!` literals with optional values.
pub(crate) fn prune(mut v: Value) -> Value {
    prune_in_place(&mut v);
    v
}

/// In place: rebuilding every object was a tenth of a message's mapping time.
fn prune_in_place(v: &mut Value) {
    match v {
        Value::Object(map) => map.retain(|_, v| {
            prune_in_place(v);
            !is_empty(v)
        }),
        Value::Array(items) => items.retain_mut(|v| {
            prune_in_place(v);
            !is_empty(v)
        }),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_drops_empties() {
        let v = prune(json!({ "a": null, "b": "", "c": [], "d": { "e": null }, "f": [null, "x"], "g": 1 }));
        assert_eq!(v, json!({ "f": ["x"], "g": 1 }));
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query("https://x.org/a b|c&d"), "https://x.org/a%20b%7Cc%26d");
    }
}
