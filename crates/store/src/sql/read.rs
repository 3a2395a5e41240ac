//! Reads: current version, a given version, and history (FHIR R4 §3.1.0.1 read, §3.1.0.2
//! vread, §3.1.0.9 history). A deleted resource reads as `deleted` so the API can answer 410.
use crate::catalog::Catalog;
use crate::codec;
use crate::conn::{Conn, Row, SqlValue};
use crate::error::StoreError;
use crate::model::{HistoryEntry, HistoryQuery, HistoryScope, Op, Stored};

pub(crate) fn stored_from(r: &dyn Row, catalog: &Catalog, first: usize) -> Result<Stored, StoreError> {
    // Columns from `first`: type, id, ver, updated, op, body, patient
    let t = r.int(first)?.unwrap_or(0);
    let body = r.blob(first + 5)?;
    let op = Op::from_i64(r.int(first + 4)?.unwrap_or(0));
    let version = r.int(first + 2)?.unwrap_or(0);
    let updated = r.int(first + 3)?.unwrap_or(0);
    Ok(Stored {
        rtype: catalog.type_name(t).unwrap_or("").to_string(),
        id: r.text(first + 1)?.unwrap_or_default(),
        version,
        updated,
        deleted: op == Op::Delete,
        body: match body {
            Some(b) => Some(codec::decode(&b, version, updated)?),
            None => None,
        },
        patient: r.text(first + 6)?,
    })
}

