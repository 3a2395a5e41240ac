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
    /// By resource type, then code: looked up by `&str` without building a key (the writer asks
    /// for every index row of every resource).
    params: HashMap<String, HashMap<String, i64>>,
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

/// The index rows that hold a parameter's values (see [`Catalog::param_rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRows {
    pub own: i64,
    shared: Option<Shares>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shares {
    /// Other parameters' rows hold values of this one too.
    Also(Vec<i64>),
    /// The reference rows of `base` that point at a `target` (an rtype id; `name` its name).
    Narrowed { base: i64, target: i64, name: &'static str },
}

impl ParamRows {
    /// Every parameter id whose rows hold values of this one, for parameters that are not
    /// narrowed references (whose rows need the target test of [`ParamRows::cond`] too).
    pub fn ids(&self) -> Option<Vec<i64>> {
        match &self.shared {
            None => Some(vec![self.own]),
            Some(Shares::Also(b)) => Some(std::iter::once(self.own).chain(b.iter().copied()).collect()),
            Some(Shares::Narrowed { .. }) => None,
        }
    }

    /// Every parameter id whose reference rows can point at a resource of the narrowed-to type,
    /// narrowed references included (their base's rows; the caller tests `ttype` itself).
    pub fn ref_ids(&self) -> Vec<i64> {
        match &self.shared {
            None => vec![self.own],
            Some(Shares::Also(b)) => std::iter::once(self.own).chain(b.iter().copied()).collect(),
            Some(Shares::Narrowed { base, .. }) => vec![self.own, *base],
        }
    }

    /// The condition on an index row (columns `param`, and `ttype`/`tid` for references,
    /// qualified by `q`, e.g. `x.`) that it holds a value of this parameter.
    pub fn cond(&self, q: &str) -> String {
        match &self.shared {
            None => format!("{q}param = {}", self.own),
            Some(Shares::Also(b)) => {
                let ids: Vec<String> =
                    std::iter::once(self.own).chain(b.iter().copied()).map(|i| i.to_string()).collect();
                format!("{q}param IN ({})", ids.join(", "))
            }
            // `IN` keeps the lookup one index range per id (an `OR` of whole conditions may
            // not be); the type test then applies to `base`'s rows only. An absolute URL
            // (ttype 0) is the target's if its path names the type.
            Some(Shares::Narrowed { base, target, name }) => format!(
                "({q}param IN ({own}, {base}) AND ({q}param = {own} OR {q}ttype = {target} \
                 OR ({q}ttype = 0 AND {q}tid LIKE '%/{name}/%')))",
                own = self.own
            ),
        }
    }

    /// The one parameter id whose rows hold every value, when there is one (an index walk
    /// in `rk` order needs a single range).
    pub fn single(&self) -> Option<i64> {
        self.shared.is_none().then_some(self.own)
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

/// The pseudo-parameter that holds a token parameter's identifiers by type, for `:of-type`.
pub fn of_type_param(code: &str) -> String {
    format!("{code}:of-type")
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
        let mut params: HashMap<String, HashMap<String, i64>> = HashMap::new();
        conn.query("SELECT id, rtype, code FROM sparam", &[], &mut |r| {
            params
                .entry(r.text(1)?.unwrap_or_default())
                .or_default()
                .insert(r.text(2)?.unwrap_or_default(), r.int(0)?.unwrap_or(0));
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
                    lantern_r4::SearchParamType::Token => {
                        codes.push(text_param(p.code));
                        codes.push(of_type_param(p.code));
                    }
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

    /// The id of the parameter's own index rows (what an indexer writes under).
    pub fn param_id(&self, rtype: &str, code: &str) -> Option<i64> {
        self.params.get(rtype)?.get(code).copied()
    }

    /// Where a search finds the values of `code` (or of its `:text`/`:identifier` pseudo-
    /// parameter): its own rows and, for a parameter that shares another's
    /// ([`lantern_r4::shared`]), that one's rows too. Stores written before sharing also
    /// hold the shared values under the parameter's own id; they are found all the same.
    pub fn param_rows(&self, rtype: &str, code: &str) -> Option<ParamRows> {
        let own = self.param_id(rtype, code)?;
        let (plain, suffix) = match code.split_once(':') {
            Some((p, s)) => (p, Some(s)),
            None => (code, None),
        };
        let shared = match lantern_r4::shared(rtype, plain) {
            Some(lantern_r4::Shared::Extends { bases, .. }) => {
                let ids = bases.iter().filter_map(|b| match suffix {
                    Some(s) => self.param_id(rtype, &format!("{b}:{s}")),
                    None => self.param_id(rtype, b),
                });
                Some(Shares::Also(ids.collect()))
            }
            // `Reference.identifier` rows say nothing of the target's type: a narrowing
            // parameter keeps its own.
            Some(lantern_r4::Shared::Narrows { base, target }) if suffix.is_none() => {
                match (self.param_id(rtype, base), self.type_id(target)) {
                    (Some(b), Some(t)) => Some(Shares::Narrowed { base: b, target: t, name: target }),
                    _ => None,
                }
            }
            _ => None,
        };
        Some(ParamRows { own, shared })
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
