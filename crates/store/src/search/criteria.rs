//! One criterion to one SQL condition on a resource row (R4 §3.1.1.4-5: prefixes, modifiers and
//! each parameter type's matching rules). Every condition is `alias.rk IN (index lookup)` or a
//! condition on the resource row itself, so each is answered from an index range, never by
//! reading resources; chains and `_has` apply the access filter to the resources they pass
//! through, so they cannot reveal withheld data either.
use crate::access::AccessFilter;
use crate::catalog::{identifier_param, of_type_param, text_param, Catalog, ParamRows};
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use lantern_fhir::search::{Criterion, Modifier, Prefix, SearchValue};
use lantern_r4::SearchParamType as T;

/// Everything compiling needs besides the criterion.
pub(crate) struct Ctx<'a> {
    pub conn: &'a mut dyn Conn,
    pub catalog: &'a Catalog,
    pub access: &'a AccessFilter,
    pub now: i64,
    pub params: Vec<SqlValue>,
    pub depth: usize,
    /// Compile the next top-level criterion as a correlated probe (`EXISTS ... rk = r.rk`)
    /// rather than as the set that drives the query.
    pub probe: bool,
    /// `_linked=true`: references to a Patient also match the records linked to its person.
    pub linked: bool,
    /// Set when the driving criterion is one token with both system and code: its index rows
    /// are already in `rk` order, so the page can walk them and stop (see [`DriverJoin`]).
    pub driver: Option<DriverJoin>,
}

/// The driving criterion as a join instead of `r.rk IN (SELECT rk ...)`. SQLite builds the whole
/// `IN` list before it returns a row: for a common code (a million Observations, 100,000 of them
/// systolic blood pressure) that was 20 ms before the first page, where walking the index
/// `(param, code, sys, rk)` in order and stopping after one page takes 0.1 ms.
#[derive(Debug, Clone)]
pub(crate) struct DriverJoin {
    /// The condition as compiled (`r.rk IN (...)`), to be replaced in the WHERE clause.
    pub in_sql: String,
    /// The index table, joined as `d`.
    pub table: &'static str,
    /// The same condition on `d`'s own columns (same placeholders, in the same order).
    pub on_d: String,
}

impl Ctx<'_> {
    fn bind(&mut self, v: impl Into<SqlValue>) -> &'static str {
        self.params.push(v.into());
        "?"
    }

    fn param_rows(&self, rtype: &str, code: &str) -> Result<ParamRows, StoreError> {
        self.catalog.param_rows(rtype, code).ok_or_else(|| {
            StoreError::invalid(
                "not-supported",
                Some(code.into()),
                format!("{rtype} has no search parameter '{code}'"),
            )
        })
    }

    fn system(&mut self, uri: &str) -> Result<Option<i64>, StoreError> {
        self.catalog.system_id(self.conn, uri)
    }
}

/// The smallest string greater than every string starting with `prefix` (for prefix ranges).
pub(crate) fn prefix_upper(prefix: &str) -> String {
    let mut s = prefix.to_string();
    s.push(char::MAX);
    s
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A rough cost rank: the cheapest, most selective criterion drives the query; the others are
/// checked per candidate row. Identifiers and references usually pin one or a few resources;
/// clinical codes and statuses are shared by many; ranges, negations and substring matches
/// rarely narrow much. A chain is as selective as what it chains to.
pub(crate) fn cost(c: &Criterion) -> u8 {
    match c {
        Criterion::Param { code: "_id", .. } => 0,
        Criterion::Param { modifier: Modifier::Not | Modifier::Contains | Modifier::Text, .. } => 6,
        Criterion::Param { kind: T::Token, code, .. } if code.ends_with("identifier") => 0,
        Criterion::Param { kind: T::Reference, .. } => 1,
        Criterion::Param { kind: T::Token | T::Uri | T::Composite, .. } => 2,
        Criterion::Param { kind: T::String | T::Special, .. } => 3,
        Criterion::Param { .. } => 4,
        Criterion::Chain { inner, .. } => cost(inner).max(1),
        Criterion::Has { .. } => 5,
        Criterion::Compartment { .. } => 1,
        Criterion::Missing { .. } => 7,
        // An OR of lookups or a NOT: only drives when nothing else can (a NOT then reads every
        // resource of the type, as `:not` alone does).
        Criterion::Any(_) => 8,
        Criterion::Not(_) => 9,
    }
}

/// Compiles `c` as a condition on the resource row `alias` of type `rtype`.
pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    c: &Criterion,
    rtype: &str,
    alias: &str,
) -> Result<String, StoreError> {
    ctx.depth += 1;
    let out = if ctx.depth > 8 {
        Err(StoreError::invalid("too-costly", None, "chains and _has may nest at most 8 levels"))
    } else {
        compile_at_depth(ctx, c, rtype, alias)
    };
    ctx.depth -= 1;
    out
}

