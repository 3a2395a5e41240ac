//! The codes of a value set, for the token modifiers `:in` and `:not-in` (R4 §3.1.1.5.6:
//! "the search parameter is a URI that identifies a value set, and the search parameter tests
//! whether the coding is in the specified value set").
//!
//! The same expansion answers `ValueSet/$expand`.
//!
//! Lantern has no terminology server, so it expands what can be expanded without one: a
//! ValueSet stored here whose `expansion` lists its codes, or whose `compose` lists them
//! concept by concept (the usual form of a local code list: a practice's diabetes codes, a
//! reporting refset) or includes whole code systems that are stored here with every code
//! (`content` `complete`: a local or national code system loaded as a CodeSystem) or other
//! value sets it can expand; failing that, one of R4's own enumerated value sets
//! (`lantern-r4`). A value set defined by filters, or by code systems or value sets not held
//! here, and not expanded, is refused with the reason rather than matched partly.
use crate::catalog::Catalog;
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::sql::read::read_many;
use serde_json::Value;

/// Most codes a value set may expand to: each is a term of the query.
pub(crate) const MAX_CODES: usize = 10_000;

/// A (code system, code) pair; no system where the value set names none.
pub(crate) type Code = (Option<String>, String);

/// One concept of an expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept {
    pub system: Option<String>,
    pub code: String,
    pub display: Option<String>,
}

/// The codes of the value set `url` (a `|version` suffix is ignored), for parameter `param`
/// (named in errors).
pub(crate) fn expand(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    url: &str,
    param: &str,
) -> Result<Vec<Code>, StoreError> {
    let refuse = |why: String| StoreError::invalid("not-supported", Some(param.to_string()), why);
    let (_, concepts) = by_url(conn, catalog, url)?.map_err(refuse)?;
    if concepts.len() > MAX_CODES {
        return Err(StoreError::invalid(
            "too-costly",
            Some(param.to_string()),
            format!("the value set {url} has {} codes; at most {MAX_CODES} can be searched", concepts.len()),
        ));
    }
    Ok(concepts.into_iter().map(|c| (c.system, c.code)).collect())
}

/// The value set `url` (stored here, else one of R4's own) and its concepts; the inner `Err`
/// says why it cannot be expanded here.
#[allow(clippy::type_complexity)]
pub fn by_url(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    url: &str,
) -> Result<Result<(Value, Vec<Concept>), String>, StoreError> {
    by_url_within(conn, catalog, url, 0)
}

/// Value sets included by value sets are expanded to this depth (a cycle stops there).
const MAX_DEPTH: usize = 8;

#[allow(clippy::type_complexity)]
fn by_url_within(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    url: &str,
    depth: usize,
) -> Result<Result<(Value, Vec<Concept>), String>, StoreError> {
    let url = url.split_once('|').map_or(url, |(u, _)| u);
    if depth > MAX_DEPTH {
        return Ok(Err(format!("includes value sets nested more than {MAX_DEPTH} deep (at {url})")));
    }
    if let Some(vs) = stored(conn, catalog, "ValueSet", url)? {
        return Ok(concepts_within(conn, catalog, &vs, depth)?.map(|c| (vs, c)));
    }
    Ok(match lantern_r4::value_set(url) {
        Some(vs) => Ok((
            serde_json::json!({"resourceType": "ValueSet", "url": url, "status": "active"}),
            vs.systems
                .iter()
                .flat_map(|(s, codes)| {
                    codes.iter().map(|c| Concept {
                        system: Some(s.to_string()),
                        code: c.to_string(),
                        display: None,
                    })
                })
                .collect(),
        )),
        None => Err(format!(
            "the value set {url} is not known here: store it as a ValueSet that lists its codes \
             (compose.include.concept), includes a complete CodeSystem stored here, or carries an \
             expansion"
        )),
    })
}

/// The concepts of a ValueSet resource; the inner `Err` says why it cannot be expanded here.
pub fn concepts_of(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    vs: &Value,
) -> Result<Result<Vec<Concept>, String>, StoreError> {
    concepts_within(conn, catalog, vs, 0)
}

