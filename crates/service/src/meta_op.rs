//! `$meta`, `$meta-add` and `$meta-delete` (R4 operations on every resource): a resource's
//! profiles, tags and security labels read, added to or taken away from, without sending
//! the whole resource back.
//!
//! Adding or removing writes a new version through the ordinary update (R4's final text no
//! longer says these operations leave the version alone, and here they must not): the change
//! is validated, labelled, access-checked and audited like any other write, and history shows
//! who changed a label and when. Security labels decide who may see a record, so changing one
//! without a trace would be a hole. A request that changes nothing writes nothing. The
//! labelling rules still apply to the new version: a label they give from the content (a
//! legally restricted diagnosis, say) comes back however often it is deleted, and the
//! returned Meta shows it.
//!
//! Only the instance level is served: `$meta` on a type or the whole system lists every tag
//! in use, which would have to be read under the caller's access filter from every resource
//! holding one.
use crate::crud::resource_of;
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::StoreError;
use serde_json::{json, Map, Value};

/// What `$meta-add` or `$meta-delete` does with the Meta it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaChange {
    Add,
    Delete,
}

/// Attempts at a change when other writers keep moving the resource on under it.
const ATTEMPTS: usize = 3;

impl Fhir {
    /// `Type/id/$meta` (current version) or `Type/id/_history/vid/$meta`: a Parameters whose
    /// `return` is the version's Meta.
    pub async fn meta(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        version: Option<&str>,
    ) -> Result<Value, Error> {
        let st = match version {
            Some(v) => self.vread(ctx, rtype, id, v).await?,
            None => self.read(ctx, rtype, id).await?,
        };
        Ok(returned(&resource_of(&st)?))
    }

    /// `Type/id/$meta-add` and `$meta-delete`, with `params` the Parameters body (one `meta`
    /// parameter, a Meta). Returns a Parameters whose `return` is the Meta after the change.
    /// With `if_match` (the request's `If-Match`) the change is made to that version or not at
    /// all (412); without, it is applied again to whatever a concurrent writer left.
    pub async fn change_meta(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        change: MetaChange,
        params: &Value,
        if_match: Option<i64>,
    ) -> Result<Value, Error> {
        let given = given_meta(params)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.read(ctx, rtype, id).await?;
            if let Some(v) = if_match.filter(|v| *v != current.version) {
                return Err(Error::Store(StoreError::VersionConflict {
                    what: format!("{rtype}/{id}"),
                    expected: v.to_string(),
                    current: current.version.to_string(),
                }));
            }
            let mut doc = resource_of(&current)?;
            if !apply(&mut doc, &given, change) {
                return Ok(returned(&doc));
            }
            match self.update(ctx, rtype, id, doc, Some(current.version)).await {
                Ok(w) => return Ok(returned(&resource_of(&w.stored)?)),
                // Someone wrote between the read and the write: apply the change to theirs,
                // unless the client asked for the version it read.
                Err(Error::Store(StoreError::VersionConflict { .. }))
                    if if_match.is_none() && attempt < ATTEMPTS =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The Parameters answer: `return`, the resource's Meta (empty if it has none).
fn returned(doc: &Value) -> Value {
    let meta = doc.get("meta").cloned().unwrap_or_else(|| json!({}));
    json!({"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": meta}]})
}

/// The one `meta` parameter of the operation's Parameters, checked: its profiles are
/// strings, its tags and security labels Codings with a code.
fn given_meta(params: &Value) -> Result<Map<String, Value>, Error> {
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(Error::bad(
            "invalid",
            None,
            "the body must be a Parameters resource with one parameter 'meta' (a Meta)",
        ));
    }
    let list = params.get("parameter").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut meta = None;
    for (i, p) in list.iter().enumerate() {
        let at = format!("Parameters.parameter[{i}]");
        match (p.get("name").and_then(Value::as_str), p.get("valueMeta")) {
            (Some("meta"), Some(Value::Object(m))) if meta.is_none() => meta = Some(m.clone()),
            (Some("meta"), Some(Value::Object(_))) => {
                return Err(Error::bad("invalid", Some(&at), "only one 'meta' parameter may be given"))
            }
            (Some("meta"), _) => {
                return Err(Error::bad("invalid", Some(&at), "the 'meta' parameter must carry a valueMeta"))
            }
            (name, _) => {
                return Err(Error::bad(
                    "not-supported",
                    Some(&at),
                    format!("unknown parameter '{}': only 'meta' is taken", name.unwrap_or("")),
                ))
            }
        }
    }
    let meta =
        meta.ok_or_else(|| Error::bad("required", Some("Parameters"), "the 'meta' parameter is missing"))?;
    for (k, v) in &meta {
        let at = format!("Parameters.parameter.valueMeta.{k}");
        match k.as_str() {
            "profile" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(Error::bad("invalid", Some(&at), "profile must be a list of canonical URLs"));
                }
            }
            "tag" | "security" => {
                let codings = v.as_array().filter(|a| {
                    a.iter()
                        .all(|c| c.get("code").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty()))
                });
                if codings.is_none() {
                    return Err(Error::bad(
                        "invalid",
                        Some(&at),
                        format!("{k} must be a list of Codings, each with a code"),
                    ));
                }
            }
            // What the server keeps itself, or says nothing to change.
            "versionId" | "lastUpdated" | "source" | "id" | "extension" => {}
            other => {
                return Err(Error::bad("structure", Some(&at), format!("Meta has no element '{other}'")))
            }
        }
    }
    Ok(meta)
}