pub fn read_current(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rtype: &str,
    id: &str,
) -> Result<Option<Stored>, StoreError> {
    let Some(t) = catalog.type_id(rtype) else { return Ok(None) };
    let mut out = None;
    conn.query(
        "SELECT r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient FROM resource r \
         JOIN version v ON v.rk = r.rk AND v.ver = r.ver WHERE r.type = ? AND r.id = ?",
        &[t.into(), id.into()],
        &mut |r| {
            out = Some(stored_from(r, catalog, 0)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// The current version and whether `access` lets the caller see it. With an unguarded fact
/// cache (call inside a read transaction: see [`crate::access::facts`]) the row is judged in
/// Rust from its patient's facts; otherwise by the filter's SQL in the same statement (a
/// guarded cache's facts may be of another snapshot than the row's).
pub fn read_current_as(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rtype: &str,
    id: &str,
    access: &crate::AccessFilter,
    facts: Option<&crate::access::FactCache>,
) -> Result<Option<(Stored, bool)>, StoreError> {
    let Some(t) = catalog.type_id(rtype) else { return Ok(None) };
    let Some(cache) = facts.filter(|c| access.probes_facts() && !c.is_guarded()) else {
        return read_current_as_sql(conn, catalog, t, id, access);
    };
    let mut out = None;
    conn.query(
        "SELECT r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient, r.org, r.sec FROM resource r \
         JOIN version v ON v.rk = r.rk AND v.ver = r.ver WHERE r.type = ? AND r.id = ?",
        &[t.into(), id.into()],
        &mut |r| {
            out = Some((stored_from(r, catalog, 0)?, r.text(7)?, r.int(8)?.unwrap_or(0)));
            Ok(())
        },
    )?;
    let Some((stored, org, sec)) = out else { return Ok(None) };
    let facts = match &stored.patient {
        Some(p) => cache.known(conn, std::slice::from_ref(p))?.facts.pop().unwrap_or_default(),
        None => Default::default(),
    };
    let row =
        crate::access::RowAccess { rtype: t, org: org.as_deref(), patient: stored.patient.as_deref(), sec };
    let visible = access.admits(&row, &facts);
    Ok(Some((stored, visible)))
}

fn read_current_as_sql(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    t: i64,
    id: &str,
    access: &crate::AccessFilter,
) -> Result<Option<(Stored, bool)>, StoreError> {
    let mut params: Vec<SqlValue> = Vec::new();
    let visible = access.to_sql("r", &mut params);
    params.push(t.into());
    params.push(id.into());
    let mut out = None;
    conn.query(
        &format!(
            "SELECT r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient, \
             CASE WHEN {visible} THEN 1 ELSE 0 END FROM resource r \
             JOIN version v ON v.rk = r.rk AND v.ver = r.ver WHERE r.type = ? AND r.id = ?"
        ),
        &params,
        &mut |r| {
            out = Some((stored_from(r, catalog, 0)?, r.int(7)?.unwrap_or(0) == 1));
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn read_version(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rtype: &str,
    id: &str,
    ver: i64,
) -> Result<Option<Stored>, StoreError> {
    let Some(t) = catalog.type_id(rtype) else { return Ok(None) };
    let mut out = None;
    conn.query(
        "SELECT r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient FROM resource r \
         JOIN version v ON v.rk = r.rk WHERE r.type = ? AND r.id = ? AND v.ver = ?",
        &[t.into(), id.into(), ver.into()],
        &mut |r| {
            out = Some(stored_from(r, catalog, 0)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Current versions of resources by key, in the order given (search results).
pub fn read_many(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    rks: &[i64],
) -> Result<Vec<(i64, Stored)>, StoreError> {
    let mut by_rk = std::collections::HashMap::with_capacity(rks.len());
    for chunk in rks.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT r.rk, r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient FROM resource r \
             JOIN version v ON v.rk = r.rk AND v.ver = r.ver WHERE r.rk IN ({marks})"
        );
        let params: Vec<SqlValue> = chunk.iter().map(|k| SqlValue::Int(*k)).collect();
        conn.query(&sql, &params, &mut |r| {
            by_rk.insert(r.int(0)?.unwrap_or(0), stored_from(r, catalog, 1)?);
            Ok(())
        })?;
    }
    Ok(rks.iter().filter_map(|k| by_rk.remove(k).map(|s| (*k, s))).collect())
}

/// A page of history, newest first. Returns the entries and the total number of versions in
/// scope (for Bundle.total).
pub fn history(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    q: &HistoryQuery,
    access: &crate::AccessFilter,
) -> Result<(Vec<HistoryEntry>, Option<i64>), StoreError> {
    let mut cond = vec!["1 = 1".to_string()];
    let mut params: Vec<SqlValue> = Vec::new();
    // The filter reads the resource row (who holds it, whose it is, its labels), so totals and
    // pages count only what the caller may see.
    if !access.is_all() {
        cond.push(access.to_sql("r", &mut params));
    }
    match &q.scope {
        HistoryScope::System => {}
        HistoryScope::Type(t) => {
            let Some(t) = catalog.type_id(t) else { return Ok((vec![], Some(0))) };
            cond.push("v.type = ?".into());
            params.push(t.into());
        }
        HistoryScope::Instance(t, id) => {
            let Some(t) = catalog.type_id(t) else { return Ok((vec![], Some(0))) };
            cond.push("v.rk = (SELECT rk FROM resource WHERE type = ? AND id = ?)".into());
            params.push(t.into());
            params.push(id.as_str().into());
        }
    }
    if let Some(s) = q.since {
        cond.push("v.updated >= ?".into());
        params.push(s.into());
    }
    if let Some(b) = q.before {
        cond.push("v.updated <= ?".into());
        params.push(b.into());
    }
    let where_ = cond.join(" AND ");
    let from = if access.is_all() { "version v" } else { "version v JOIN resource r ON r.rk = v.rk" };
    let total = conn.query_int(&format!("SELECT COUNT(*) FROM {from} WHERE {where_}"), &params)?;
    let mut page_params = params.clone();
    let mut page_where = where_.clone();
    if let Some(below) = q.below_seq {
        page_where.push_str(" AND v.seq < ?");
        page_params.push(below.into());
    }
    page_params.push((q.count as i64).into());
    let sql = format!(
        "SELECT v.seq, v.type, r.id, v.ver, v.updated, v.op, v.body, r.patient FROM version v \
         JOIN resource r ON r.rk = v.rk WHERE {page_where} ORDER BY v.seq DESC LIMIT ?"
    );
    let mut out = Vec::new();
    conn.query(&sql, &page_params, &mut |r| {
        let stored = stored_from(r, catalog, 1)?;
        let op = Op::from_i64(r.int(5)?.unwrap_or(0));
        out.push(HistoryEntry { seq: r.int(0)?.unwrap_or(0), op, stored });
        Ok(())
    })?;
    Ok((out, total))
}
