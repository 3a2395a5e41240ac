//! Turning a client's resource into a write the store accepts: the checks every entry point
//! shares (R4 §3.1.0.3-4 create/update rules, §2.1.0 resource validation) and the index
//! extraction, done outside the writer thread so it runs in parallel.
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_fhir::Issue;
use lantern_store::Put;
use serde_json::Value;

/// Checks that `body` is a resource of `rtype` and valid; returns it ready for `Put`.
pub(crate) fn check(rtype: &str, body: &Value) -> Result<(), Error> {
    let Some(obj) = body.as_object() else {
        return Err(Error::bad(
            "structure",
            None,
            "the request body must be a JSON object holding a resource",
        ));
    };
    match obj.get("resourceType").and_then(Value::as_str) {
        None => return Err(Error::bad("structure", None, "the resource has no resourceType")),
        Some(t) if t != rtype => {
            return Err(Error::bad(
                "invalid",
                Some("resourceType"),
                format!("the resource is a {t} but was sent to the {rtype} endpoint"),
            ))
        }
        Some(_) => {}
    }
    let issues: Vec<Issue> = lantern_fhir::validate::validate(body);
    if issues.iter().any(Issue::is_error) {
        return Err(Error::BadRequest(issues.into_iter().filter(Issue::is_error).collect()));
    }
    Ok(())
}

/// A validated write, with its index entries extracted.
pub(crate) fn put(
    fhir: &Fhir,
    ctx: &Ctx,
    rtype: &str,
    id: &str,
    mut body: Value,
    if_match: Option<i64>,
    create_only: bool,
) -> Put {
    if let Some(o) = body.as_object_mut() {
        o.insert("id".into(), Value::String(id.to_string()));
    }
    if let Some(org) = &ctx.org {
        set_org_tag(&mut body, org);
    }
    if rtype == "Patient" {
        // Links the patient index rendered on a read are not the source's to store.
        lantern_store::person::strip_links(&mut body);
    }
    let (sec, facts) = match &fhir.labeller {
        Some(l) => l(rtype, id, &mut body, fhir.store.now_micros()),
        None => (0, Vec::new()),
    };
    let index = lantern_fhir::index::extract(&fhir.indexer, &body);
    // Off the writer's thread when called outside a write job, as most are. A body that cannot
    // be prepared (not an object: validation refuses those) is left for the writer to refuse.
    let prepared = lantern_store::PreparedBody::new(&mut body, id).ok();
    Put {
        rtype: rtype.to_string(),
        id: id.to_string(),
        body,
        index,
        if_match,
        create_only,
        sec,
        facts,
        wants_body: true,
        prepared,
    }
}

/// Marks the resource as held by `org`, replacing any organisation tag it carried: a caller
/// writes for its own organisation only.
fn set_org_tag(body: &mut Value, org: &str) {
    use lantern_fhir::index::ORG_TAG_SYSTEM;
    let Some(obj) = body.as_object_mut() else { return };
    let meta = obj.entry("meta").or_insert_with(|| Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else { return };
    let tags = meta.entry("tag").or_insert_with(|| Value::Array(Vec::new()));
    let Some(tags) = tags.as_array_mut() else { return };
    tags.retain(|t| t.get("system").and_then(Value::as_str) != Some(ORG_TAG_SYSTEM));
    tags.push(serde_json::json!({"system": ORG_TAG_SYSTEM, "code": org}));
}

/// A new server-assigned logical id: a version 7 UUID, whose leading bits are the time. Ids
/// made one after another sort one after another, so the store's B-trees keyed by id (the
/// resource's own key, the patient column, every reference index row pointing at it, mostly
/// at something just created) take each insert near their right-hand end, in pages already
/// cached and already dirty in this commit, instead of on a random page of an index that no
/// longer fits in memory as the store grows. Random (version 4) ids cost a page read and a
/// page write per index row at ten million resources. The time it reveals (to the
/// millisecond) is the resource's creation, which its first version's `lastUpdated` says too.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// R4 id rule: 1-64 of `[A-Za-z0-9\-\.]`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

pub(crate) fn check_type(rtype: &str) -> Result<(), Error> {
    if lantern_r4::is_resource_type(rtype) {
        Ok(())
    } else {
        Err(Error::UnknownType(format!("'{rtype}' is not a FHIR R4 resource type")))
    }
}

/// Turns references written as this server's own absolute URL (`<base>/Patient/1`) into the
/// relative form (`Patient/1`), so they are stored, indexed and searched like any local
/// reference (R4 §2.3.0.3: an absolute reference to this server's base is the same reference).
pub(crate) fn localise_refs(v: &mut Value, base: &str) {
    let prefix = format!("{}/", base.trim_end_matches('/'));
    localise(v, &prefix);
}

fn localise(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match child {
                    Value::String(s) if k == "reference" => {
                        if let Some(rest) = s.strip_prefix(prefix) {
                            let mut parts = rest.split('/');
                            let is_local = matches!((parts.next(), parts.next()), (Some(t), Some(id))
                                if lantern_r4::is_resource_type(t) && valid_id(id));
                            if is_local {
                                *s = rest.to_string();
                            }
                        }
                    }
                    _ => localise(child, prefix),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| localise(c, prefix)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn own_absolute_references_become_relative() {
        let mut o = json!({"subject": {"reference": "http://h/fhir/Patient/1"},
            "performer": [{"reference": "http://other/fhir/Practitioner/2"}, {"reference": "http://h/fhir/Nope/3"}],
            "basedOn": [{"reference": "http://h/fhir/ServiceRequest/9/_history/2"}]});
        localise_refs(&mut o, "http://h/fhir");
        assert_eq!(o["subject"]["reference"], "Patient/1");
        assert_eq!(o["performer"][0]["reference"], "http://other/fhir/Practitioner/2");
        assert_eq!(o["performer"][1]["reference"], "http://h/fhir/Nope/3");
        assert_eq!(o["basedOn"][0]["reference"], "ServiceRequest/9/_history/2");
    }
}
