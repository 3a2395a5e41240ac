//! The write side of a transaction: create, update and delete with version checks (FHIR R4
//! §3.1.0.4 update, §3.1.0.5 delete, §3.1.0.6 "Managing Resource Contention").
//!
//! The version check is a compare-and-set on `resource.ver` inside the database transaction, so
//! no update is lost even with several writers (several API nodes on PostgreSQL).
use super::read;
use crate::catalog::{Catalog, Pending};
use crate::clock::Clock;
use crate::codec::{self, PreparedBody};
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::model::{Fact, Op, Put, Stored, Written};
use crate::sql::index_rows;
use lantern_fhir::index::{IndexEntry, IndexValue, ORG_TAG_SYSTEM};
use serde_json::Value;
use std::sync::Arc;

/// A write transaction in progress. Runs on the store's writer thread; everything it does
/// commits or rolls back together.
pub struct WriteTx<'a> {
    pub(crate) conn: &'a mut dyn Conn,
    pub(crate) catalog: &'a Catalog,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) pending: Pending,
    hooks: &'a [Arc<dyn WriteHook>],
    extensions: &'a [Extension],
    /// True while a hook runs: writes a hook makes do not call the hooks again.
    in_hook: bool,
    session: WriteSession,
}

/// Who a write job acts for: set by the service from the request before it writes, and
/// enforced here so that every write path (REST, bundles, feeds) obeys it. The default is a
/// system session that may do anything.
#[derive(Clone, Default)]
pub struct WriteSession {
    /// What conditional operations may see: a match the caller could not read is no match.
    pub access: crate::AccessFilter,
    /// The organisation the caller writes for: it may not change or delete another's records.
    pub org: Option<String>,
    /// Whether the caller may make a given kind of write to a type (scopes).
    pub may: Option<WriteCheck>,
}

/// Decides whether a kind of write to a resource type is allowed, with the reason if not.
pub type WriteCheck = Arc<dyn Fn(&str, WriteKind) -> Result<(), String> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
    Delete,
}

impl std::fmt::Debug for WriteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSession").field("access", &self.access).field("org", &self.org).finish()
    }
}

/// A value the wiring layer hands every write job, found by its type
/// ([`WriteTx::extension`]): e.g. the audit journal, which jobs that audit a write append to.
pub type Extension = Arc<dyn std::any::Any + Send + Sync>;

/// What is installed on a store and shared with its writer thread: the hooks run inside every
/// resource write, and the extensions.
#[derive(Clone)]
pub(crate) struct Installed {
    pub hooks: Arc<[Arc<dyn WriteHook>]>,
    pub extensions: Arc<[Extension]>,
}

pub(crate) type Hooks = Arc<parking_lot::RwLock<Installed>>;

impl Installed {
    pub(crate) fn none() -> Hooks {
        Arc::new(parking_lot::RwLock::new(Installed {
            hooks: Arc::from(Vec::new()),
            extensions: Arc::from(Vec::new()),
        }))
    }
}

/// Work that must commit or roll back with every resource write, whichever entry point made
/// it (HTTP, a transaction bundle, an HL7 v2 feed, an import): the patient index, for one.
/// Installed by the layer that wires the system together; the store knows nothing of what
/// the hooks do.
pub trait WriteHook: Send + Sync + 'static {
    fn after_write(&self, tx: &mut WriteTx<'_>, event: &WriteEvent<'_>) -> Result<(), StoreError>;
}

/// One version just written, as a hook sees it.
#[derive(Debug)]
pub struct WriteEvent<'a> {
    pub rtype: &'a str,
    pub id: &'a str,
    pub version: i64,
    /// The resource as stored (None for a deletion).
    pub body: Option<&'a Value>,
    pub created: bool,
}

/// The current row of a resource.
#[derive(Debug, Clone)]
pub struct Current {
    pub rk: i64,
    pub ver: i64,
    pub deleted: bool,
    pub updated: i64,
    /// The organisation holding it.
    pub org: Option<String>,
    /// Its security-label bits.
    pub sec: i64,
    /// The current version's content hash (see `content.rs`); None if deleted, never updated,
    /// or written before hashes were kept.
    pub chash: Option<Vec<u8>>,
}