fn compile_at_depth(
    ctx: &mut Ctx<'_>,
    c: &Criterion,
    rtype: &str,
    alias: &str,
) -> Result<String, StoreError> {
    match c {
        Criterion::Param { code, kind, modifier, values } => {
            param(ctx, rtype, alias, code, *kind, modifier, values)
        }
        Criterion::Missing { code, kind, missing } => {
            if *code == "_id" || *code == "_lastUpdated" {
                return Ok(if *missing { "1 = 0".into() } else { "1 = 1".into() });
            }
            let mut sources = vec![(table_for(*kind), ctx.param_rows(rtype, code)?)];
            // Values kept under a pseudo-parameter are values too: a CodeableConcept with only
            // text, a Reference with only an identifier, has a value for the parameter, so
            // `:missing=true` must not find it (and `:missing=false` must).
            let pseudo = match kind {
                T::Token => Some(("ix_string", text_param(code))),
                T::Reference => Some(("ix_token", identifier_param(code))),
                _ => None,
            };
            if let Some(rows) = pseudo.and_then(|(t, p)| Some((t, ctx.catalog.param_rows(rtype, &p)?))) {
                sources.push(rows);
            }
            let (op, join) = if *missing { ("NOT IN", " AND ") } else { ("IN", " OR ") };
            let any: Vec<String> = sources
                .iter()
                .map(|(table, p)| format!("{alias}.rk {op} (SELECT rk FROM {table} WHERE {})", p.cond("")))
                .collect();
            Ok(format!("({})", any.join(join)))
        }
        Criterion::Chain { code, target_types, inner } => {
            let p = ctx.param_rows(rtype, code)?.cond("x.");
            let probe = ctx.probe && ctx.depth == 1;
            let mut alts = Vec::new();
            for t in target_types {
                let Some(tid) = ctx.catalog.type_id(t) else { continue };
                let talias = format!("t{}", ctx.depth);
                // Bind in the order the placeholders appear: the access filter, then the inner.
                let mut ap = Vec::new();
                let access = ctx.access.to_sql(&talias, &mut ap);
                ctx.params.extend(ap);
                let inner_sql = compile(ctx, inner, t, &talias)?;
                let targets = format!(
                    "(SELECT {talias}.id FROM resource {talias} WHERE {talias}.type = {tid} \
                     AND {talias}.deleted = 0 AND {access} AND {inner_sql})"
                );
                // One indexed lookup per target type: (param, tid, ttype) is the key's order.
                alts.push(if probe {
                    let fence = probe_fence(ctx);
                    format!("EXISTS (SELECT 1 FROM ix_ref x WHERE x.rk = {alias}.rk AND {p} AND x.ttype = {tid} AND x.tid IN {targets}{fence})")
                } else {
                    format!("SELECT x.rk FROM ix_ref x WHERE {p} AND x.ttype = {tid} AND x.tid IN {targets}")
                });
            }
            if alts.is_empty() {
                return Ok("1 = 0".into());
            }
            // Several target types are a UNION ALL of lookups (or an OR of probes): an OR inside
            // one lookup would make the database scan every reference of the parameter.
            if probe {
                Ok(format!("({})", alts.join(" OR ")))
            } else {
                Ok(format!("{alias}.rk IN ({})", alts.join(" UNION ALL ")))
            }
        }
        Criterion::Compartment { compartment: c, id, params, itself } => {
            compartment(ctx, rtype, alias, (c, id, params, *itself))
        }
        Criterion::Any(groups) => {
            let mut alts = Vec::new();
            for g in groups {
                let parts = g.iter().map(|c| compile(ctx, c, rtype, alias)).collect::<Result<Vec<_>, _>>()?;
                alts.push(if parts.is_empty() {
                    "1 = 1".to_string()
                } else {
                    format!("({})", parts.join(" AND "))
                });
            }
            Ok(if alts.is_empty() { "1 = 0".into() } else { format!("({})", alts.join(" OR ")) })
        }
        Criterion::Not(all) => {
            let parts = all.iter().map(|c| compile(ctx, c, rtype, alias)).collect::<Result<Vec<_>, _>>()?;
            Ok(if parts.is_empty() { "1 = 0".into() } else { format!("NOT ({})", parts.join(" AND ")) })
        }
        Criterion::Has { source_type, ref_code, inner } => {
            let p = ctx.param_rows(source_type, ref_code)?.cond("x.");
            let Some(st) = ctx.catalog.type_id(source_type) else { return Ok("1 = 0".into()) };
            let Some(this_type) = ctx.catalog.type_id(rtype) else { return Ok("1 = 0".into()) };
            let salias = format!("s{}", ctx.depth);
            let mut ap = Vec::new();
            let access = ctx.access.to_sql(&salias, &mut ap);
            ctx.params.extend(ap);
            let inner_sql = compile(ctx, inner, source_type, &salias)?;
            Ok(format!(
                "{alias}.id IN (SELECT x.tid FROM ix_ref x JOIN resource {salias} ON {salias}.rk = x.rk \
                 WHERE {p} AND x.ttype = {this_type} AND {salias}.type = {st} AND {salias}.deleted = 0 \
                 AND {access} AND {inner_sql})"
            ))
        }
    }
}

