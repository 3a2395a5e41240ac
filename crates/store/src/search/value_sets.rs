//! The codes of a value set, for the token modifiers `:in` and `:not-in` (R4 §3.1.1.5.6:
//! "the search parameter is a URI that identifies a value set, and the search parameter tests
//! whether the coding is in the specified value set").
//!
//! Lantern has no terminology server, so it expands what can be expanded without one: a
//! ValueSet stored here whose `expansion` lists its codes, or whose `compose` lists them
//! concept by concept (the usual form of a local code list: a practice's diabetes codes, a
//! reporting refset); failing that, one of R4's own enumerated value sets (`lantern-r4`). A
//! value set defined by filters, by whole code systems or by other value sets, and not
//! expanded, is refused with the reason rather than matched partly.
use crate::catalog::Catalog;
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::sql::read::read_many;
use serde_json::Value;

/// Most codes a value set may expand to: each is a term of the query.
pub(crate) const MAX_CODES: usize = 10_000;

/// A (code system, code) pair; no system where the value set names none.
pub(crate) type Code = (Option<String>, String);

/// The codes of the value set `url` (a `|version` suffix is ignored), for parameter `param`
/// (named in errors).
pub(crate) fn expand(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    url: &str,
    param: &str,
) -> Result<Vec<Code>, StoreError> {
    let url = url.split_once('|').map_or(url, |(u, _)| u);
    let refuse = |why: String| StoreError::invalid("not-supported", Some(param.to_string()), why);
    let codes = match stored(conn, catalog, url)? {
        Some(vs) => from_resource(&vs).map_err(|why| refuse(format!("the value set {url} {why}")))?,
        None => match lantern_r4::value_set(url) {
            Some(vs) => vs
                .systems
                .iter()
                .flat_map(|(s, codes)| codes.iter().map(|c| (Some(s.to_string()), c.to_string())))
                .collect(),
            None => {
                return Err(refuse(format!(
                    "the value set {url} is not known here: store it as a ValueSet that lists its \
                     codes (compose.include.concept) or carries an expansion"
                )))
            }
        },
    };
    if codes.len() > MAX_CODES {
        return Err(StoreError::invalid(
            "too-costly",
            Some(param.to_string()),
            format!("the value set {url} has {} codes; at most {MAX_CODES} can be searched", codes.len()),
        ));
    }
    Ok(codes)
}

/// The newest stored, undeleted ValueSet whose `url` is `url`. Read without the caller's
/// access filter: a value set is reference data, in no patient's record, and only its codes
/// reach the query, never its content the response.
fn stored(conn: &mut dyn Conn, catalog: &Catalog, url: &str) -> Result<Option<Value>, StoreError> {
    let Some(rows) = catalog.param_rows("ValueSet", "url") else { return Ok(None) };
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

/// The codes a ValueSet resource lists: its expansion if it has one, else its compose when
/// that names every concept. Err says why it cannot be expanded here.
fn from_resource(vs: &Value) -> Result<Vec<Code>, String> {
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
    let mut out = Vec::new();
    for inc in includes {
        let system = inc.get("system").and_then(Value::as_str);
        let concepts = inc.get("concept").and_then(Value::as_array);
        if inc.get("filter").is_some() || inc.get("valueSet").is_some() || concepts.is_none() {
            return Err(format!(
                "includes {} by filter, by whole code system or by other value sets, which needs a \
                 terminology server; give it an expansion",
                system.unwrap_or("codes")
            ));
        }
        for c in concepts.into_iter().flatten() {
            if let Some(code) = c.get("code").and_then(Value::as_str) {
                out.push((system.map(str::to_string), code.to_string()));
            }
        }
    }
    for exc in vs.pointer("/compose/exclude").and_then(Value::as_array).into_iter().flatten() {
        let system = exc.get("system").and_then(Value::as_str);
        // An exclusion that cannot be applied here would leave codes in that should be out.
        if exc.get("filter").is_some() || exc.get("valueSet").is_some() || exc.get("concept").is_none() {
            return Err(format!(
                "excludes {} by filter, by whole code system or by other value sets, which needs a \
                 terminology server; give it an expansion",
                system.unwrap_or("codes")
            ));
        }
        for c in exc.get("concept").and_then(Value::as_array).into_iter().flatten() {
            if let Some(code) = c.get("code").and_then(Value::as_str) {
                out.retain(|(s, k)| !(s.as_deref() == system && k == code));
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

/// An expansion's codes, nested `contains` included (abstract entries have no code).
fn walk_expansion(contains: &[Value], out: &mut Vec<Code>) {
    for c in contains {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            if c.get("abstract").and_then(Value::as_bool) != Some(true) {
                let system = c.get("system").and_then(Value::as_str).map(str::to_string);
                out.push((system, code.to_string()));
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

    #[test]
    fn listed_concepts_less_the_excluded() {
        let vs = json!({"resourceType": "ValueSet", "compose": {
            "include": [{"system": "http://snomed.info/sct", "concept": [{"code": "44054006"}, {"code": "46635009"}]},
                        {"system": "http://loinc.org", "concept": [{"code": "4548-4"}]}],
            "exclude": [{"system": "http://snomed.info/sct", "concept": [{"code": "46635009"}]}]}});
        assert_eq!(
            from_resource(&vs).unwrap(),
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
            from_resource(&vs).unwrap(),
            pairs(&[("http://snomed.info/sct", "44054006"), ("http://snomed.info/sct", "46635009")])
        );
    }

    #[test]
    fn what_needs_a_terminology_server_is_refused() {
        for include in [
            json!({"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}),
            json!({"system": "http://snomed.info/sct"}),
            json!({"valueSet": ["http://example.org/vs"]}),
        ] {
            let vs = json!({"resourceType": "ValueSet", "compose": {"include": [include]}});
            assert!(from_resource(&vs).is_err());
        }
        assert!(from_resource(&json!({"resourceType": "ValueSet"})).is_err());
        // Listed concepts, less what only a terminology server could exclude: refused, not kept.
        let vs = json!({"resourceType": "ValueSet", "compose": {
            "include": [{"system": "http://snomed.info/sct", "concept": [{"code": "44054006"}]}],
            "exclude": [{"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}]}});
        assert!(from_resource(&vs).is_err());
        // One page of a larger expansion.
        let vs = json!({"resourceType": "ValueSet", "expansion": {"total": 3, "offset": 0,
            "contains": [{"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert!(from_resource(&vs).unwrap_err().contains("1 of 3"));
    }
}
