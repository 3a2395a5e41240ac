//! Search: a parsed FHIR search ([`SearchRequest`]) compiled into SQL over the index tables,
//! with the access filter applied to every resource row the query touches — the matches, the
//! total, includes, chains and `_has` — so nothing withheld can be counted, paged or included.
//!
//! Query shape: `SELECT r.rk FROM resource r WHERE <type> AND <not deleted> AND <access> AND
//! r.rk IN (<index lookup>) ... ORDER BY <sort>, r.rk LIMIT n+1`. Each criterion is an index
//! range scan; the type and deleted tests are written `+r.type` when criteria exist so that
//! SQLite drives the query from the (selective) index lookups rather than scanning the type.
mod criteria;
mod cursor;
mod sort;
pub mod value_sets;

use crate::access::{AccessFilter, FactCache, Known};
use crate::catalog::Catalog;
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::model::Stored;
use crate::sql::read::read_many;
use criteria::Ctx;
use cursor::Cursor;
use lantern_fhir::search::{Include, SearchRequest, Summary, TotalMode};
use sort::SortType;
use std::collections::HashSet;

/// One page of search results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub matches: Vec<Stored>,
    /// Resources added by `_include` / `_revinclude` (search mode "include").
    pub included: Vec<Stored>,
    pub total: Option<i64>,
    /// The cursor for the next page, if there is one.
    pub next: Option<String>,
}

/// How many rounds `:iterate` follows references. Each round is one indexed query; the bound
/// stops a cyclic graph from looping, and real include chains are far shallower.
const MAX_ITERATE: usize = 4;

pub fn search(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    req: &SearchRequest,
    access: &AccessFilter,
    now: i64,
    facts: Option<&FactCache>,
) -> Result<SearchPage, StoreError> {
    let expected = expected_patients(req);
    let known = match facts {
        Some(cache) if access.probes_facts() => cache.known(conn, &expected)?,
        _ => Known::default(),
    };
    let keys = page_keys(conn, catalog, req, access, now, &expected, &known)?;
    if keys.count_only {
        return Ok(SearchPage { total: keys.total, ..Default::default() });
    }
    let page = read_many(conn, catalog, &keys.rks)?;
    let included = includes(conn, catalog, access, &page, &req.include, &req.revinclude)?;
    Ok(SearchPage {
        matches: page.into_iter().map(|(_, s)| s).collect(),
        included,
        total: keys.total,
        next: keys.next,
    })
}

/// The logical ids of one page of matches, without reading any resource body: what
/// conditional operations need (they run on the writer thread, where every microsecond counts).
pub fn search_ids(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    req: &SearchRequest,
    access: &AccessFilter,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let keys = page_keys(conn, catalog, req, access, now, &expected_patients(req), &Known::default())?;
    let mut by_rk = std::collections::HashMap::with_capacity(keys.rks.len());
    for chunk in keys.rks.chunks(MAX_IN_LIST) {
        let mut params = Vec::new();
        let marks = in_list(chunk.iter().map(|k| SqlValue::Int(*k)), &mut params);
        let sql = format!("SELECT rk, id FROM resource WHERE rk IN ({marks})");
        conn.query(&sql, &params, &mut |r| {
            by_rk.insert(r.int(0)?.unwrap_or(0), r.text(1)?.unwrap_or_default());
            Ok(())
        })?;
    }
    Ok(keys.rks.iter().filter_map(|k| by_rk.remove(k)).collect())
}

/// The keys of one page of matches, in order, with the total and the next cursor.
struct PageKeys {
    rks: Vec<i64>,
    total: Option<i64>,
    next: Option<String>,
    /// `_summary=count` or `_count=0`: only the total was asked for.
    count_only: bool,
}

