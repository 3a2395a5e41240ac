//! Writing and removing a resource's search-index rows (one table per parameter type, see
//! schema.rs). Rows go in as multi-row INSERTs of 1, 2, 4, 8 or 16 rows so that the set of
//! distinct statements stays small enough for the prepared-statement cache.
use crate::catalog::{identifier_param, of_type_param, text_param, Catalog, Pending};
use crate::conn::{Conn, Dialect, SqlValue};
use crate::error::StoreError;
use lantern_fhir::index::{IndexEntry, IndexValue};
use std::collections::HashMap;

/// Rows per INSERT, by dialect. SQLite: one — it gives a multi-row INSERT a statement journal
/// inside the writer's per-job SAVEPOINT, and truncating that in-memory journal after each
/// statement costs time proportional to everything the job has written so far (quadratic per
/// bundle); single-row INSERTs from cached statements need none. PostgreSQL: up to 16 — each
/// statement is a network round trip, and it has no such journal.
fn chunks(d: Dialect) -> &'static [usize] {
    match d {
        Dialect::Sqlite => &[1],
        Dialect::Postgres => &[16, 8, 4, 2, 1],
    }
}

const TABLES: [&str; 8] =
    ["ix_string", "ix_token", "ix_ref", "ix_date", "ix_number", "ix_quantity", "ix_uri", "ix_composite"];

/// Deletes every index row of a resource.
pub fn remove(conn: &mut dyn Conn, rk: i64) -> Result<(), StoreError> {
    for t in TABLES {
        conn.execute(&format!("DELETE FROM {t} WHERE rk = ?"), &[rk.into()])?;
    }
    Ok(())
}

struct Table {
    name: &'static str,
    cols: &'static str,
    width: usize,
    rows: Vec<SqlValue>,
}

impl Table {
    fn new(name: &'static str, cols: &'static str, width: usize) -> Self {
        Table { name, cols, width, rows: Vec::new() }
    }

    fn flush(&mut self, conn: &mut dyn Conn) -> Result<(), StoreError> {
        let mut rest: &[SqlValue] = &self.rows;
        while !rest.is_empty() {
            let n_rows = rest.len() / self.width;
            let chunk = chunks(conn.dialect()).iter().copied().find(|c| *c <= n_rows).unwrap_or(1);
            let (now, later) = rest.split_at(chunk * self.width);
            conn.execute(&self.insert_sql(chunk), now)?;
            rest = later;
        }
        self.rows.clear();
        Ok(())
    }

    /// The INSERT of `chunk` rows into this table. Made once per shape and kept: on SQLite every
    /// index row is a statement of its own, and formatting its text each time cost ~3% of the
    /// ingest writer's time (`perf`, BENCHMARKS.md).
    fn insert_sql(&self, chunk: usize) -> std::rc::Rc<str> {
        thread_local! {
            static TEXTS: std::cell::RefCell<HashMap<(&'static str, usize), std::rc::Rc<str>>> =
                std::cell::RefCell::new(HashMap::new());
        }
        TEXTS.with(|t| {
            t.borrow_mut()
                .entry((self.name, chunk))
                .or_insert_with(|| {
                    let one = format!("({})", vec!["?"; self.width].join(","));
                    let values = vec![one; chunk].join(",");
                    format!(
                        "INSERT INTO {} ({}) VALUES {values} ON CONFLICT DO NOTHING",
                        self.name, self.cols
                    )
                    .into()
                })
                .clone()
        })
    }
}

/// Inserts the index rows for `entries` of resource `rk` of type `rtype`.
pub fn insert(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    pending: &mut Pending,
    rtype: &str,
    rk: i64,
    entries: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut string = Table::new("ix_string", "param, norm, exact, rk", 4);
    let mut token = Table::new("ix_token", "param, code, sys, rk", 4);
    let mut reference = Table::new("ix_ref", "param, ttype, tid, rk", 4);
    let mut date = Table::new("ix_date", "param, lo, hi, rk", 4);
    let mut number = Table::new("ix_number", "param, lo, hi, rk", 4);
    let mut quantity = Table::new("ix_quantity", "param, sys, code, lo, hi, rk", 6);
    let mut uri = Table::new("ix_uri", "param, value, rk", 3);
    let mut composite = Table::new("ix_composite", "param, key, lo, hi, rk", 5);
    for e in entries {
        let param = match &e.value {
            IndexValue::TokenText { .. } => catalog.param_id(rtype, &text_param(e.param)),
            IndexValue::ReferenceIdentifier { .. } => catalog.param_id(rtype, &identifier_param(e.param)),
            IndexValue::IdentifierOfType { .. } => catalog.param_id(rtype, &of_type_param(e.param)),
            _ => catalog.param_id(rtype, e.param),
        };
        let Some(param) = param else { continue };
        let p = SqlValue::Int(param);
        let k = SqlValue::Int(rk);
        match &e.value {
            IndexValue::String { norm, exact } => {
                string.rows.extend([p, norm.as_str().into(), exact.as_str().into(), k])
            }
            IndexValue::TokenText { norm } => {
                string.rows.extend([p, norm.as_str().into(), norm.as_str().into(), k])
            }
            IndexValue::Token { system, code } => {
                let sys = match system {
                    Some(s) => catalog.intern_system(conn, pending, s)?,
                    None => 0,
                };
                token.rows.extend([p, code.as_str().into(), sys.into(), k])
            }
            IndexValue::Reference { target_type, target_id } => {
                let ttype = catalog.type_id(target_type).unwrap_or(0);
                reference.rows.extend([p, ttype.into(), target_id.as_str().into(), k])
            }
            IndexValue::ReferenceIdentifier { system, code }
            | IndexValue::IdentifierOfType { system, code } => {
                let sys = match system {
                    Some(s) => catalog.intern_system(conn, pending, s)?,
                    None => 0,
                };
                token.rows.extend([p, code.as_str().into(), sys.into(), k])
            }
            IndexValue::Date { lo, hi } => date.rows.extend([p, (*lo).into(), (*hi).into(), k]),
            IndexValue::Number { lo, hi } => number.rows.extend([p, (*lo).into(), (*hi).into(), k]),
            IndexValue::Quantity { system, code, lo, hi } => {
                let sys = match system {
                    Some(s) => catalog.intern_system(conn, pending, s)?,
                    None => 0,
                };
                quantity.rows.extend([p, sys.into(), code.as_str().into(), (*lo).into(), (*hi).into(), k])
            }
            IndexValue::Uri { value } => uri.rows.extend([p, value.as_str().into(), k]),
            IndexValue::Composite { key, lo, hi } => {
                composite.rows.extend([p, key.as_str().into(), (*lo).into(), (*hi).into(), k])
            }
        }
    }
    for t in [
        &mut string,
        &mut token,
        &mut reference,
        &mut date,
        &mut number,
        &mut quantity,
        &mut uri,
        &mut composite,
    ] {
        t.flush(conn)?;
    }
    Ok(())
}