/// Compartment membership: one indexed lookup of `ix_ref` per linking parameter (and, for the
/// compartment's own type, of the focal resource's row), as a union: an OR of them would make
/// the database read every resource of the type; as a probe, one look at the candidate's own
/// references.
fn compartment(
    ctx: &mut Ctx<'_>,
    rtype: &str,
    alias: &str,
    (compartment, id, params, itself): (&str, &str, &[&'static str], bool),
) -> Result<String, StoreError> {
    let mut conds = Vec::new();
    for p in params {
        conds.push(ctx.param_rows(rtype, p)?.cond("x."));
    }
    membership(ctx, alias, compartment, id, &conds, itself)
}

/// Membership of a compartment for a search of several types at once (`Patient/1/*`, a
/// system search with `_type`): the linking parameters of every type searched in one union
/// of lookups, as [`compartment`] makes for one type. An OR of one condition per type would
/// make the database read every resource.
pub(crate) fn compartment_across(
    ctx: &mut Ctx<'_>,
    types: &[String],
    alias: &str,
    compartment: &str,
    id: &str,
) -> Result<String, StoreError> {
    let mut conds = Vec::new();
    for t in types {
        for p in lantern_r4::compartment_params(compartment, t).iter().filter(|p| **p != "{def}") {
            // Rows a type's parameter would have, were it indexed: a parameter this store
            // does not index (none such today) simply links nothing.
            if let Some(rows) = ctx.catalog.param_rows(t, p) {
                conds.push(rows.cond("x."));
            }
        }
    }
    let itself = types.iter().any(|t| t == compartment);
    membership(ctx, alias, compartment, id, &conds, itself)
}

/// The SQL of compartment membership given the linking parameters' row conditions.
fn membership(
    ctx: &mut Ctx<'_>,
    alias: &str,
    compartment: &str,
    id: &str,
    conds: &[String],
    itself: bool,
) -> Result<String, StoreError> {
    let Some(ctype) = ctx.catalog.type_id(compartment) else { return Ok("1 = 0".into()) };
    if ctx.probe && ctx.depth == 1 {
        let mut alts = Vec::new();
        if !conds.is_empty() {
            let fence = probe_fence(ctx);
            let b = ctx.bind(id.to_string());
            alts.push(format!(
                "EXISTS (SELECT 1 FROM ix_ref x WHERE x.rk = {alias}.rk AND x.ttype = {ctype} AND x.tid = {b} \
                 AND ({}){fence})",
                conds.join(" OR ")
            ));
        }
        if itself {
            let b = ctx.bind(id.to_string());
            alts.push(format!("{alias}.id = {b}"));
        }
        return Ok(if alts.is_empty() { "1 = 0".into() } else { format!("({})", alts.join(" OR ")) });
    }
    let mut lookups: Vec<String> = conds
        .iter()
        .map(|c| {
            let b = ctx.bind(id.to_string());
            format!("SELECT x.rk FROM ix_ref x WHERE {c} AND x.ttype = {ctype} AND x.tid = {b}")
        })
        .collect();
    if itself {
        let b = ctx.bind(id.to_string());
        lookups.push(format!("SELECT f.rk FROM resource f WHERE f.type = {ctype} AND f.id = {b}"));
    }
    Ok(if lookups.is_empty() {
        "1 = 0".into()
    } else {
        format!("{alias}.rk IN ({})", lookups.join(" UNION ALL "))
    })
}

/// The source Patients linked to the person of the patient bound at `?`.
const LINKED: &str =
    "SELECT l2.patient FROM person_link l1 JOIN person_link l2 ON l2.person = l1.person WHERE l1.patient = ?";

fn table_for(kind: T) -> &'static str {
    match kind {
        T::String | T::Special => "ix_string",
        T::Token => "ix_token",
        T::Reference => "ix_ref",
        T::Date => "ix_date",
        T::Number => "ix_number",
        T::Quantity => "ix_quantity",
        T::Uri => "ix_uri",
        T::Composite => "ix_composite",
    }
}

/// Range comparison of an indexed `[lo, hi]` against a search value's `[vlo, vhi]`
/// (R4 §3.1.1.4.2 prefix table, on ranges). Numbers are written into the SQL as literals: they
/// cannot inject anything, and it keeps placeholder order trivially right.
pub(crate) fn range_cmp(prefix: Prefix, lo: &str, hi: &str, vlo: i64, vhi: i64, now: i64) -> String {
    // `ap`: within 10% of the distance from now (at least a microsecond).
    let d = ((now - vlo).abs() / 10).max(1);
    let (ap_lo, ap_hi) = (vlo.saturating_sub(d), vhi.saturating_add(d));
    let eq = format!("({lo} >= {vlo} AND {hi} <= {vhi})");
    match prefix {
        Prefix::Eq => eq,
        Prefix::Ne => format!("NOT {eq}"),
        Prefix::Gt => format!("{hi} > {vhi}"),
        Prefix::Lt => format!("{lo} < {vlo}"),
        Prefix::Ge => format!("({hi} > {vhi} OR {eq})"),
        Prefix::Le => format!("({lo} < {vlo} OR {eq})"),
        Prefix::Sa => format!("{lo} > {vhi}"),
        Prefix::Eb => format!("{hi} < {vlo}"),
        Prefix::Ap => format!("({lo} <= {ap_hi} AND {hi} >= {ap_lo})"),
    }
}

#[allow(clippy::too_many_arguments)]
fn param(
    ctx: &mut Ctx<'_>,
    rtype: &str,
    alias: &str,
    code: &str,
    kind: T,
    modifier: &Modifier,
    values: &[SearchValue],
) -> Result<String, StoreError> {
    // Parameters held on the resource row itself.
    if code == "_id" {
        let mut ids = Vec::new();
        for v in values {
            if let SearchValue::Token { code: Some(c), .. } | SearchValue::String(c) = v {
                ids.push(ctx.bind(c.as_str()));
            }
        }
        let not = matches!(modifier, Modifier::Not);
        return Ok(if ids.is_empty() {
            "1 = 0".into()
        } else {
            format!("{alias}.id {}IN ({})", if not { "NOT " } else { "" }, ids.join(","))
        });
    }
    if code == "_lastUpdated" {
        let mut alts = Vec::new();
        for v in values {
            if let SearchValue::Date { prefix, lo, hi } = v {
                let col = format!("{alias}.updated");
                alts.push(range_cmp(*prefix, &col, &col, *lo, *hi, ctx.now));
            }
        }
        return Ok(format!("({})", alts.join(" OR ")));
    }
    if matches!(modifier, Modifier::OfType) {
        // Its rows exist only where this build's extraction (or a re-index) made them.
        let state = crate::sql::reindex::state(ctx.conn)?;
        if state.version < lantern_fhir::index::EXTRACTION_VERSION {
            return Err(StoreError::invalid(
                "not-supported",
                Some(format!("{code}:of-type")),
                "`:of-type` needs the search index rebuilt by this version of Lantern, which is under way \
                 (the server re-indexes at start-up; `lantern reindex` does it offline): try again when it is done",
            ));
        }
    }
    let rows = match (kind, modifier) {
        (T::Token, Modifier::Text) => ctx.param_rows(rtype, &text_param(code))?,
        (T::Token, Modifier::OfType) => ctx.param_rows(rtype, &of_type_param(code))?,
        (T::Reference, Modifier::Identifier) => ctx.param_rows(rtype, &identifier_param(code))?,
        _ => ctx.param_rows(rtype, code)?,
    };
    let pcond = rows.cond("");
    let table = match (kind, modifier) {
        (T::Token, Modifier::Text) => "ix_string",
        (T::Reference, Modifier::Identifier) => "ix_token",
        _ => table_for(kind),
    };
    let negate = matches!(modifier, Modifier::Not | Modifier::NotIn);
    let mut alts = Vec::new();
    if matches!(modifier, Modifier::In | Modifier::NotIn) {
        alts = value_set_conds(ctx, code, values)?;
    } else {
        for v in values {
            // A value that can match nothing (e.g. a system no resource uses) may have bound
            // placeholders before finding out; drop them with the condition.
            let mark = ctx.params.len();
            match value_cond(ctx, kind, modifier, v)? {
                Some(cond) => alts.push(cond),
                None => ctx.params.truncate(mark),
            }
        }
    }
    if alts.is_empty() {
        return Ok(if negate { "1 = 1".into() } else { "1 = 0".into() });
    }
    let conds = alts.join(" OR ");
    if ctx.probe && ctx.depth == 1 {
        return Ok(format!(
            "{}EXISTS (SELECT 1 FROM {table} WHERE rk = {alias}.rk AND {pcond} AND ({conds}){})",
            if negate { "NOT " } else { "" },
            probe_fence(ctx)
        ));
    }
    let sql = format!(
        "{alias}.rk {} (SELECT rk FROM {table} WHERE {pcond} AND ({conds}))",
        if negate { "NOT IN" } else { "IN" }
    );
    let exact_token =
        matches!(only_value(values), Some(SearchValue::Token { system: Some(Some(_)), code: Some(_) }));
    let single = rows.single();
    if let Some(pid) = single.filter(|_| {
        ctx.depth == 1
            && !negate
            && table == "ix_token"
            && matches!(kind, T::Token)
            && exact_token
            && matches!(modifier, Modifier::None)
    }) {
        ctx.driver =
            Some(DriverJoin { in_sql: sql.clone(), table, on_d: format!("d.param = {pid} AND ({conds})") });
    }
    Ok(sql)
}

/// `:in` / `:not-in`: one condition per code system of the value sets named, on token rows.
/// A value set's code from system S also matches a row with no system: an element of type
/// `code` (a status, a gender) is indexed without one, its system implied by its binding.
fn value_set_conds(
    ctx: &mut Ctx<'_>,
    param: &str,
    values: &[SearchValue],
) -> Result<Vec<String>, StoreError> {
    let mut by_system: std::collections::BTreeMap<Option<String>, Vec<String>> = Default::default();
    for v in values {
        let SearchValue::Uri(url) = v else { continue };
        for (system, code) in super::value_sets::expand(ctx.conn, ctx.catalog, url, param)? {
            by_system.entry(system).or_default().push(code);
        }
    }
    let mut alts = Vec::new();
    for (system, mut codes) in by_system {
        codes.sort_unstable();
        codes.dedup();
        let sys = match system {
            None => None,
            Some(uri) => {
                Some(ctx.system(&uri)?.map_or("sys = 0".to_string(), |id| format!("sys IN ({id}, 0)")))
            }
        };
        let marks: Vec<&str> = codes.into_iter().map(|c| ctx.bind(c)).collect();
        let codes = format!("code IN ({})", marks.join(","));
        alts.push(match sys {
            Some(sys) => format!("({sys} AND {codes})"),
            None => codes,
        });
    }
    Ok(alts)
}

/// The only value of a criterion, if it has exactly one.
fn only_value(values: &[SearchValue]) -> Option<&SearchValue> {
    match values {
        [v] => Some(v),
        _ => None,
    }
}

/// The condition on one index row for one value, or None when nothing can match (e.g. a
/// system no resource uses).
fn value_cond(
    ctx: &mut Ctx<'_>,
    kind: T,
    modifier: &Modifier,
    v: &SearchValue,
) -> Result<Option<String>, StoreError> {
    Ok(Some(match (kind, v) {
        (T::String | T::Special, SearchValue::String(s)) | (T::Token, SearchValue::String(s)) => {
            let norm = lantern_fhir::index::normalise::normalise_string(s);
            match modifier {
                Modifier::Exact => format!("exact = {}", ctx.bind(s.as_str())),
                Modifier::Contains => {
                    format!("norm LIKE {} ESCAPE '\\'", ctx.bind(format!("%{}%", like_escape(&norm))))
                }
                _ => {
                    let lo = ctx.bind(norm.as_str());
                    let hi = ctx.bind(prefix_upper(&norm));
                    format!("(norm >= {lo} AND norm < {hi})")
                }
            }
        }
        (T::Token | T::Reference, SearchValue::Token { system, code }) => {
            let mut parts = Vec::new();
            if let Some(c) = code {
                parts.push(format!("code = {}", ctx.bind(c.as_str())));
            }
            match system {
                None => {}
                Some(None) => parts.push("sys = 0".into()),
                Some(Some(uri)) => match ctx.system(uri)? {
                    Some(id) => parts.push(format!("sys = {id}")),
                    None => return Ok(None),
                },
            }
            if parts.is_empty() {
                return Ok(None);
            }
            format!("({})", parts.join(" AND "))
        }
        (T::Reference, SearchValue::Reference { rtype, id }) => {
            let t = match rtype {
                Some(t) => match ctx.catalog.type_id(t) {
                    Some(t) => Some(t),
                    None => return Ok(None),
                },
                None => None,
            };
            let idp = ctx.bind(id.as_str());
            let patient = ctx.catalog.type_id("Patient");
            match (t, patient) {
                // `_linked=true`: the person's other source records too, through person_link's
                // (patient) and (person, patient) keys.
                (Some(t), Some(p)) if ctx.linked && t == p => {
                    ctx.bind(id.as_str());
                    format!("(ttype = {t} AND (tid = {idp} OR tid IN ({LINKED})))")
                }
                (None, Some(p)) if ctx.linked => {
                    ctx.bind(id.as_str());
                    format!("(tid = {idp} OR (ttype = {p} AND tid IN ({LINKED})))")
                }
                (Some(t), _) => format!("(tid = {idp} AND ttype = {t})"),
                (None, _) => format!("tid = {idp}"),
            }
        }
        (T::Reference, SearchValue::ReferenceUrl(url)) => {
            format!("(tid = {} AND ttype = 0)", ctx.bind(url.as_str()))
        }
        (T::Date, SearchValue::Date { prefix, lo, hi }) => range_cmp(*prefix, "lo", "hi", *lo, *hi, ctx.now),
        (T::Number, SearchValue::Number { prefix, value, lo, hi }) => number_cond(*prefix, *value, *lo, *hi),
        (T::Quantity, SearchValue::Quantity { prefix, value, lo, hi, system, code }) => {
            let mut parts = vec![number_cond(*prefix, *value, *lo, *hi)];
            if let Some(c) = code {
                parts.push(format!("code = {}", ctx.bind(c.as_str())));
            }
            if let Some(s) = system {
                match ctx.system(s)? {
                    Some(id) => parts.push(format!("sys = {id}")),
                    None => return Ok(None),
                }
            }
            format!("({})", parts.join(" AND "))
        }
        (T::Uri, SearchValue::Uri(u)) => match modifier {
            Modifier::Below => {
                let lo = ctx.bind(u.as_str());
                let hi = ctx.bind(prefix_upper(u));
                format!("(value >= {lo} AND value < {hi})")
            }
            Modifier::Above => {
                // Every ancestor of the URL by path segment, the URL itself included.
                let mut prefixes = vec![u.clone()];
                let mut cur = u.as_str();
                while let Some(i) = cur.rfind('/') {
                    cur = &cur[..i];
                    if cur.ends_with('/') || cur.ends_with(':') {
                        break;
                    }
                    prefixes.push(cur.to_string());
                }
                let marks: Vec<&str> = prefixes.into_iter().map(|p| ctx.bind(p)).collect();
                format!("value IN ({})", marks.join(","))
            }
            Modifier::Contains => {
                format!("value LIKE {} ESCAPE '\\'", ctx.bind(format!("%{}%", like_escape(u))))
            }
            _ => format!("value = {}", ctx.bind(u.as_str())),
        },
        (T::Composite, SearchValue::Composite(parts)) => composite_cond(ctx, parts),
        (k, v) => {
            return Err(StoreError::invalid(
                "invalid",
                None,
                format!("a {} parameter cannot take the value {v:?}", k.as_str()),
            ))
        }
    }))
}

/// Numbers are indexed as points (lo = hi = the value); the search value's precision gives
/// the range for `eq`/`ne` (R4 §3.1.1.5.2).
pub(crate) fn number_cond(prefix: Prefix, value: f64, lo: f64, hi: f64) -> String {
    match prefix {
        Prefix::Eq => format!("(lo >= {lo:?} AND lo < {hi:?})"),
        Prefix::Ne => format!("NOT (lo >= {lo:?} AND lo < {hi:?})"),
        Prefix::Gt | Prefix::Sa => format!("lo > {value:?}"),
        Prefix::Lt | Prefix::Eb => format!("lo < {value:?}"),
        Prefix::Ge => format!("lo >= {value:?}"),
        Prefix::Le => format!("lo <= {value:?}"),
        Prefix::Ap => {
            let d = (value.abs() * 0.1).max(hi - lo);
            format!("(lo >= {:?} AND lo <= {:?})", value - d, value + d)
        }
    }
}

/// Composite values: every component but a trailing numeric one forms the key; a trailing
/// number, quantity or date (with an optional prefix) is compared with lo/hi.
fn composite_cond(ctx: &mut Ctx<'_>, parts: &[String]) -> String {
    let (last, head) = parts.split_last().map(|(l, h)| (l.as_str(), h)).unwrap_or(("", &[]));
    let num = strip_prefix(last).and_then(|(p, rest)| {
        let n = rest.split('|').next().unwrap_or(rest);
        lantern_fhir::search::parse_number(n).map(|(v, lo, hi)| (p, v, lo, hi))
    });
    match num {
        Some((p, v, lo, hi)) if !head.is_empty() => {
            let key = ctx.bind(head.join("$"));
            let c = number_cond(p, v, lo, hi);
            format!("(key = {key} AND {c})")
        }
        _ => format!("key = {}", ctx.bind(parts.join("$"))),
    }
}

fn strip_prefix(s: &str) -> Option<(Prefix, &str)> {
    let p = match s.get(..2)? {
        "eq" => Prefix::Eq,
        "ne" => Prefix::Ne,
        "gt" => Prefix::Gt,
        "lt" => Prefix::Lt,
        "ge" => Prefix::Ge,
        "le" => Prefix::Le,
        "sa" => Prefix::Sa,
        "eb" => Prefix::Eb,
        "ap" => Prefix::Ap,
        _ => return Some((Prefix::Eq, s)),
    };
    Some((p, &s[2..]))
}

/// What ends a probe's subquery so that it stays a probe. PostgreSQL flattens an `EXISTS` into a
/// semi-join it may drive the whole query from, and with a prepared statement's generic plan
/// (chosen without the values, after five runs) it did: `Observation?patient=X&code=C` read
/// every Observation of the code in the store and kept the patient's, 246 ms against 0.9 ms
/// with the probe kept per candidate row. `OFFSET 0` is PostgreSQL's fence against flattening.
/// SQLite keeps a correlated `EXISTS` per row anyway.
fn probe_fence(ctx: &Ctx<'_>) -> &'static str {
    match ctx.conn.dialect() {
        crate::conn::Dialect::Postgres => " OFFSET 0",
        crate::conn::Dialect::Sqlite => "",
    }
}