fn page_keys(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    req: &SearchRequest,
    access: &AccessFilter,
    now: i64,
    expected: &[String],
    known: &Known,
) -> Result<PageKeys, StoreError> {
    let types: Vec<String> = match &req.rtype {
        Some(t) => vec![t.clone()],
        None => req.types.clone(),
    };
    let mut ctx = Ctx {
        conn,
        catalog,
        access,
        now,
        params: Vec::new(),
        depth: 0,
        probe: false,
        linked: req.linked,
        driver: None,
    };
    let mut conds = Vec::new();
    let has_criteria = !req.criteria.is_empty();
    // SQLite: a unary plus keeps its planner off the (type, ...) indexes when a criterion's
    // index should drive. PostgreSQL would only lose its estimates of those columns (it then
    // scanned every resource to join a token's matches), so it gets the plain column.
    let plus = match ctx.conn.dialect() {
        crate::conn::Dialect::Sqlite if has_criteria => "+",
        _ => "",
    };
    let type_ids: Vec<i64> = types.iter().filter_map(|t| catalog.type_id(t)).collect();
    if !types.is_empty() {
        if type_ids.is_empty() {
            return Ok(PageKeys { rks: Vec::new(), total: Some(0), next: None, count_only: false });
        }
        if type_ids.len() == 1 {
            conds.push(format!("{plus}r.type = {}", type_ids[0]));
        } else {
            conds.push(format!(
                "r.type IN ({})",
                type_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ));
        }
    }
    conds.push(format!("{plus}r.deleted = 0"));
    let mut ap = Vec::new();
    let acc = access.to_sql_knowing("r", &mut ap, expected, known);
    ctx.params.extend(ap);
    conds.push(acc);
    // The cheapest criterion drives the query (an index range giving candidate keys); the rest
    // are probed per candidate through the index tables' rk index.
    let mut ordered: Vec<&lantern_fhir::search::Criterion> = req.criteria.iter().collect();
    ordered.sort_by_key(|c| criteria::cost(c));
    for (n, c) in ordered.into_iter().enumerate() {
        ctx.probe = n > 0;
        if types.len() == 1 {
            conds.push(criteria::compile(&mut ctx, c, &types[0], "r")?);
        } else if let lantern_fhir::search::Criterion::Compartment { compartment, id, .. } = c {
            // Every type of a compartment at once (`Patient/1/*`): one union of lookups over
            // each type's linking parameters (at the depth `compile` would give it).
            let candidates: Vec<String> = if types.is_empty() {
                lantern_r4::resource_types().iter().map(|s| s.to_string()).collect()
            } else {
                types.clone()
            };
            ctx.depth += 1;
            let sql = criteria::compartment_across(&mut ctx, &candidates, "r", compartment, id);
            ctx.depth -= 1;
            conds.push(sql?);
        } else {
            // A system search: the criterion must hold for the resource's own type.
            let candidates: Vec<String> = if types.is_empty() {
                lantern_r4::resource_types().iter().map(|s| s.to_string()).collect()
            } else {
                types.clone()
            };
            let mut alts = Vec::new();
            for t in &candidates {
                let Some(tid) = catalog.type_id(t) else { continue };
                let mark = ctx.params.len();
                match criteria::compile(&mut ctx, c, t, "r") {
                    Ok(sql) => alts.push(format!("(r.type = {tid} AND {sql})")),
                    Err(_) => ctx.params.truncate(mark),
                }
            }
            if alts.is_empty() {
                return Err(StoreError::invalid(
                    "not-supported",
                    None,
                    "no resource type supports this search criterion",
                ));
            }
            conds.push(format!("({})", alts.join(" OR ")));
        }
    }
    let sort_type = types.first().map(String::as_str).unwrap_or("Resource");
    if types.len() != 1 && req.sort.iter().any(|k| k.code != "_id" && k.code != "_lastUpdated") {
        return Err(StoreError::invalid(
            "not-supported",
            Some("_sort".into()),
            "a search over several types can sort only by _id or _lastUpdated",
        ));
    }
    let sorts = sort::sort_exprs(catalog, sort_type, &req.sort, "r")?;
    // In `rk` order (no `_sort`) a one-token driver walks its index rows instead (see DriverJoin).
    let mut from = "resource r".to_string();
    let mut key = "r.rk";
    if let Some(d) = ctx.driver.take().filter(|_| sorts.is_empty() && types.len() == 1) {
        if let Some(c) = conds.iter_mut().find(|c| **c == d.in_sql) {
            *c = d.on_d;
            // SQLite's CROSS JOIN keeps the index table outermost (without statistics its
            // planner may prefer scanning every resource of the type); PostgreSQL plans it.
            let join = match ctx.conn.dialect() {
                crate::conn::Dialect::Sqlite => "CROSS JOIN",
                crate::conn::Dialect::Postgres => "JOIN",
            };
            from = format!("{} d {join} resource r ON r.rk = d.rk", d.table);
            key = "d.rk";
        }
    }
    let where_all = conds.join(" AND ");
    let base_params = ctx.params.clone();

    let accurate = req.total == TotalMode::Accurate || req.summary == Some(Summary::Count);
    let cap = lantern_fhir::search::ESTIMATE_CAP;
    let count_all = |conn: &mut dyn Conn| -> Result<Option<i64>, StoreError> {
        if accurate {
            conn.query_int(&format!("SELECT COUNT(*) FROM {from} WHERE {where_all}"), &base_params)
        } else if req.total == TotalMode::Estimate {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {where_all} LIMIT {}) capped",
                cap + 1
            );
            Ok(conn.query_int(&sql, &base_params)?.filter(|n| *n <= cap))
        } else {
            Ok(None)
        }
    };
    if req.summary == Some(Summary::Count) || req.count == 0 {
        let total = count_all(&mut *ctx.conn)?;
        return Ok(PageKeys { rks: Vec::new(), total, next: None, count_only: true });
    }

    // Keyset: rows strictly after the cursor in (sort..., rk) order.
    let mut page_where = where_all.clone();
    let mut page_params = base_params.clone();
    if let Some(c) = &req.cursor {
        let types: Vec<SortType> = sorts.iter().map(|s| s.ty).collect();
        let cur = Cursor::decode(c, &types)?;
        let mut alts = Vec::new();
        let mut prefix_eq: Vec<String> = Vec::new();
        let mut prefix_params: Vec<SqlValue> = Vec::new();
        for (s, v) in sorts.iter().zip(&cur.sort_values) {
            let op = if s.descending { "<" } else { ">" };
            let mut p = prefix_params.clone();
            p.push(v.clone());
            let mut parts = prefix_eq.clone();
            parts.push(format!("{} {op} ?", s.sql));
            alts.push((parts.join(" AND "), p));
            prefix_eq.push(format!("{} = ?", s.sql));
            prefix_params.push(v.clone());
        }
        let mut parts = prefix_eq;
        parts.push(format!("{key} > ?"));
        prefix_params.push(SqlValue::Int(cur.rk));
        alts.push((parts.join(" AND "), prefix_params));
        let sql: Vec<String> = alts.iter().map(|(s, _)| format!("({s})")).collect();
        page_where = format!("{page_where} AND ({})", sql.join(" OR "));
        for (_, p) in alts {
            page_params.extend(p);
        }
    }
    let select_sorts: String = sorts.iter().map(|s| format!(", {}", s.sql)).collect();
    let order: Vec<String> = sorts
        .iter()
        .map(|s| format!("{} {}", s.sql, if s.descending { "DESC" } else { "ASC" }))
        .chain([format!("{key} ASC")])
        .collect();
    // `_total=estimate` (the default) on a first page: one pass gives the page and the
    // estimate (the matches up to the cap, the page keeping the first of them), instead of
    // the page query and then a second pass of the criteria and the access filter over the
    // same matches to count them (which cost 70% as much as the page query on
    // patient-scoped searches). With `_sort` only for a search by patient, whose matches are
    // few: over a whole type the sorter would keep the cap's worth of rows instead of a page's.
    let one_pass = req.cursor.is_none()
        && req.total == TotalMode::Estimate
        && !accurate
        && (sorts.is_empty() || !expected.is_empty());
    let limit = if one_pass { (cap as usize + 1).max(req.count + 1) } else { req.count + 1 };
    let sql = format!(
        "SELECT r.rk{select_sorts} FROM {from} WHERE {page_where} ORDER BY {} LIMIT {limit}",
        order.join(", ")
    );
    let mut rows: Vec<(i64, Vec<SqlValue>)> = Vec::new();
    let mut matched = 0i64;
    ctx.conn.query(&sql, &page_params, &mut |r| {
        matched += 1;
        if rows.len() > req.count {
            return Ok(()); // past the page (and the row that says there is a next): counted only
        }
        let rk = r.int(0)?.unwrap_or(0);
        let mut vals = Vec::with_capacity(sorts.len());
        for (i, s) in sorts.iter().enumerate() {
            vals.push(match s.ty {
                SortType::Int => SqlValue::Int(r.int(i + 1)?.unwrap_or(0)),
                SortType::Real => SqlValue::Real(r.real(i + 1)?.unwrap_or(0.0)),
                SortType::Text => SqlValue::Text(r.text(i + 1)?.unwrap_or_default()),
            });
        }
        rows.push((rk, vals));
        Ok(())
    })?;
    let total = if one_pass {
        Some(matched).filter(|n| *n <= cap)
    } else if req.cursor.is_none()
        && rows.len() <= req.count
        && (accurate || req.total == TotalMode::Estimate)
    {
        // The first page holds every match, so its length is the total: no second pass of the
        // criteria and the access filter over the same rows (most patient-scoped searches).
        Some(rows.len() as i64).filter(|n| accurate || *n <= cap)
    } else {
        count_all(&mut *ctx.conn)?
    };
    let next = if rows.len() > req.count {
        rows.truncate(req.count);
        rows.last().map(|(rk, vals)| Cursor { sort_values: vals.clone(), rk: *rk }.encode())
    } else {
        None
    };
    let rks: Vec<i64> = rows.iter().map(|(rk, _)| *rk).collect();
    Ok(PageKeys { rks, total, next, count_only: false })
}

