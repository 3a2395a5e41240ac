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
//! On a type or the whole system, `$meta` lists the profiles, tags and security labels in use
//! on resources the caller may see. The values come from the search index (one jump per
//! distinct value, however many resources carry it), and each is kept only if a search for it
//! under the caller's access filter finds a resource: a label that only withheld records carry
//! is not named.
use crate::crud::resource_of;
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::StoreError;
use serde_json::{json, Map, Value};

/// The meta elements a type-level `$meta` lists: (search parameter, index table, Meta member).
const LISTED: [(&str, &str, &str); 3] =
    [("_profile", "ix_uri", "profile"), ("_tag", "ix_token", "tag"), ("_security", "ix_token", "security")];

/// Most distinct values of one element a type-level `$meta` reads from the index.
const MAX_VALUES: usize = 1000;

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

    /// `Type/$meta` (or `$meta` on the system, `rtype` None): a Parameters whose `return` is
    /// a Meta listing the profiles, tags and security labels in use on resources of that type
    /// (or any) that the caller may see.
    pub async fn meta_in_use(&self, ctx: &Ctx, rtype: Option<&str>) -> Result<Value, Error> {
        if let Some(t) = rtype {
            crate::prepare::check_type(t)?;
        }
        let types: Vec<String> = match rtype {
            Some(t) => vec![t.to_string()],
            None => lantern_r4::resource_types().iter().map(|t| t.to_string()).collect(),
        };
        let mut meta = Map::new();
        for (param, table, member) in LISTED {
            let tt = types.clone();
            // Every type's values in one read (a system-level call asks all 146 types).
            let candidates = self
                .store
                .with_reader(move |c, cat| {
                    let mut all = Vec::new();
                    for t in tt {
                        if let Some(pid) = cat.param_id(&t, param) {
                            all.extend(distinct_values(c, table, pid)?.into_iter().map(|v| (t.clone(), v)));
                        }
                    }
                    Ok::<_, StoreError>(all)
                })
                .await?;
            let mut found: Vec<(Option<String>, String)> = Vec::new();
            for (t, (value, system)) in candidates {
                if found.iter().any(|(s, v)| *v == value && *s == system) {
                    continue; // already shown to be in use on a type the caller may see
                }
                let query = match &system {
                    Some(s) => format!("{s}|{value}"),
                    None if table == "ix_token" => format!("|{value}"),
                    None => value.clone(),
                };
                let pairs = [
                    (param.to_string(), query),
                    ("_count".to_string(), "1".to_string()),
                    ("_total".to_string(), "none".to_string()),
                ];
                let req = self.parse_search(ctx, Some(&t), &pairs)?;
                if !self.store.search(req, ctx.access.clone()).await?.matches.is_empty() {
                    found.push((system, value));
                }
            }
            if found.is_empty() {
                continue;
            }
            let listed: Vec<Value> = found
                .into_iter()
                .map(|(system, value)| match (table, system) {
                    ("ix_uri", _) => Value::String(value),
                    (_, Some(s)) => json!({"system": s, "code": value}),
                    (_, None) => json!({"code": value}),
                })
                .collect();
            meta.insert(member.to_string(), Value::Array(listed));
        }
        Ok(returned(&json!({"meta": meta})))
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
/// The distinct values of one parameter in an index table, as (value, system URI): one seek
/// per value past the last (a loose index scan), so the resources carrying each are never read.
fn distinct_values(
    c: &mut dyn lantern_store::Conn,
    table: &str,
    param: i64,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut last: Option<(String, i64)> = None;
    while out.len() < MAX_VALUES {
        let mut next: Option<(String, i64)> = None;
        let mut take = |r: &dyn lantern_store::Row| {
            next = Some((r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default()));
            Ok(())
        };
        match (table, &last) {
            ("ix_uri", None) => {
                c.query("SELECT value, 0 FROM ix_uri WHERE param = ? ORDER BY value LIMIT 1", &[param.into()], &mut take)?
            }
            ("ix_uri", Some((v, _))) => c.query(
                "SELECT value, 0 FROM ix_uri WHERE param = ? AND value > ? ORDER BY value LIMIT 1",
                &[param.into(), v.as_str().into()],
                &mut take,
            )?,
            (_, None) => c.query(
                "SELECT code, sys FROM ix_token WHERE param = ? ORDER BY code, sys LIMIT 1",
                &[param.into()],
                &mut take,
            )?,
            (_, Some((code, sys))) => c.query(
                "SELECT code, sys FROM ix_token WHERE param = ? AND (code, sys) > (?, ?) ORDER BY code, sys LIMIT 1",
                &[param.into(), code.as_str().into(), (*sys).into()],
                &mut take,
            )?,
        }
        let Some((value, sys)) = next else { break };
        let mut system = None;
        if sys != 0 {
            c.query("SELECT uri FROM system_uri WHERE id = ?", &[sys.into()], &mut |r| {
                system = r.text(0)?;
                Ok(())
            })?;
        }
        out.push((value.clone(), system));
        last = Some((value, sys));
    }
    Ok(out)
}

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
