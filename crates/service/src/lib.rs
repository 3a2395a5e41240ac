//! FHIR interactions as transport-neutral services: the rules every entry point shares.
//!
//! HTTP handlers, the MLLP listener, `lantern import` and the demo all call these functions,
//! so preconditions (validation, ids, If-Match, conditional operations), transaction
//! semantics and the access filter hold the same way whichever way data arrives. Transports
//! only decode their input, call one function here, and encode the result.
//!
//! Invariant: nothing here knows HTTP; results are stored resources, bundles as JSON, and
//! [`Error`]s that each transport maps to its own vocabulary.
mod bundle;
pub mod capability;
mod crud;
mod document;
mod elements;
mod error;
mod everything;
mod export;
mod history;
mod lastn;
mod links;
mod meta_op;
mod parameters;
mod patch;
mod prepare;
mod reindex;
mod search;
mod stats;
mod summary;
mod terminology;
mod transaction;
mod translate;
mod validate_op;

pub use bundle::BundleText;
pub use crud::Created;
pub use elements::{apply_elements, apply_summary};
pub use error::Error;
pub use export::{ExportFiles, ExportRequest, DELETED_FILE};
pub use lantern_fhir::search::Handling;
pub use lantern_store::{AccessFilter, Stored, WriteKind, Written};
pub use meta_op::MetaChange;
pub use parameters::{primitive_value, read_parameters};
pub use reindex::ReindexStep;
pub use summary::IPS_COMPOSITION;

use lantern_fhir::index::Indexer;
use lantern_store::{Fact, Store, StoreError, WriteSession, WriteTx};
use serde_json::Value;
use std::sync::Arc;

/// Labels a resource on its way in (may add `meta.security`) and derives the facts about
/// patients it asserts: `(rtype, id, body, now) -> (sec bits, facts)`. Installed by the layer
/// that wires policy in; without one, nothing is labelled.
pub type Labeller = Arc<dyn Fn(&str, &str, &mut Value, i64) -> (i64, Vec<Fact>) + Send + Sync>;

/// Whether the caller may make a kind of write to a type.
pub type MayWrite = Arc<dyn Fn(&str, WriteKind) -> Result<(), String> + Send + Sync>;

/// Records the writes of one request inside the job that makes them, so a change and its audit
/// record commit together or not at all.
pub trait WriteAudit: Send + Sync {
    fn record(&self, tx: &mut WriteTx<'_>, action: &str, writes: &[AuditedWrite]) -> Result<(), StoreError>;
}

/// One write as the audit sees it.
#[derive(Debug, Clone)]
pub struct AuditedWrite {
    /// `Type/id/_history/version`.
    pub reference: String,
    pub patient: Option<String>,
}

impl AuditedWrite {
    pub fn of(s: &Stored) -> AuditedWrite {
        AuditedWrite {
            reference: format!("{}/{}/_history/{}", s.rtype, s.id, s.version),
            patient: s.patient.clone().or_else(|| (s.rtype == "Patient").then(|| s.id.clone())),
        }
    }
}

/// The FHIR service: a store plus the compiled search-parameter indexer.
#[derive(Clone)]
pub struct Fhir {
    pub store: Store,
    pub(crate) indexer: Arc<Indexer>,
    pub(crate) labeller: Option<Labeller>,
}

/// Per-request context: where the server is reachable (for fullUrls and links), what the
/// caller may see, and how to treat unknown search parameters.
#[derive(Clone)]
pub struct Ctx {
    /// The FHIR base URL, e.g. `http://127.0.0.1:8080/fhir`, no trailing slash.
    pub base: String,
    /// What the caller may see: compiled into every read and search.
    pub access: AccessFilter,
    pub handling: Handling,
    /// The organisation the caller writes for: written into each resource's organisation tag
    /// (replacing any other), and the only one whose records it may change. None for system
    /// callers, whose resources keep the tag they carry.
    pub org: Option<String>,
    pub may_write: Option<MayWrite>,
    pub audit: Option<Arc<dyn WriteAudit>>,
    /// Collects what the request returned, for the audit record the transport writes.
    pub seen: Option<Arc<std::sync::Mutex<Seen>>>,
}

/// What a request showed the caller: the resources (up to [`Seen::MAX_ENTITIES`]) and every
/// patient they concern.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub entities: Vec<String>,
    pub patients: std::collections::BTreeSet<String>,
    /// How many resources in all.
    pub count: usize,
    /// True once the request's writes were audited inside their job.
    pub writes_audited: bool,
}