impl<'a> WriteTx<'a> {
    pub(crate) fn new(
        conn: &'a mut dyn Conn,
        catalog: &'a Catalog,
        clock: &'a dyn Clock,
        hooks: &'a [Arc<dyn WriteHook>],
        extensions: &'a [Extension],
    ) -> WriteTx<'a> {
        WriteTx {
            conn,
            catalog,
            clock,
            pending: Pending::default(),
            hooks,
            extensions,
            in_hook: false,
            session: Default::default(),
        }
    }

    /// The installed extension of type `T`, if any (see [`crate::Store::add_extension`]).
    pub fn extension<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.extensions.iter().find_map(|e| e.clone().downcast::<T>().ok())
    }

    /// Acts for `session` from now on in this job.
    pub fn set_session(&mut self, session: WriteSession) {
        self.session = session;
    }

    pub fn session(&self) -> &WriteSession {
        &self.session
    }

    /// Refuses a write the session may not make. Hooks write on the system's behalf.
    fn guard(&self, rtype: &str, id: &str, kind: WriteKind, cur: Option<&Current>) -> Result<(), StoreError> {
        if self.in_hook {
            return Ok(());
        }
        if let Some(may) = &self.session.may {
            may(rtype, kind).map_err(StoreError::Forbidden)?;
        }
        if let (Some(mine), Some(c)) = (&self.session.org, cur) {
            if !c.deleted && c.org.as_deref().is_some_and(|o| o != mine) {
                return Err(StoreError::Forbidden(format!(
                    "{rtype}/{id} is held by {}; {mine} may not change or delete it",
                    c.org.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }

    /// The store's clock, in microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }

    fn run_hooks(&mut self, event: &WriteEvent<'_>) -> Result<(), StoreError> {
        if self.in_hook || self.hooks.is_empty() {
            return Ok(());
        }
        let hooks = self.hooks;
        self.in_hook = true;
        let r = hooks.iter().try_for_each(|h| h.after_write(self, event));
        self.in_hook = false;
        r
    }

    pub fn conn(&mut self) -> &mut dyn Conn {
        self.conn
    }

    pub fn catalog(&self) -> &Catalog {
        self.catalog
    }

    fn type_id(&self, rtype: &str) -> Result<i64, StoreError> {
        self.catalog.type_id(rtype).ok_or_else(|| {
            StoreError::invalid("not-supported", None, format!("'{rtype}' is not a FHIR R4 resource type"))
        })
    }

    pub fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Current>, StoreError> {
        let t = self.type_id(rtype)?;
        current(self.conn, t, id)
    }

    /// Reads the current version (deleted resources come back with `deleted` set).
    pub fn read(&mut self, rtype: &str, id: &str) -> Result<Option<Stored>, StoreError> {
        read::read_current(self.conn, self.catalog, rtype, id)
    }

    /// Ids of current resources matching a search, for conditional create/update/delete and
    /// conditional references; runs inside the transaction so the answer cannot go stale
    /// before the write that depends on it.
    pub fn search_ids(
        &mut self,
        req: &lantern_fhir::search::SearchRequest,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut req = req.clone();
        req.count = limit;
        req.total = lantern_fhir::search::TotalMode::None;
        req.include.clear();
        req.revinclude.clear();
        let now = self.clock.now_micros();
        let access = if self.in_hook { crate::AccessFilter::All } else { self.session.access.clone() };
        crate::search::search_ids(self.conn, self.catalog, &req, &access, now)
    }

    /// Writes a new version of a resource.
    pub fn put(&mut self, put: Put) -> Result<Written, StoreError> {
        let t = self.type_id(&put.rtype)?;
        let cur = current(self.conn, t, &put.id)?;
        let what = format!("{}/{}", put.rtype, put.id);
        let kind =
            if cur.as_ref().is_some_and(|c| !c.deleted) { WriteKind::Update } else { WriteKind::Create };
        self.guard(&put.rtype, &put.id, kind, cur.as_ref())?;
        if put.create_only && cur.as_ref().is_some_and(|c| !c.deleted) {
            return Err(StoreError::Conflict(format!("{what} already exists")));
        }
        if let Some(expected) = put.if_match {
            let actual = cur.as_ref().filter(|c| !c.deleted).map(|c| c.ver);
            if actual != Some(expected) {
                return Err(StoreError::VersionConflict {
                    what,
                    expected: expected.to_string(),
                    current: actual.map_or("none".into(), |v| v.to_string()),
                });
            }
        }
        // A create keeps no content hash: most resources are never updated, and a bulk load
        // should not pay for one. The first update of such a resource (or of one stored before
        // hashes were kept) compares the stored JSON instead, then keeps the hash.
        let live = cur.as_ref().filter(|c| !c.deleted);
        let chash = live.map(|_| crate::content::hash(&put.body, &put.id));
        if let (Some(c), Some(h)) = (live.filter(|c| c.sec == put.sec), &chash) {
            let stored = match &c.chash {
                Some(kept) if kept == h => Some(self.unchanged(c, &put, None)?),
                Some(_) => None,
                None => self.unchanged_by_json(c, &put, h)?,
            };
            if let Some(stored) = stored {
                return Ok(Written { stored, created: false });
            }
        }
        let ver = cur.as_ref().map_or(1, |c| c.ver + 1);
        let updated = self.clock.now_micros().max(cur.as_ref().map_or(i64::MIN, |c| c.updated + 1));
        let mut body = put.body;
        let prepared = match put.prepared.filter(|p| p.id() == put.id) {
            Some(p) => p,
            None => PreparedBody::new(&mut body, &put.id)?,
        };
        let text = prepared.text(ver, updated);
        let org = owning_org(&body);
        let patient = compartment_patient(&put.rtype, &put.id, &put.index);
        let patient_col = patient.clone();
        let rk = match cur {
            Some(ref c) => {
                let n = self.conn.execute(
                    "UPDATE resource SET ver = ?, deleted = 0, updated = ?, org = ?, patient = ?, sec = ?, \
                     chash = ? WHERE rk = ? AND ver = ?",
                    &[
                        ver.into(),
                        updated.into(),
                        org.into(),
                        patient.clone().into(),
                        put.sec.into(),
                        chash.clone().map(SqlValue::Blob).into(),
                        c.rk.into(),
                        c.ver.into(),
                    ],
                )?;
                if n != 1 {
                    return Err(StoreError::VersionConflict {
                        what,
                        expected: c.ver.to_string(),
                        current: "changed concurrently".into(),
                    });
                }
                index_rows::remove(self.conn, c.rk)?;
                c.rk
            }
            None => {
                let res = self.conn.insert_returning_key(
                    "INSERT INTO resource (type, id, ver, deleted, updated, org, patient, sec, chash) \
                     VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)",
                    &[
                        t.into(),
                        put.id.as_str().into(),
                        ver.into(),
                        updated.into(),
                        org.into(),
                        patient.into(),
                        put.sec.into(),
                        SqlValue::Null,
                    ],
                    "rk",
                );
                match res {
                    Ok(rk) => rk,
                    Err(StoreError::Database(m)) if m.to_lowercase().contains("unique") => {
                        return Err(StoreError::Conflict(format!("{what} was created concurrently")))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let op = if cur.is_none() { Op::Create } else { Op::Update };
        self.conn.execute(
            "INSERT INTO version (rk, ver, type, updated, op, body) VALUES (?, ?, ?, ?, ?, ?)",
            &[
                rk.into(),
                ver.into(),
                t.into(),
                updated.into(),
                (op as i64).into(),
                SqlValue::Blob(prepared.into_blob()),
            ],
        )?;
        index_rows::insert(self.conn, self.catalog, &mut self.pending, &put.rtype, rk, &put.index)?;
        // A resource seen for the first time has asserted nothing yet: skip the delete.
        if cur.is_some() || !put.facts.is_empty() {
            self.replace_facts(&what, &put.facts, cur.is_none())?;
        }
        let created = cur.as_ref().is_none_or(|c| c.deleted);
        self.run_hooks(&WriteEvent {
            rtype: &put.rtype,
            id: &put.id,
            version: ver,
            body: Some(&body),
            created,
        })?;
        Ok(Written {
            stored: Stored {
                rtype: put.rtype,
                id: put.id,
                version: ver,
                updated,
                deleted: false,
                body: Some(text),
                patient: patient_col,
            },
            created,
        })
    }

    /// The current version, which `put` would not change: an update that changes nothing
    /// makes no new version (as HAPI FHIR does). Feeds send the same Location, Practitioner and
    /// Organization with every message, and re-versioning them would bloat history, re-index
    /// them and cost the writer a full write each time. Content is compared as hashes
    /// (`content.rs`), so `meta.source` alone does not count as a change: the content still
    /// comes from the message that wrote it (each message's Provenance still names everything
    /// it touched). The body (`text`, if already read) is given only if the caller wants it.
    fn unchanged(&mut self, c: &Current, put: &Put, mut text: Option<String>) -> Result<Stored, StoreError> {
        if text.is_none() && put.wants_body {
            text = self.current_text(c)?;
        }
        let patient = compartment_patient(&put.rtype, &put.id, &put.index);
        Ok(Stored {
            rtype: put.rtype.clone(),
            id: put.id.clone(),
            version: c.ver,
            updated: c.updated,
            deleted: false,
            body: text,
            patient,
        })
    }

    /// As [`WriteTx::unchanged`], for a current version without a content hash: hashes the
    /// stored JSON, and if it is the same content keeps `hash` for the next update.
    fn unchanged_by_json(
        &mut self,
        c: &Current,
        put: &Put,
        hash: &[u8],
    ) -> Result<Option<Stored>, StoreError> {
        let Some(text) = self.current_text(c)? else { return Ok(None) };
        let Ok(old) = serde_json::from_str::<Value>(&text) else { return Ok(None) };
        if crate::content::hash(&old, &put.id) != hash {
            return Ok(None);
        }
        self.conn.execute(
            "UPDATE resource SET chash = ? WHERE rk = ?",
            &[SqlValue::Blob(hash.to_vec()), c.rk.into()],
        )?;
        self.unchanged(c, put, Some(text)).map(Some)
    }

    /// The JSON text of the current version `c`.
    fn current_text(&mut self, c: &Current) -> Result<Option<String>, StoreError> {
        let mut text = None;
        self.conn.query(
            "SELECT body FROM version WHERE rk = ? AND ver = ?",
            &[c.rk.into(), c.ver.into()],
            &mut |r| {
                text = r.blob(0)?.map(|b| codec::decode(&b, c.ver, c.updated)).transpose()?;
                Ok(())
            },
        )?;
        Ok(text)
    }

    /// Replaces every fact `source` asserted (a resource `Type/id`, `break-glass:N`, `admin:...`)
    /// with `facts`.
    pub fn replace_facts(&mut self, source: &str, facts: &[Fact], fresh: bool) -> Result<(), StoreError> {
        if !fresh {
            self.conn.execute("DELETE FROM patient_grant WHERE source = ?", &[source.into()])?;
        }
        for f in facts {
            // The same fact twice from one source (two identical participants) is one fact.
            let sql = match self.conn.dialect() {
                crate::conn::Dialect::Sqlite => {
                    "INSERT OR REPLACE INTO patient_grant (patient, subject, kind, source, since, until) \
                     VALUES (?, ?, ?, ?, ?, ?)"
                }
                crate::conn::Dialect::Postgres => {
                    "INSERT INTO patient_grant (patient, subject, kind, source, since, until) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (patient, subject, kind, source) \
                     DO UPDATE SET since = EXCLUDED.since, until = EXCLUDED.until"
                }
            };
            self.conn.execute(
                sql,
                &[
                    f.patient.as_str().into(),
                    f.subject.as_str().into(),
                    f.kind.as_str().into(),
                    source.into(),
                    f.since.into(),
                    f.until.into(),
                ],
            )?;
        }
        Ok(())
    }

    /// Deletes a resource, keeping its history. Deleting a missing or already deleted resource
    /// succeeds and changes nothing (R4 §3.1.0.5: delete is idempotent); returns None then.
    pub fn delete(
        &mut self,
        rtype: &str,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<Option<Stored>, StoreError> {
        let t = self.type_id(rtype)?;
        let cur = current(self.conn, t, id)?;
        let what = format!("{rtype}/{id}");
        if cur.as_ref().is_some_and(|c| !c.deleted) {
            self.guard(rtype, id, WriteKind::Delete, cur.as_ref())?;
        }
        if let Some(expected) = if_match {
            let actual = cur.as_ref().filter(|c| !c.deleted).map(|c| c.ver);
            if actual != Some(expected) {
                return Err(StoreError::VersionConflict {
                    what,
                    expected: expected.to_string(),
                    current: actual.map_or("none".into(), |v| v.to_string()),
                });
            }
        }
        let Some(c) = cur.as_ref().filter(|c| !c.deleted) else { return Ok(None) };
        let ver = c.ver + 1;
        let updated = self.clock.now_micros().max(c.updated + 1);
        let n = self.conn.execute(
            "UPDATE resource SET ver = ?, deleted = 1, updated = ?, chash = NULL WHERE rk = ? AND ver = ?",
            &[ver.into(), updated.into(), c.rk.into(), c.ver.into()],
        )?;
        if n != 1 {
            return Err(StoreError::VersionConflict {
                what,
                expected: c.ver.to_string(),
                current: "changed concurrently".into(),
            });
        }
        self.conn.execute(
            "INSERT INTO version (rk, ver, type, updated, op, body) VALUES (?, ?, ?, ?, ?, NULL)",
            &[c.rk.into(), ver.into(), t.into(), updated.into(), (Op::Delete as i64).into()],
        )?;
        index_rows::remove(self.conn, c.rk)?;
        self.replace_facts(&what, &[], false)?;
        self.run_hooks(&WriteEvent { rtype, id, version: ver, body: None, created: false })?;
        Ok(Some(Stored {
            rtype: rtype.into(),
            id: id.into(),
            version: ver,
            updated,
            deleted: true,
            body: None,
            patient: None,
        }))
    }
}

pub(crate) fn current(conn: &mut dyn Conn, t: i64, id: &str) -> Result<Option<Current>, StoreError> {
    let mut out = None;
    conn.query(
        "SELECT rk, ver, deleted, updated, org, sec, chash FROM resource WHERE type = ? AND id = ?",
        &[t.into(), id.into()],
        &mut |r| {
            out = Some(Current {
                rk: r.int(0)?.unwrap_or(0),
                ver: r.int(1)?.unwrap_or(0),
                deleted: r.int(2)?.unwrap_or(0) != 0,
                updated: r.int(3)?.unwrap_or(0),
                org: r.text(4)?,
                sec: r.int(5)?.unwrap_or(0),
                chash: r.blob(6)?,
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// The organisation that holds (is data controller for) the resource, from its Lantern tag.
fn owning_org(body: &Value) -> Option<String> {
    body.pointer("/meta/tag")?
        .as_array()?
        .iter()
        .find(|t| t.get("system").and_then(Value::as_str) == Some(ORG_TAG_SYSTEM))
        .and_then(|t| t.get("code")?.as_str().map(str::to_string))
}

/// The patient whose compartment holds the resource (R4 CompartmentDefinition "patient"); the
/// column the access filter and the future shard key use.
pub(crate) fn compartment_patient(rtype: &str, id: &str, index: &[IndexEntry]) -> Option<String> {
    if rtype == "Patient" {
        return Some(id.to_string());
    }
    // A compartment parameter that narrows another (`patient` is `subject` pointing at a
    // Patient) has no reference entries of its own: look at the other's.
    let params: Vec<&str> = lantern_r4::patient_compartment_params(rtype)
        .iter()
        .map(|p| match lantern_r4::shared(rtype, p) {
            Some(lantern_r4::Shared::Narrows { base, .. }) => *base,
            _ => *p,
        })
        .collect();
    index.iter().find_map(|e| match &e.value {
        IndexValue::Reference { target_type, target_id }
            if target_type == "Patient" && params.contains(&e.param) =>
        {
            Some(target_id.clone())
        }
        _ => None,
    })
}