/// The identity of a tag or security label: system and code (R4: version and display are
/// ignored when matching).
fn same_coding(a: &Value, b: &Value) -> bool {
    a.get("system") == b.get("system") && a.get("code") == b.get("code")
}

/// Adds `given`'s profiles, tags and security labels to `doc`'s meta, or removes them;
/// returns whether anything changed.
fn apply(doc: &mut Value, given: &Map<String, Value>, change: MetaChange) -> bool {
    let Some(obj) = doc.as_object_mut() else { return false };
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else { return false };
    let mut changed = false;
    for key in ["profile", "tag", "security"] {
        let Some(items) = given.get(key).and_then(Value::as_array) else { continue };
        let same = |a: &Value, b: &Value| if key == "profile" { a == b } else { same_coding(a, b) };
        let list = meta.entry(key).or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else { continue };
        for item in items {
            match change {
                MetaChange::Add if !list.iter().any(|x| same(x, item)) => {
                    list.push(item.clone());
                    changed = true;
                }
                MetaChange::Delete => {
                    let before = list.len();
                    list.retain(|x| !same(x, item));
                    changed |= list.len() != before;
                }
                MetaChange::Add => {}
            }
        }
        if list.is_empty() {
            meta.remove(key);
        }
    }
    if meta.is_empty() {
        obj.remove("meta");
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(meta: Value) -> Value {
        json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": meta}]})
    }

    #[test]
    fn adds_as_sets_and_deletes_by_system_and_code() {
        let mut doc = json!({"resourceType": "Patient", "id": "1",
            "meta": {"versionId": "2", "tag": [{"system": "s", "code": "a", "display": "A"}]}});
        let add = given_meta(&params(json!({"tag": [{"system": "s", "code": "a", "display": "other"},
            {"system": "s", "code": "b"}], "profile": ["http://p"]})))
        .unwrap();
        assert!(apply(&mut doc, &add, MetaChange::Add));
        assert_eq!(doc["meta"]["tag"].as_array().unwrap().len(), 2, "a is not added twice: {doc}");
        assert_eq!(doc["meta"]["tag"][0]["display"], "A", "the stored one is kept");
        assert_eq!(doc["meta"]["profile"], json!(["http://p"]));
        assert!(!apply(&mut doc, &add, MetaChange::Add), "adding again changes nothing");

        let del = given_meta(&params(json!({"tag": [{"system": "s", "code": "a", "version": "9"}],
            "profile": ["http://p"], "security": [{"system": "x", "code": "R"}]})))
        .unwrap();
        assert!(apply(&mut doc, &del, MetaChange::Delete));
        assert_eq!(doc["meta"], json!({"versionId": "2", "tag": [{"system": "s", "code": "b"}]}));
        assert!(!apply(&mut doc, &del, MetaChange::Delete));

        // A code in another system is another tag.
        let other = given_meta(&params(json!({"tag": [{"system": "t", "code": "b"}]}))).unwrap();
        assert!(!apply(&mut doc, &other, MetaChange::Delete));
    }

    #[test]
    fn a_resource_without_meta_gets_one_and_loses_an_empty_one() {
        let mut doc = json!({"resourceType": "Patient", "id": "1"});
        let sec = given_meta(&params(json!({"security": [{"system": "x", "code": "R"}]}))).unwrap();
        assert!(apply(&mut doc, &sec, MetaChange::Add));
        assert_eq!(doc["meta"], json!({"security": [{"system": "x", "code": "R"}]}));
        assert!(apply(&mut doc, &sec, MetaChange::Delete));
        assert!(doc.get("meta").is_none(), "{doc}");
    }

    #[test]
    fn refuses_what_is_not_one_meta() {
        let bad = [
            json!({"resourceType": "Patient"}),
            json!({"resourceType": "Parameters"}),
            json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueString": "x"}]}),
            json!({"resourceType": "Parameters", "parameter": [{"name": "other", "valueMeta": {}}]}),
            params(json!({"tag": [{"system": "s"}]})),
            params(json!({"tag": {"code": "a"}})),
            params(json!({"profile": [1]})),
            params(json!({"colour": "red"})),
        ];
        for b in bad {
            assert!(matches!(given_meta(&b), Err(Error::BadRequest(_))), "{b}");
        }
        let two = json!({"resourceType": "Parameters", "parameter": [
            {"name": "meta", "valueMeta": {}}, {"name": "meta", "valueMeta": {}}]});
        assert!(given_meta(&two).is_err());
    }
}