impl Seen {
    pub const MAX_ENTITIES: usize = 200;
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("base", &self.base)
            .field("access", &self.access)
            .field("org", &self.org)
            .finish()
    }
}

impl Ctx {
    /// A context for tools and tests: full access, lenient handling.
    pub fn system(base: &str) -> Ctx {
        Ctx {
            base: base.trim_end_matches('/').to_string(),
            access: AccessFilter::All,
            handling: Handling::Lenient,
            org: None,
            may_write: None,
            audit: None,
            seen: None,
        }
    }

    /// Notes resources shown to the caller.
    pub(crate) fn saw<'a>(&self, items: impl IntoIterator<Item = &'a Stored>) {
        let Some(seen) = &self.seen else { return };
        let Ok(mut seen) = seen.lock() else { return };
        for s in items {
            seen.count += 1;
            if seen.entities.len() < Seen::MAX_ENTITIES {
                seen.entities.push(format!("{}/{}/_history/{}", s.rtype, s.id, s.version));
            }
            if let Some(p) = s.patient.clone().or_else(|| (s.rtype == "Patient").then(|| s.id.clone())) {
                seen.patients.insert(p);
            }
        }
    }

    /// What the store enforces on this caller's writes.
    pub(crate) fn session(&self) -> WriteSession {
        WriteSession { access: self.access.clone(), org: self.org.clone(), may: self.may_write.clone() }
    }

    /// Starts a write job for this caller.
    pub(crate) fn begin(&self, tx: &mut WriteTx<'_>) {
        tx.set_session(self.session());
    }

    /// Audits a job's writes inside the job.
    pub(crate) fn audit(
        &self,
        tx: &mut WriteTx<'_>,
        action: &str,
        writes: &[AuditedWrite],
    ) -> Result<(), StoreError> {
        match &self.audit {
            Some(a) if !writes.is_empty() => {
                a.record(tx, action, writes)?;
                if let Some(Ok(mut seen)) = self.seen.as_ref().map(|s| s.lock()) {
                    seen.writes_audited = true;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Fhir {
    pub fn new(store: Store) -> Fhir {
        Fhir { store, indexer: Arc::new(Indexer::new()), labeller: None }
    }

    /// Installs the labeller every write passes through (see [`Labeller`]).
    pub fn with_labeller(mut self, labeller: Labeller) -> Fhir {
        self.labeller = Some(labeller);
        self
    }
}

/// Parses an `If-Match` / ETag value (`W/"3"`, `"3"` or `3`) into a version number.
pub fn parse_etag(v: &str) -> Option<i64> {
    v.trim().trim_start_matches("W/").trim_matches('"').parse().ok()
}

/// The HTTP status for an error (R4 §3.1.0 "Interactions" status codes). This one table serves
/// the HTTP layer and the responses inside batch bundles alike.
///
/// | error | status |
/// |---|---|
/// | BadRequest, Store::Invalid | 400 |
/// | Forbidden | 403 |
/// | Store::NotFound, UnknownType | 404 |
/// | MethodNotAllowed | 405 |
/// | Store::Conflict | 409 |
/// | Store::Gone | 410 |
/// | Store::VersionConflict, Store::PreconditionFailed | 412 |
/// | Store::Unprocessable | 422 |
/// | Store::Database | 500 |
/// | Store::Unavailable | 503 |
pub fn error_status(e: &Error) -> u16 {
    use lantern_store::StoreError as S;
    match e {
        Error::BadRequest(_) | Error::Store(S::Invalid(_)) => 400,
        Error::Forbidden(_) | Error::Store(S::Forbidden(_)) => 403,
        Error::Store(S::NotFound(_)) | Error::UnknownType(_) => 404,
        Error::MethodNotAllowed(_) => 405,
        Error::Store(S::Conflict(_)) => 409,
        Error::Store(S::Gone(_)) => 410,
        Error::Store(S::VersionConflict { .. }) | Error::Store(S::PreconditionFailed(_)) => 412,
        Error::Store(S::Unprocessable(_)) => 422,
        Error::Store(S::TooCostly(_)) => 400,
        Error::Store(S::Database(_)) => 500,
        Error::Store(S::Unavailable(_)) => 503,
    }
}
