//! What the store hands back and takes in.
use lantern_fhir::index::IndexEntry;
use serde_json::Value;

/// One version of a resource as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    /// Microseconds since the Unix epoch.
    pub updated: i64,
    pub deleted: bool,
    /// The resource's JSON text with `meta.versionId` and `meta.lastUpdated` set; None when
    /// this version is a deletion.
    pub body: Option<String>,
    /// The patient whose compartment holds the resource (its current version's), for audit.
    pub patient: Option<String>,
}

/// Which interaction produced a version (kept in history as Bundle.entry.request.method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create = 1,
    Update = 2,
    Delete = 3,
}

impl Op {
    pub fn from_i64(v: i64) -> Op {
        match v {
            1 => Op::Create,
            3 => Op::Delete,
            _ => Op::Update,
        }
    }
}

/// A version written by a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub stored: Stored,
    /// True when this write created the resource (201 rather than 200).
    pub created: bool,
}

/// A new version to write. The caller has validated the resource and extracted its index
/// entries (outside the writer, so that work runs in parallel).
#[derive(Debug, Clone)]
pub struct Put {
    pub rtype: String,
    pub id: String,
    pub body: Value,
    pub index: Vec<IndexEntry>,
    /// `If-Match`: the version the client last saw.
    pub if_match: Option<i64>,
    /// Fail with a conflict if the resource already exists (create with a chosen id).
    pub create_only: bool,
    /// Security-label bits (see `AccessFilter::LabelsNone`), decided by the policy layer.
    pub sec: i64,
    /// Facts about patients this version asserts (a care relationship, an opt-out); they
    /// replace whatever the previous version asserted.
    pub facts: Vec<Fact>,
    /// Whether the caller reads the written version's body (`Written::stored.body`). When it
    /// does not (a transaction answered without representations, as feeds and bulk loads
    /// are), an update that changes nothing is answered without reading the stored version,
    /// and its `stored.body` is None.
    pub wants_body: bool,
    /// `body` serialised and compressed ahead, off the writer's thread
    /// ([`crate::PreparedBody::new`], which also normalises `body`). Whoever changes `body` or
    /// `id` afterwards sets this to None; the writer then prepares the body itself (and it
    /// does anyway if the ids differ).
    pub prepared: Option<crate::PreparedBody>,
}

/// A fact about a patient that the access filter reads (`patient_grant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub patient: String,
    /// An ODS code, `user:ID`, or `*` for everyone.
    pub subject: String,
    pub kind: String,
    pub since: Option<i64>,
    /// Microseconds; None: open-ended.
    pub until: Option<i64>,
}

/// The history of one resource, one type, or the whole system.
#[derive(Debug, Clone)]
pub enum HistoryScope {
    System,
    Type(String),
    Instance(String, String),
}

/// A history request: newest first, from an optional point in time, paged by sequence.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    /// Only versions at or after this instant (microseconds).
    pub since: Option<i64>,
    /// Only versions at or before this instant (`_at`-style upper bound).
    pub before: Option<i64>,
    /// Continue below this sequence number (paging).
    pub below_seq: Option<i64>,
    pub count: usize,
}

/// One entry of a history page.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub seq: i64,
    pub op: Op,
    pub stored: Stored,
}