/// The patients a search's rows most likely belong to: those its reference criteria name
/// (`Condition?patient=p1`, `Observation?subject=Patient/p1`). Only a hint for
/// [`AccessFilter::to_sql_expecting`], which stays exact for rows of any other patient.
fn expected_patients(req: &SearchRequest) -> Vec<String> {
    use lantern_fhir::search::{Criterion, SearchValue};
    let mut out: Vec<String> = Vec::new();
    for c in &req.criteria {
        if let Criterion::Compartment { compartment, id, .. } = c {
            if compartment == "Patient" {
                out.push(id.clone());
            }
            continue;
        }
        let Criterion::Param { kind: lantern_r4::SearchParamType::Reference, values, .. } = c else {
            continue;
        };
        for v in values {
            match v {
                SearchValue::Reference { rtype, id } if rtype.as_deref().is_none_or(|t| t == "Patient") => {
                    out.push(id.clone())
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out.truncate(crate::access::MAX_EXPECTED);
    out
}

/// Most values one `IN (...)` list binds; longer lists are split.
const MAX_IN_LIST: usize = 512;

/// Binds `values` (at least one) for an `IN (...)` list and returns its placeholders, padded
/// to a power of two by repeating the first value, so that a few statements serve lists of
/// every length. Keys written into the SQL text made each lookup a statement of its own to
/// compile, and evicted the cached ones.
fn in_list(values: impl Iterator<Item = SqlValue>, params: &mut Vec<SqlValue>) -> String {
    let start = params.len();
    params.extend(values);
    let n = params.len() - start;
    let first = params[start].clone();
    params.resize(start + n.next_power_of_two(), first);
    vec!["?"; params.len() - start].join(",")
}

fn ids_list(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The rows of every reference parameter of `rtype` (each parameter's own: a shared one's
/// values are among its base's, which is a reference parameter of the type too).
fn reference_params(catalog: &Catalog, rtype: &str) -> Vec<i64> {
    lantern_r4::search_params(rtype)
        .filter(|p| p.kind == lantern_r4::SearchParamType::Reference)
        .filter_map(|p| catalog.param_id(rtype, p.code))
        .collect()
}

/// The condition on `x` that the row holds a value of one of the parameters: those named
/// (with what they share) or, for `*`, every reference parameter's own rows.
fn include_cond(
    catalog: &Catalog,
    rtype: &str,
    param: Option<&str>,
    all: impl FnOnce() -> Vec<i64>,
) -> Option<String> {
    match param {
        Some(p) => catalog.param_rows(rtype, p).map(|r| r.cond("x.")),
        None => {
            let ids = all();
            (!ids.is_empty()).then(|| format!("x.param IN ({})", ids_list(&ids)))
        }
    }
}

/// `_include` and `_revinclude` (R4 §3.1.1.5.4), with `:iterate` following the included
/// resources again. Included resources pass the access filter like matches do.
pub(crate) fn includes(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    access: &AccessFilter,
    page: &[(i64, Stored)],
    include: &[Include],
    revinclude: &[Include],
) -> Result<Vec<Stored>, StoreError> {
    if include.is_empty() && revinclude.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen: HashSet<i64> = page.iter().map(|(k, _)| *k).collect();
    let mut frontier: Vec<(i64, String, String)> =
        page.iter().map(|(k, s)| (*k, s.rtype.clone(), s.id.clone())).collect();
    let mut out = Vec::new();
    for round in 0..=MAX_ITERATE {
        let mut found: Vec<i64> = Vec::new();
        for inc in include.iter().filter(|i| round == 0 || i.iterate) {
            let sources: Vec<i64> = frontier
                .iter()
                .filter(|(_, t, _)| inc.source_type == "*" || *t == inc.source_type)
                .map(|(k, _, _)| *k)
                .collect();
            if sources.is_empty() {
                continue;
            }
            let src_types: HashSet<&str> = frontier.iter().map(|(_, t, _)| t.as_str()).collect();
            let Some(pcond) = include_cond(catalog, &inc.source_type, inc.param, || {
                src_types.iter().flat_map(|t| reference_params(catalog, t)).collect()
            }) else {
                continue;
            };
            let target = match &inc.target_type {
                Some(t) => format!(" AND x.ttype = {}", catalog.type_id(t).unwrap_or(-1)),
                None => String::new(),
            };
            for chunk in sources.chunks(MAX_IN_LIST) {
                let mut params = Vec::new();
                let marks = in_list(chunk.iter().map(|k| SqlValue::Int(*k)), &mut params);
                let acc = access.to_sql("t", &mut params);
                let sql = format!(
                    "SELECT DISTINCT t.rk FROM ix_ref x JOIN resource t ON t.type = x.ttype AND t.id = x.tid \
                     WHERE x.rk IN ({marks}) AND {pcond}{target} AND t.deleted = 0 AND {acc}"
                );
                conn.query(&sql, &params, &mut |r| {
                    found.push(r.int(0)?.unwrap_or(0));
                    Ok(())
                })?;
            }
            found.extend(canonical_targets(
                conn,
                catalog,
                access,
                &sources,
                &pcond,
                inc.target_type.as_deref(),
            )?);
        }
        for inc in revinclude.iter().filter(|i| round == 0 || i.iterate) {
            let mut by_type: std::collections::HashMap<&str, Vec<&str>> = Default::default();
            for (_, t, id) in &frontier {
                by_type.entry(t.as_str()).or_default().push(id.as_str());
            }
            let any_source = inc.source_type == "*";
            let pcond = include_cond(catalog, &inc.source_type, inc.param, || match any_source {
                true => {
                    lantern_r4::resource_types().iter().flat_map(|t| reference_params(catalog, t)).collect()
                }
                false => reference_params(catalog, &inc.source_type),
            });
            // `_revinclude=*`: resources of any type that refer to the page.
            let src_filter = match catalog.type_id(&inc.source_type) {
                Some(t) => format!(" AND s.type = {t}"),
                None if any_source => String::new(),
                None => continue,
            };
            if let Some(pcond) = pcond.as_deref() {
                let targets: Vec<i64> = frontier
                    .iter()
                    .filter(|(_, t, _)| inc.target_type.as_deref().is_none_or(|tt| tt == t))
                    .map(|(k, _, _)| *k)
                    .collect();
                found.extend(canonical_sources(conn, catalog, access, &targets, pcond, &src_filter)?);
            }
            for (t, ids) in by_type {
                let Some(tid) = catalog.type_id(t) else { continue };
                let Some(pcond) = pcond.as_deref() else { continue };
                if inc.target_type.as_deref().is_some_and(|tt| tt != t) {
                    continue;
                }
                for chunk in ids.chunks(MAX_IN_LIST) {
                    let mut params = Vec::new();
                    let marks = in_list(chunk.iter().map(|i| SqlValue::Text(i.to_string())), &mut params);
                    let acc = access.to_sql("s", &mut params);
                    let sql = format!(
                        "SELECT DISTINCT s.rk FROM ix_ref x JOIN resource s ON s.rk = x.rk \
                         WHERE x.tid IN ({marks}) AND x.ttype = {tid} AND {pcond}{src_filter} \
                         AND s.deleted = 0 AND {acc}"
                    );
                    conn.query(&sql, &params, &mut |r| {
                        found.push(r.int(0)?.unwrap_or(0));
                        Ok(())
                    })?;
                }
            }
        }
        found.retain(|k| seen.insert(*k));
        if found.is_empty() {
            break;
        }
        let read = read_many(conn, catalog, &found)?;
        frontier = read.iter().map(|(k, s)| (*k, s.rtype.clone(), s.id.clone())).collect();
        out.extend(read.into_iter().map(|(_, s)| s));
    }
    Ok(out)
}

/// The resources `sources`' canonical references (rows of `pcond` holding an absolute URL)
/// name by their `url`, a version after `|` dropped: `QuestionnaireResponse.questionnaire`,
/// `instantiatesCanonical`. A canonical is no `Type/id`, so the first lookup cannot find it;
/// the targets are found by their own `url` parameter (of `target` only, if given).
fn canonical_targets(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    access: &AccessFilter,
    sources: &[i64],
    pcond: &str,
    target: Option<&str>,
) -> Result<Vec<i64>, StoreError> {
    let mut urls: Vec<String> = Vec::new();
    for chunk in sources.chunks(MAX_IN_LIST) {
        let mut params = Vec::new();
        let marks = in_list(chunk.iter().map(|k| SqlValue::Int(*k)), &mut params);
        let sql = format!(
            "SELECT DISTINCT x.tid FROM ix_ref x WHERE x.rk IN ({marks}) AND {pcond} AND x.ttype = 0"
        );
        conn.query(&sql, &params, &mut |r| {
            let tid = r.text(0)?.unwrap_or_default();
            if tid.starts_with("http://") || tid.starts_with("https://") || tid.starts_with("urn:") {
                urls.push(tid.split('|').next().unwrap_or_default().to_string());
            }
            Ok(())
        })?;
    }
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    urls.sort_unstable();
    urls.dedup();
    let types: Vec<&str> = match target {
        Some(t) => vec![t],
        None => lantern_r4::resource_types().to_vec(),
    };
    let url_ids = url_param_ids(catalog, &types);
    if url_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for chunk in urls.chunks(MAX_IN_LIST) {
        let mut params = Vec::new();
        let marks = in_list(chunk.iter().map(|u| SqlValue::Text(u.clone())), &mut params);
        let acc = access.to_sql("t", &mut params);
        let sql = format!(
            "SELECT DISTINCT t.rk FROM ix_uri u JOIN resource t ON t.rk = u.rk \
             WHERE u.param IN ({}) AND u.value IN ({marks}) AND t.deleted = 0 AND {acc}",
            ids_list(&url_ids)
        );
        conn.query(&sql, &params, &mut |r| {
            found.push(r.int(0)?.unwrap_or(0));
            Ok(())
        })?;
    }
    Ok(found)
}

/// The resources whose canonical references (rows of `pcond` holding an absolute URL) name one
/// of `targets` by its `url`, with or without a `|version`: `_revinclude` through canonicals
/// (a Questionnaire and its responses). `src_filter` narrows the sources' type (` AND s.type
/// = N`, or empty).
fn canonical_sources(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    access: &AccessFilter,
    targets: &[i64],
    pcond: &str,
    src_filter: &str,
) -> Result<Vec<i64>, StoreError> {
    let url_ids = url_param_ids(catalog, lantern_r4::resource_types());
    if targets.is_empty() || url_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut urls: Vec<String> = Vec::new();
    for chunk in targets.chunks(MAX_IN_LIST) {
        let mut params = Vec::new();
        let marks = in_list(chunk.iter().map(|k| SqlValue::Int(*k)), &mut params);
        let sql = format!(
            "SELECT DISTINCT u.value FROM ix_uri u WHERE u.rk IN ({marks}) AND u.param IN ({})",
            ids_list(&url_ids)
        );
        conn.query(&sql, &params, &mut |r| {
            urls.push(r.text(0)?.unwrap_or_default());
            Ok(())
        })?;
    }
    let mut found = Vec::new();
    for url in urls {
        // The URL itself, or followed by `|version`: one equality and one range of the key
        // (`}` sorts right after `|`), as two lookups (an OR of them reads every row of the
        // parameter).
        let mut params: Vec<SqlValue> = vec![url.clone().into()];
        let exact = access.to_sql("s", &mut params);
        params.extend([format!("{url}|").into(), format!("{url}}}").into()]);
        let versioned = access.to_sql("s", &mut params);
        let from = "SELECT s.rk FROM ix_ref x JOIN resource s ON s.rk = x.rk";
        let sql = format!(
            "{from} WHERE {pcond} AND x.ttype = 0 AND x.tid = ?{src_filter} AND s.deleted = 0 AND {exact} \
             UNION {from} WHERE {pcond} AND x.ttype = 0 AND x.tid >= ? AND x.tid < ?{src_filter} \
             AND s.deleted = 0 AND {versioned}"
        );
        conn.query(&sql, &params, &mut |r| {
            found.push(r.int(0)?.unwrap_or(0));
            Ok(())
        })?;
    }
    Ok(found)
}

/// The ids of the `url` parameter of `types` (canonical resources are found by it).
fn url_param_ids(catalog: &Catalog, types: &[&str]) -> Vec<i64> {
    let mut ids: Vec<i64> = types
        .iter()
        .filter_map(|t| catalog.param_rows(t, "url"))
        .filter_map(|rows| rows.ids())
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Which page of `$everything`: resources changed `since`, of the resource `types` (all if
/// empty), after the key `after`, `count` of them.
#[derive(Debug, Clone, Default)]
pub struct EverythingWindow {
    pub since: Option<i64>,
    /// `start` and `end`: only resources whose care dates ([`lantern_fhir::search::care_date_params`])
    /// overlap `[lo, hi]`, and those with none (a Patient, an undated allergy), which no date
    /// range can place; `None` for no range.
    pub care: Option<(i64, i64)>,
    pub types: Vec<String>,
    pub after: Option<i64>,
    pub count: usize,
}

/// A page of `Patient/$everything` (R4 §6.1.0 Patient/$everything): every resource in the
/// compartments of `patients` (several source records of one person), plus what they refer to,
/// paged by key with no cap on the total.
pub fn everything(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    patients: &[String],
    access: &AccessFilter,
    window: EverythingWindow,
    facts: Option<&FactCache>,
) -> Result<EverythingPage, StoreError> {
    let EverythingWindow { since, care, types, after: after_rk, count } = window;
    // Types never stored have no id and nothing to find.
    let type_ids: Vec<i64> = types.iter().filter_map(|t| catalog.type_id(t)).collect();
    if patients.is_empty() || (!types.is_empty() && type_ids.is_empty()) {
        return Ok(EverythingPage {
            resources: Vec::new(),
            included: Vec::new(),
            total: Some(0),
            next: None,
        });
    }
    let known = match facts {
        Some(cache) if access.probes_facts() => {
            cache.known(conn, &patients[..patients.len().min(crate::access::MAX_EXPECTED)])?
        }
        _ => Known::default(),
    };
    let mut params: Vec<SqlValue> = patients.iter().map(|p| SqlValue::Text(p.clone())).collect();
    let marks = vec!["?"; patients.len()].join(",");
    // In a patient's compartment: the resources whose patient column names one of them (the
    // first compartment reference each was written with), and those another compartment
    // reference names (a Group's other members, a patient who performed another's
    // Observation): one lookup of `ix_ref` by target.
    let membership = match catalog.type_id("Patient") {
        Some(pt) => {
            params.extend(patients.iter().map(|p| SqlValue::Text(p.clone())));
            format!(
                "(r.patient IN ({marks}) OR r.rk IN (SELECT c.rk FROM ix_ref c WHERE c.ttype = {pt} \
                 AND c.tid IN ({marks}) AND c.param IN ({})))",
                ids_list(&compartment_ref_ids(catalog))
            )
        }
        None => format!("r.patient IN ({marks})"),
    };
    let acc = access.to_sql_knowing("r", &mut params, patients, &known);
    let mut where_ = format!("{membership} AND r.deleted = 0 AND {acc}");
    if let Some(s) = since {
        where_.push_str(&format!(" AND r.updated >= {s}"));
    }
    if !type_ids.is_empty() {
        let ids: Vec<String> = type_ids.iter().map(i64::to_string).collect();
        where_.push_str(&format!(" AND r.type IN ({})", ids.join(",")));
    }
    if let Some((lo, hi)) = care {
        let ids = care_date_ids(catalog, &types);
        if !ids.is_empty() {
            // Each resource is one key probe of `ix_date_rk`: dated, and dated in the range.
            let ids = ids_list(&ids);
            where_.push_str(&format!(
                " AND (NOT EXISTS (SELECT 1 FROM ix_date d WHERE d.rk = r.rk AND d.param IN ({ids})) \
                 OR EXISTS (SELECT 1 FROM ix_date d WHERE d.rk = r.rk AND d.param IN ({ids}) \
                 AND d.hi >= {lo} AND d.lo <= {hi}))"
            ));
        }
    }
    let total = conn.query_int(&format!("SELECT COUNT(*) FROM resource r WHERE {where_}"), &params)?;
    let (rks, next) = key_page(conn, &where_, &params, after_rk, count)?;
    let page = read_many(conn, catalog, &rks)?;
    // Referenced resources outside every patient's compartment (practitioners, organisations,
    // locations, medications) come along so the page is self-contained. Those in this person's
    // compartment are served as matches on their own page (never twice), and another
    // patient's record is not part of this one's.
    let star = Include { source_type: "*".into(), param: None, target_type: None, iterate: false };
    let mut referenced = includes(conn, catalog, access, &page, std::slice::from_ref(&star), &[])?;
    referenced.retain(|s| s.patient.is_none() && (types.is_empty() || types.contains(&s.rtype)));
    let resources: Vec<Stored> = page.into_iter().map(|(_, s)| s).collect();
    Ok(EverythingPage { resources, included: referenced, total, next })
}

/// The ids of every reference parameter that puts a resource in a patient's compartment
/// (R4's CompartmentDefinition, as the patient column is made from).
fn compartment_ref_ids(catalog: &Catalog) -> Vec<i64> {
    let mut ids: Vec<i64> = lantern_r4::compartment_resource_types("Patient")
        .into_iter()
        .flat_map(|t| lantern_r4::patient_compartment_params(t).iter().map(move |p| (t, *p)))
        .filter_map(|(t, p)| catalog.param_rows(t, p))
        .flat_map(|rows| rows.ref_ids())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The parameter ids of every care date (see [`EverythingWindow::care`]) of the patient
/// compartment's types, or of `types` if any are named.
fn care_date_ids(catalog: &Catalog, types: &[String]) -> Vec<i64> {
    let all: Vec<&str> = if types.is_empty() {
        lantern_r4::compartment_resource_types("Patient")
    } else {
        types.iter().map(String::as_str).collect()
    };
    let mut ids: Vec<i64> = all
        .iter()
        .flat_map(|t| lantern_fhir::search::care_date_params(t).into_iter().map(move |p| (*t, p)))
        .filter_map(|(t, p)| catalog.param_rows(t, p)?.ids())
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Which page of a bulk export of one type: changed `since`, only resources in some patient's
/// compartment (and Patients) when `patients_only`, of the given `patients` only if any are
/// named (a Group's members), after the key `after`, `count` of them.
#[derive(Debug, Clone, Default)]
pub struct ExportWindow {
    pub since: Option<i64>,
    /// The resources deleted (their last version a deletion) instead of the current ones:
    /// what a `_since` export owes its client besides what changed. They come back with
    /// `deleted` set and no body.
    pub deleted: bool,
    pub patients_only: bool,
    pub patients: Vec<String>,
    pub after: Option<i64>,
    pub count: usize,
}

/// A page of a bulk export (`$export`) of one resource type: the current, undeleted resources
/// of `rtype` the caller may see (the filter compiled into the query, as for every read) in
/// `window`, or those deleted (`window.deleted`, judged by the columns their last version
/// left, as before the deletion); the second value is the key to continue after. Walks the
/// `(type, deleted, rk)` index, so each page is a range scan whatever the store's size.
pub fn export_page(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rtype: &str,
    access: &AccessFilter,
    window: &ExportWindow,
) -> Result<(Vec<Stored>, Option<i64>), StoreError> {
    let ExportWindow { since, deleted, patients_only, ref patients, after, count } = *window;
    let Some(t) = catalog.type_id(rtype) else { return Ok((Vec::new(), None)) };
    let mut params: Vec<SqlValue> = vec![t.into()];
    let acc = access.to_sql_expecting("r", &mut params, patients);
    let mut where_ = format!("r.type = ? AND r.deleted = {} AND {acc}", i64::from(deleted));
    if let Some(s) = since {
        where_.push_str(&format!(" AND r.updated >= {s}"));
    }
    if patients_only {
        where_.push_str(" AND r.patient IS NOT NULL");
    }
    if !patients.is_empty() {
        let marks = in_list(patients.iter().map(|p| SqlValue::Text(p.clone())), &mut params);
        where_.push_str(&format!(" AND r.patient IN ({marks})"));
    }
    if deleted {
        return deleted_page(conn, rtype, &where_, &params, after, count);
    }
    let (rks, next) = key_page(conn, &where_, &params, after, count)?;
    let page = read_many(conn, catalog, &rks)?;
    Ok((page.into_iter().map(|(_, s)| s).collect(), next))
}

/// As [`key_page`], for deleted resources: what the resource row says of each.
fn deleted_page(
    conn: &mut dyn Conn,
    rtype: &str,
    where_: &str,
    params: &[SqlValue],
    after: Option<i64>,
    count: usize,
) -> Result<(Vec<Stored>, Option<i64>), StoreError> {
    let cols = "r.rk, r.id, r.ver, r.updated, r.patient";
    row_page(conn, cols, where_, params, after, count, &mut |r| {
        Ok(Stored {
            rtype: rtype.to_string(),
            id: r.text(1)?.unwrap_or_default(),
            version: r.int(2)?.unwrap_or(0),
            updated: r.int(3)?.unwrap_or(0),
            deleted: true,
            body: None,
            patient: r.text(4)?,
        })
    })
}

/// The keys of the resource rows matching `where_` after `after`, `count` of them in key
/// order, and the key to continue after if there are more.
fn key_page(
    conn: &mut dyn Conn,
    where_: &str,
    params: &[SqlValue],
    after: Option<i64>,
    count: usize,
) -> Result<(Vec<i64>, Option<i64>), StoreError> {
    row_page(conn, "r.rk", where_, params, after, count, &mut |r| Ok(r.int(0)?.unwrap_or(0)))
}

/// `count` resource rows matching `where_` after the key `after`, in key order, each made by
/// `make` from the columns `cols` (the key first), and the key to continue after if there
/// are more.
fn row_page<T>(
    conn: &mut dyn Conn,
    cols: &str,
    where_: &str,
    params: &[SqlValue],
    after: Option<i64>,
    count: usize,
    make: &mut dyn FnMut(&dyn crate::conn::Row) -> Result<T, StoreError>,
) -> Result<(Vec<T>, Option<i64>), StoreError> {
    let after = after.map(|k| format!(" AND r.rk > {k}")).unwrap_or_default();
    let sql =
        format!("SELECT {cols} FROM resource r WHERE {where_}{after} ORDER BY r.rk LIMIT {}", count + 1);
    let mut rows = Vec::new();
    conn.query(&sql, params, &mut |r| {
        rows.push((r.int(0)?.unwrap_or(0), make(r)?));
        Ok(())
    })?;
    let next = if rows.len() > count {
        rows.truncate(count);
        rows.last().map(|(k, _)| *k)
    } else {
        None
    };
    Ok((rows.into_iter().map(|(_, v)| v).collect(), next))
}

/// One page of `$everything`; `next` is the key to continue after.
#[derive(Debug, Clone, Default)]
pub struct EverythingPage {
    /// The page of the compartment's resources, which `total` counts.
    pub resources: Vec<Stored>,
    /// What they refer to outside every patient's compartment (search mode `include`).
    pub included: Vec<Stored>,
    pub total: Option<i64>,
    pub next: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_list_is_padded_to_a_power_of_two_after_what_is_already_bound() {
        let mut params = vec![SqlValue::from("before")];
        let marks = in_list([5, 6, 7].into_iter().map(SqlValue::Int), &mut params);
        assert_eq!(marks, "?,?,?,?");
        assert_eq!(
            params,
            vec!["before".into(), SqlValue::Int(5), SqlValue::Int(6), SqlValue::Int(7), SqlValue::Int(5)]
        );
        let mut params = Vec::new();
        assert_eq!(in_list([SqlValue::Int(1)].into_iter(), &mut params), "?");
        assert_eq!(params, vec![SqlValue::Int(1)]);
    }
}
