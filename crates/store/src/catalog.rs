//! Small integer ids for resource types, search parameters and code systems, so that index rows
//! stay small (a param id is 1-2 bytes on disk; a system URI would be 20-60).
//!
//! Types and parameters come from the R4 definitions and are registered when the store opens.
//! Systems are interned as they arrive. An id created inside a write transaction becomes visible
//! to other threads only once that transaction commits ([`Pending`]), because a rolled-back id may
//! be handed out again by the database.
use crate::conn::Conn;
use crate::error::StoreError;
use parking_lot::RwLock;
use std::collections::HashMap;

pub struct Catalog {
    types: HashMap<String, i64>,
    type_names: HashMap<i64, String>,
    params: HashMap<(String, String), i64>,
    systems: RwLock<HashMap<String, i64>>,
}

/// Ids interned by a transaction that has not committed yet.
#[derive(Default)]
pub struct Pending {
    pub systems: HashMap<String, i64>,
}

impl Pending {
    pub fn absorb(&mut self, other: Pending) {
        self.systems.extend(other.systems);
    }
}

/// The pseudo-parameter that holds a token parameter's display text, for `:text`.
pub fn text_param(code: &str) -> String {
    format!("{code}:text")
}

/// The pseudo-parameter that holds a reference parameter's `Reference.identifier`, for
/// `:identifier`.
pub fn identifier_param(code: &str) -> String {
    format!("{code}:identifier")
}

impl Catalog {
    /// Registers every R4 resource type and search parameter (idempotent) and loads the ids.
    pub fn open(conn: &mut dyn Conn) -> Result<Catalog, StoreError> {
        conn.batch("BEGIN")?;
        let r = Self::register(conn);
        match r {
            Ok(()) => conn.batch("COMMIT")?,
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
        let mut types = HashMap::new();
        let mut type_names = HashMap::new();
        conn.query("SELECT id, name FROM rtype", &[], &mut |r| {
            let id = r.int(0)?.unwrap_or_default();
            let name = r.text(1)?.unwrap_or_default();
            types.insert(name.clone(), id);
            type_names.insert(id, name);
            Ok(())
        })?;
        let mut params = HashMap::new();
        conn.query("SELECT id, rtype, code FROM sparam", &[], &mut |r| {
            params.insert(
                (r.text(1)?.unwrap_or_default(), r.text(2)?.unwrap_or_default()),
                r.int(0)?.unwrap_or(0),
            );
            Ok(())
        })?;
        let mut systems = HashMap::new();
        conn.query("SELECT id, uri FROM system_uri", &[], &mut |r| {
            systems.insert(r.text(1)?.unwrap_or_default(), r.int(0)?.unwrap_or(0));
            Ok(())
        })?;
        Ok(Catalog { types, type_names, params, systems: RwLock::new(systems) })
    }

    fn register(conn: &mut dyn Conn) -> Result<(), StoreError> {
        let mut next_type = conn.query_int("SELECT MAX(id) FROM rtype", &[])?.unwrap_or(0) + 1;
        let mut have_types = std::collections::HashSet::new();
        conn.query("SELECT name FROM rtype", &[], &mut |r| {
            have_types.insert(r.text(0)?.unwrap_or_default());
            Ok(())
        })?;
        let mut have_params = std::collections::HashSet::new();
        conn.query("SELECT rtype, code FROM sparam", &[], &mut |r| {
            have_params.insert((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default()));
            Ok(())
        })?;
        let mut next_param = conn.query_int("SELECT MAX(id) FROM sparam", &[])?.unwrap_or(0) + 1;
        for &t in lantern_r4::resource_types() {
            if !have_types.contains(t) {
                conn.execute(
                    "INSERT INTO rtype (id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    &[next_type.into(), t.into()],
                )?;
                next_type += 1;
            }
            for p in lantern_r4::search_params(t) {
                let mut codes = vec![p.code.to_string()];
                match p.kind {
                    lantern_r4::SearchParamType::Token => codes.push(text_param(p.code)),
                    lantern_r4::SearchParamType::Reference => codes.push(identifier_param(p.code)),
                    _ => {}
                }
                for code in codes {
                    if !have_params.contains(&(t.to_string(), code.clone())) {
                        conn.execute(
                            "INSERT INTO sparam (id, rtype, code) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            &[next_param.into(), t.into(), code.into()],
                        )?;
                        next_param += 1;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn type_id(&self, name: &str) -> Option<i64> {
        self.types.get(name).copied()
    }

    pub fn type_name(&self, id: i64) -> Option<&str> {
        self.type_names.get(&id).map(String::as_str)
    }

    pub fn param_id(&self, rtype: &str, code: &str) -> Option<i64> {
        self.params.get(&(rtype.to_string(), code.to_string())).copied()
    }

    /// A system's id for searching: None if no resource ever used it (so nothing can match).
    pub fn system_id(&self, conn: &mut dyn Conn, uri: &str) -> Result<Option<i64>, StoreError> {
        if let Some(id) = self.systems.read().get(uri) {
            return Ok(Some(*id));
        }
        let id = conn.query_int("SELECT id FROM system_uri WHERE uri = ?", &[uri.into()])?;
        if let Some(id) = id {
            self.systems.write().insert(uri.to_string(), id);
        }
        Ok(id)
    }

    /// A system's id for writing, creating it inside the current transaction if new.
    pub fn intern_system(
        &self,
        conn: &mut dyn Conn,
        pending: &mut Pending,
        uri: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.systems.read().get(uri) {
            return Ok(*id);
        }
        if let Some(id) = pending.systems.get(uri) {
            return Ok(*id);
        }
        conn.execute("INSERT INTO system_uri (uri) VALUES (?) ON CONFLICT DO NOTHING", &[uri.into()])?;
        let id = conn
            .query_int("SELECT id FROM system_uri WHERE uri = ?", &[uri.into()])?
            .ok_or_else(|| StoreError::Database(format!("system {uri} vanished while interning")))?;
        pending.systems.insert(uri.to_string(), id);
        Ok(id)
    }

    /// Makes ids interned by a committed transaction visible to everyone.
    pub fn commit(&self, pending: Pending) {
        if !pending.systems.is_empty() {
            self.systems.write().extend(pending.systems);
        }
    }
}
