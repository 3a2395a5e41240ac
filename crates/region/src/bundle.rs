//! A FHIR transaction bundle as a source system would send it: every resource a conditional
//! update on its business identifier (so re-sending changes nothing), `urn:uuid:` fullUrls
//! derived from that identifier (the same resource gets the same fullUrl in every bundle), and
//! `meta.source` and the feed and organisation tags Lantern's own HL7 v2 maps write, so a
//! bundle's resources read as "from <organisation>, <feed>".
use crate::orgs::{feed_uri, Org};
use serde_json::{json, Value};

pub(crate) const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub(crate) const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const FEED_TAG: &str = "https://lantern.health/feed";
const ORG_TAG: &str = "https://lantern.health/organisation";
pub(crate) const VERIFICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

/// FNV-1a, for deterministic ids.
pub(crate) fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A version-4-shaped UUID derived from `key`.
pub(crate) fn uuid(key: &str) -> String {
    let mut r = lantern_identity::gen::Rng::new(hash(key));
    let (a, b) = (r.next_u64(), r.next_u64());
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A reference to an organisation by ODS code (how the policy recognises it).
pub(crate) fn org_ref(o: &Org) -> Value {
    json!({"identifier": {"system": ODS_SYSTEM, "value": o.ods}, "display": o.name})
}

pub(crate) struct Bundle<'a> {
    org: &'a Org,
    control: String,
    entries: Vec<Value>,
}

impl<'a> Bundle<'a> {
    /// A bundle from `org`'s feed; `control` names it in `meta.source` (like MSH-10).
    pub(crate) fn new(org: &'a Org, control: String) -> Bundle<'a> {
        Bundle { org, control, entries: Vec::new() }
    }

    /// The identifier system the feed keeps resources of a type in.
    pub(crate) fn system(&self, kind: &str) -> String {
        format!("{}/{kind}", feed_uri(self.org.feed))
    }

    /// Adds `resource` as a conditional update on `system|value` (which becomes its first
    /// identifier); returns a reference to it.
    pub(crate) fn add(&mut self, rtype: &str, system: &str, value: &str, mut resource: Value) -> Value {
        let full = format!("urn:uuid:{}", uuid(&format!("{rtype}|{system}|{value}")));
        if let Some(o) = resource.as_object_mut() {
            o.insert("resourceType".into(), json!(rtype));
            let ids = o.entry("identifier").or_insert_with(|| json!([]));
            if let Some(a) = ids.as_array_mut() {
                a.insert(0, json!({"system": system, "value": value}));
            }
            o.insert(
                "meta".into(),
                json!({
                    "source": format!("{}#{}", feed_uri(self.org.feed), self.control),
                    "tag": [
                        {"system": FEED_TAG, "code": self.org.feed},
                        {"system": ORG_TAG, "code": self.org.ods, "display": self.org.name}
                    ]
                }),
            );
        }
        let url = format!("{rtype}?identifier={system}|{value}");
        self.entries
            .push(json!({"fullUrl": full, "resource": resource, "request": {"method": "PUT", "url": url}}));
        json!({"reference": full})
    }

    /// Adds a resource kept in the feed's own system for its type.
    pub(crate) fn add_own(&mut self, rtype: &str, value: &str, resource: Value) -> Value {
        let system = self.system(&rtype.to_ascii_lowercase());
        self.add(rtype, &system, value, resource)
    }

    /// The transaction Bundle as JSON text.
    pub(crate) fn finish(self) -> String {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": self.entries}).to_string()
    }
}

/// A decimal as a JSON number, exactly as written.
pub(crate) fn number(s: &str) -> Value {
    s.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null)
}

/// A CodeableConcept with one coding.
pub(crate) fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}], "text": display})
}

/// Drops nulls and empty arrays left by optional members.
pub(crate) fn prune(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(Vec::is_empty)));
    }
    v
}