fn concepts_within(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    vs: &Value,
    depth: usize,
) -> Result<Result<Vec<Concept>, String>, StoreError> {
    let mut failed = None;
    let url = vs.get("url").and_then(Value::as_str).unwrap_or("(no url)").to_string();
    let out = from_resource(vs, &mut |source| {
        let found = match source {
            Source::System(system) => stored(conn, catalog, "CodeSystem", system)
                .map(|cs| cs.and_then(|cs| code_system_concepts(&cs))),
            Source::ValueSet(url) => {
                by_url_within(conn, catalog, url, depth + 1).map(|r| r.ok().map(|(_, concepts)| concepts))
            }
        };
        found.unwrap_or_else(|e| {
            failed = Some(e);
            None
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(out.map_err(|why| format!("the value set {url} {why}")))
}

/// The CodeSystem stored here as `url` (a `|version` suffix is ignored), if any.
pub fn code_system(conn: &mut dyn Conn, catalog: &Catalog, url: &str) -> Result<Option<Value>, StoreError> {
    stored(conn, catalog, "CodeSystem", url.split_once('|').map_or(url, |(u, _)| u))
}

/// The newest stored, undeleted resource of `rtype` (ValueSet or CodeSystem) whose `url` is
/// `url`. Read without the caller's access filter: terminology is reference data, in no
/// patient's record.
fn stored(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rtype: &str,
    url: &str,
) -> Result<Option<Value>, StoreError> {
    let Some(rows) = catalog.param_rows(rtype, "url") else { return Ok(None) };
    let sql = format!(
        "SELECT MAX(u.rk) FROM ix_uri u JOIN resource r ON r.rk = u.rk WHERE {} AND u.value = ? \
         AND r.deleted = 0",
        rows.cond("u.")
    );
    let Some(rk) = conn.query_int(&sql, &[SqlValue::Text(url.to_string())])? else { return Ok(None) };
    let found = read_many(conn, catalog, &[rk])?;
    let body = found.into_iter().next().and_then(|(_, s)| s.body);
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// Every concept of a CodeSystem that holds all of its codes (`content` `complete`), nested
/// ones included; None for one that does not.
fn code_system_concepts(cs: &Value) -> Option<Vec<Concept>> {
    if cs.get("content").and_then(Value::as_str) != Some("complete") {
        return None;
    }
    let system = cs.get("url").and_then(Value::as_str).map(str::to_string);
    fn walk(concepts: &[Value], system: &Option<String>, out: &mut Vec<Concept>) {
        for c in concepts {
            if let Some(code) = c.get("code").and_then(Value::as_str) {
                let display = c.get("display").and_then(Value::as_str).map(str::to_string);
                out.push(Concept { system: system.clone(), code: code.to_string(), display });
            }
            if let Some(inner) = c.get("concept").and_then(Value::as_array) {
                walk(inner, system, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(cs.get("concept").and_then(Value::as_array).map_or(&[][..], |v| v), &system, &mut out);
    Some(out)
}

/// The concepts a ValueSet resource lists: its expansion if it has one, else its compose when
/// that names every concept or includes whole code systems `whole` can list. Err says why it
/// cannot be expanded here.
/// What a compose includes whole: a code system, or another value set.
enum Source<'a> {
    System(&'a str),
    ValueSet(&'a str),
}

fn from_resource(
    vs: &Value,
    whole: &mut dyn FnMut(Source<'_>) -> Option<Vec<Concept>>,
) -> Result<Vec<Concept>, String> {
    if let Some(contains) = vs.pointer("/expansion/contains").and_then(Value::as_array) {
        // A page of a larger expansion (`total` beyond what is listed) would match partly.
        let listed = count_entries(contains);
        if let Some(total) = vs.pointer("/expansion/total").and_then(Value::as_u64) {
            if total as usize > listed {
                return Err(format!(
                    "carries a partial expansion ({listed} of {total} concepts); give it the whole"
                ));
            }
        }
        let mut out = Vec::new();
        walk_expansion(contains, &mut out);
        return Ok(out);
    }
    let Some(includes) = vs.pointer("/compose/include").and_then(Value::as_array) else {
        return Err("has neither an expansion nor a compose".into());
    };
    let needs_server = |what: &str, system: Option<&str>| {
        format!(
            "{what} {} by filter, by a code system not stored here complete, or by other value \
             sets, which needs a terminology server; give it an expansion",
            system.unwrap_or("codes")
        )
    };
    let mut out = Vec::new();
    for inc in includes {
        let system = inc.get("system").and_then(Value::as_str);
        if inc.get("filter").is_some() {
            return Err(needs_server("includes", system));
        }
        if let Some(sets) = inc.get("valueSet").and_then(Value::as_array) {
            // Only value sets: the codes in every one of them (R4: an include's parts intersect).
            if system.is_some() || inc.get("concept").is_some() {
                return Err(needs_server("includes", system));
            }
            let mut common: Option<Vec<Concept>> = None;
            for url in sets.iter().filter_map(Value::as_str) {
                let these = whole(Source::ValueSet(url))
                    .ok_or_else(|| format!("includes the value set {url}, which cannot be expanded here"))?;
                common = Some(match common {
                    None => these,
                    Some(before) => before
                        .into_iter()
                        .filter(|c| these.iter().any(|t| t.system == c.system && t.code == c.code))
                        .collect(),
                });
            }
            out.extend(common.unwrap_or_default());
            continue;
        }
        match (inc.get("concept").and_then(Value::as_array), system) {
            (Some(concepts), _) => {
                for c in concepts {
                    if let Some(code) = c.get("code").and_then(Value::as_str) {
                        out.push(Concept {
                            system: system.map(str::to_string),
                            code: code.to_string(),
                            display: c.get("display").and_then(Value::as_str).map(str::to_string),
                        });
                    }
                }
            }
            // A whole code system: listable when it is stored here with every code.
            (None, Some(sys)) => {
                out.extend(whole(Source::System(sys)).ok_or_else(|| needs_server("includes", system))?)
            }
            (None, None) => return Err(needs_server("includes", None)),
        }
    }
    // Includes may overlap (a national set and local additions): each concept once, as first
    // listed.
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert((c.system.clone(), c.code.clone())));
    for exc in vs.pointer("/compose/exclude").and_then(Value::as_array).into_iter().flatten() {
        let system = exc.get("system").and_then(Value::as_str);
        // An exclusion that cannot be applied here would leave codes in that should be out.
        if exc.get("filter").is_some() || exc.get("valueSet").is_some() || exc.get("concept").is_none() {
            return Err(needs_server("excludes", system));
        }
        for c in exc.get("concept").and_then(Value::as_array).into_iter().flatten() {
            if let Some(code) = c.get("code").and_then(Value::as_str) {
                out.retain(|k| !(k.system.as_deref() == system && k.code == code));
            }
        }
    }
    Ok(out)
}

/// How many entries an expansion lists, nested ones included (what `expansion.total` counts).
fn count_entries(contains: &[Value]) -> usize {
    contains
        .iter()
        .map(|c| 1 + c.get("contains").and_then(Value::as_array).map_or(0, |inner| count_entries(inner)))
        .sum()
}

/// An expansion's concepts, nested `contains` included (abstract entries have no code).
fn walk_expansion(contains: &[Value], out: &mut Vec<Concept>) {
    for c in contains {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            if c.get("abstract").and_then(Value::as_bool) != Some(true) {
                out.push(Concept {
                    system: c.get("system").and_then(Value::as_str).map(str::to_string),
                    code: code.to_string(),
                    display: c.get("display").and_then(Value::as_str).map(str::to_string),
                });
            }
        }
        if let Some(inner) = c.get("contains").and_then(Value::as_array) {
            walk_expansion(inner, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: &[(&str, &str)]) -> Vec<Code> {
        v.iter().map(|(s, k)| (Some(s.to_string()), k.to_string())).collect()
    }

    /// `from_resource` with no code system stored, as codes.
    fn codes(vs: &Value) -> Result<Vec<Code>, String> {
        from_resource(vs, &mut |_| None).map(|c| c.into_iter().map(|c| (c.system, c.code)).collect())
    }

    #[test]
    fn listed_concepts_less_the_excluded() {
        let vs = json!({"resourceType": "ValueSet", "compose": {
            "include": [{"system": "http://snomed.info/sct", "concept": [{"code": "44054006"}, {"code": "46635009"}]},
                        {"system": "http://loinc.org", "concept": [{"code": "4548-4"}]}],
            "exclude": [{"system": "http://snomed.info/sct", "concept": [{"code": "46635009"}]}]}});
        assert_eq!(
            codes(&vs).unwrap(),
            pairs(&[("http://snomed.info/sct", "44054006"), ("http://loinc.org", "4548-4")])
        );
    }

    #[test]
    fn an_expansion_wins_and_its_nesting_is_walked() {
        let vs = json!({"resourceType": "ValueSet",
            "compose": {"include": [{"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "73211009"}]}]},
            "expansion": {"contains": [
                {"system": "http://snomed.info/sct", "code": "73211009", "abstract": true, "contains": [
                    {"system": "http://snomed.info/sct", "code": "44054006"}]},
                {"system": "http://snomed.info/sct", "code": "46635009"}]}});
        assert_eq!(
            codes(&vs).unwrap(),
            pairs(&[("http://snomed.info/sct", "44054006"), ("http://snomed.info/sct", "46635009")])
        );
    }

    #[test]
    fn a_whole_code_system_held_here_is_listed() {
        let vs = json!({"resourceType": "ValueSet", "compose": {"include": [{"system": "http://example.org/cs"}]}});
        let cs = json!({"resourceType": "CodeSystem", "url": "http://example.org/cs", "content": "complete",
            "concept": [{"code": "a", "display": "Alpha", "concept": [{"code": "a1"}]}, {"code": "b"}]});
        let got = from_resource(&vs, &mut |s| match s {
            Source::System("http://example.org/cs") => code_system_concepts(&cs),
            _ => None,
        })
        .unwrap();
        let listed: Vec<(&str, Option<&str>)> =
            got.iter().map(|c| (c.code.as_str(), c.display.as_deref())).collect();
        assert_eq!(listed, vec![("a", Some("Alpha")), ("a1", None), ("b", None)]);
        // Not every code: not listable.
        let fragment =
            json!({"resourceType": "CodeSystem", "content": "fragment", "concept": [{"code": "a"}]});
        assert!(code_system_concepts(&fragment).is_none());
    }

    #[test]
    fn other_value_sets_are_included_once_each_and_intersected_within_an_include() {
        let c = |code: &str| Concept { system: Some("http://s".into()), code: code.into(), display: None };
        let mut sets = |s: Source<'_>| match s {
            Source::ValueSet("http://vs/ab") => Some(vec![c("a"), c("b")]),
            Source::ValueSet("http://vs/bc") => Some(vec![c("b"), c("c")]),
            _ => None,
        };
        let vs = json!({"resourceType": "ValueSet", "compose": {"include": [
            {"valueSet": ["http://vs/ab"]},
            {"system": "http://s", "concept": [{"code": "a"}, {"code": "z"}]}]}});
        let got: Vec<String> = from_resource(&vs, &mut sets).unwrap().into_iter().map(|c| c.code).collect();
        assert_eq!(got, ["a", "b", "z"]);
        let vs = json!({"resourceType": "ValueSet", "compose": {"include": [{"valueSet": ["http://vs/ab", "http://vs/bc"]}]}});
        let got: Vec<String> = from_resource(&vs, &mut sets).unwrap().into_iter().map(|c| c.code).collect();
        assert_eq!(got, ["b"]);
        let vs = json!({"resourceType": "ValueSet", "compose": {"include": [{"valueSet": ["http://vs/unknown"]}]}});
        assert!(from_resource(&vs, &mut sets).unwrap_err().contains("http://vs/unknown"));
    }

    #[test]
    fn what_needs_a_terminology_server_is_refused() {
        for include in [
            json!({"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}),
            json!({"system": "http://snomed.info/sct"}),
            json!({"valueSet": ["http://example.org/vs"]}),
        ] {
            let vs = json!({"resourceType": "ValueSet", "compose": {"include": [include]}});
            assert!(codes(&vs).is_err());
        }
        assert!(codes(&json!({"resourceType": "ValueSet"})).is_err());
        // Listed concepts, less what only a terminology server could exclude: refused, not kept.
        let vs = json!({"resourceType": "ValueSet", "compose": {
            "include": [{"system": "http://snomed.info/sct", "concept": [{"code": "44054006"}]}],
            "exclude": [{"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}]}});
        assert!(codes(&vs).is_err());
        // One page of a larger expansion.
        let vs = json!({"resourceType": "ValueSet", "expansion": {"total": 3, "offset": 0,
            "contains": [{"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert!(codes(&vs).unwrap_err().contains("1 of 3"));
    }
}
