//! One audit record and its canonical text.
//!
//! The content follows ISO 27789 ("Health informatics — Audit trails for electronic health
//! records", §7 "Audit record content"): the event (what was done, when, with which outcome),
//! the user (who, in which role and organisation, for which purpose), the data subject (which
//! patients) and the data (which resources, or the query). [`Entry`] carries exactly that and
//! nothing a reviewer would not need: never a resource body.
//!
//! Canonical text: [`Entry::canonical`] is `serde_json` of the struct — fields in declaration
//! order, empty optional fields left out, no insignificant whitespace. That text is stored
//! verbatim in `audit.record` and hashed byte for byte, so verification never re-serialises
//! (a later Lantern may add fields without invalidating older records).
use lantern_store::StoreError;
use serde::{Deserialize, Serialize};

/// Most resource references one record names. A search page, `$everything` page or export
/// larger than this records the first `MAX_ENTITIES` and the number of the rest in
/// [`Entry::more_entities`]; the query, recorded too, says what was asked. Bounded so that a
/// 1,000-entry page does not make a 40 KB audit record (and the appends stay cheap).
pub const MAX_ENTITIES: usize = 100;

/// What happened. Serialised as kebab-case (`login-failed`, `break-glass`, …), the text the
/// `audit.action` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Read,
    Vread,
    Search,
    History,
    Everything,
    Create,
    Update,
    Patch,
    Delete,
    Transaction,
    Batch,
    /// Another FHIR operation (`$match`, …).
    Operation,
    Export,
    Login,
    LoginFailed,
    Logout,
    /// A refusal not attached to one interaction (an interaction that was refused is recorded
    /// as that interaction with a `refused` outcome).
    Refusal,
    BreakGlass,
    BreakGlassReview,
    IdentityLink,
    IdentityUnlink,
    IdentityMerge,
    IdentityUnmerge,
    IdentityReview,
    ConsentChange,
    PolicyExplain,
    AuditRead,
    FeedMessage,
    /// A resource sent to a subscriber (a FHIR Subscription's notification): a disclosure to
    /// the Subscription's owner.
    Notification,
    /// An action this build does not know (written by a newer Lantern).
    #[serde(other)]
    Other,
}

impl Action {
    /// The kebab-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            Read => "read",
            Vread => "vread",
            Search => "search",
            History => "history",
            Everything => "everything",
            Create => "create",
            Update => "update",
            Patch => "patch",
            Delete => "delete",
            Transaction => "transaction",
            Batch => "batch",
            Operation => "operation",
            Export => "export",
            Login => "login",
            LoginFailed => "login-failed",
            Logout => "logout",
            Refusal => "refusal",
            BreakGlass => "break-glass",
            BreakGlassReview => "break-glass-review",
            IdentityLink => "identity-link",
            IdentityUnlink => "identity-unlink",
            IdentityMerge => "identity-merge",
            IdentityUnmerge => "identity-unmerge",
            IdentityReview => "identity-review",
            ConsentChange => "consent-change",
            PolicyExplain => "policy-explain",
            AuditRead => "audit-read",
            FeedMessage => "feed-message",
            Notification => "notification",
            Other => "other",
        }
    }

    /// Every action, for tests and documentation.
    pub const ALL: [Action; 30] = {
        use Action::*;
        [
            Read,
            Vread,
            Search,
            History,
            Everything,
            Create,
            Update,
            Patch,
            Delete,
            Transaction,
            Batch,
            Operation,
            Export,
            Login,
            LoginFailed,
            Logout,
            Refusal,
            BreakGlass,
            BreakGlassReview,
            IdentityLink,
            IdentityUnlink,
            IdentityMerge,
            IdentityUnmerge,
            IdentityReview,
            ConsentChange,
            PolicyExplain,
            AuditRead,
            FeedMessage,
            Notification,
            Other,
        ]
    };
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Success,
    /// Policy said no (403, or a hidden 404).
    Refused,
    /// Something went wrong (a 4xx other than a refusal, a 5xx).
    Failed,
}

impl OutcomeKind {
    /// The text the `audit.outcome` column holds.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::Refused => "refused",
            OutcomeKind::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub result: OutcomeKind,
    /// The HTTP status answered, if the action was an HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it was refused or failed, in words (never patient data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Outcome {
    pub fn success() -> Outcome {
        Outcome { result: OutcomeKind::Success, status: None, reason: None }
    }

    pub fn refused(status: u16, reason: impl Into<String>) -> Outcome {
        Outcome { result: OutcomeKind::Refused, status: Some(status), reason: Some(reason.into()) }
    }

    pub fn failed(status: u16, reason: impl Into<String>) -> Outcome {
        Outcome { result: OutcomeKind::Failed, status: Some(status), reason: Some(reason.into()) }
    }

    pub fn with_status(mut self, status: u16) -> Outcome {
        self.status = Some(status);
        self
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentKind {
    /// A member of staff with a login.
    User,
    /// Lantern itself or a system client (a bulk export job, a notification sender).
    System,
    /// A patient with a patient token (possibly a proxy acting for them).
    Patient,
    /// A source system sending data through a feed.
    Feed,
    /// An unauthenticated caller (a failed login, a refused request without a token).
    Anonymous,
}

/// The acting party: ISO 27789 §7.3 "user" (identity, role, organisation, purpose of use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub kind: AgentKind,
    /// The user's stable id (the token's subject), or the feed or system client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Display name, as the patient will read it ("Dr A Jones").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// ODS code of the user's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Purpose of use: `direct-care`, `emergency`, `patient-access`, `secondary-use`, or a
    /// v3 ActReason code (see [`crate::audit_event`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// For a patient agent: the logical Patient id the token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The token's id (`jti`), to tie records to one session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The client's network address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Agent {
    fn of(kind: AgentKind) -> Agent {
        Agent {
            kind,
            user: None,
            name: None,
            role: None,
            org: None,
            purpose: None,
            patient: None,
            token_id: None,
            address: None,
        }
    }

    /// A member of staff.
    pub fn user(user: impl Into<String>, role: Option<String>, org: Option<String>) -> Agent {
        Agent { user: Some(user.into()), role, org, ..Agent::of(AgentKind::User) }
    }

    /// A patient acting on their own record (or a proxy acting for them: set `user`).
    pub fn patient(patient_id: &str) -> Agent {
        Agent { patient: Some(patient_ref(patient_id)), ..Agent::of(AgentKind::Patient) }
    }

    /// Lantern itself or a system client.
    pub fn system(id: impl Into<String>) -> Agent {
        Agent { user: Some(id.into()), ..Agent::of(AgentKind::System) }
    }

    /// A feed of organisation `org`.
    pub fn feed(feed_id: impl Into<String>, org: Option<String>) -> Agent {
        Agent { user: Some(feed_id.into()), org, ..Agent::of(AgentKind::Feed) }
    }

    /// An unauthenticated caller.
    pub fn anonymous(address: Option<String>) -> Agent {
        Agent { address, ..Agent::of(AgentKind::Anonymous) }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Agent {
        self.name = Some(name.into());
        self
    }

    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Agent {
        self.purpose = Some(purpose.into());
        self
    }

    pub fn with_token(mut self, token_id: impl Into<String>) -> Agent {
        self.token_id = Some(token_id.into());
        self
    }

    pub fn with_address(mut self, address: impl Into<String>) -> Agent {
        self.address = Some(address.into());
        self
    }
}

/// One audit record. Build with [`Entry::new`] and the `with_*`/`patient`/`entity` methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When it happened, in microseconds since the Unix epoch; 0 means "now": [`crate::append`]
    /// fills it from the store's clock.
    pub at: i64,
    pub action: Action,
    pub outcome: Outcome,
    pub agent: Agent,
    /// Logical ids of the Patients the action concerned (no `Patient/` prefix, no repeats).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients: Vec<String>,
    /// Resources read, returned or written (`Observation/123/_history/2`), at most
    /// [`MAX_ENTITIES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<String>,
    /// How many further resources were not listed in `entities`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_entities: u64,
    /// The request line or query of a search (`GET /fhir/Observation?code=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Free text: a break-glass reason, a review decision, an identity decision's evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The access was made under break-glass.
    #[serde(default, skip_serializing_if = "is_false")]
    pub break_glass: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `Patient/123` → `123`.
fn patient_ref(id: &str) -> String {
    id.strip_prefix("Patient/").unwrap_or(id).to_string()
}

impl Entry {
    /// A successful `action` by `agent`, happening now.
    pub fn new(action: Action, agent: Agent) -> Entry {
        Entry {
            at: 0,
            action,
            outcome: Outcome::success(),
            agent,
            patients: Vec::new(),
            entities: Vec::new(),
            more_entities: 0,
            query: None,
            detail: None,
            break_glass: false,
        }
    }

    pub fn at(mut self, micros: i64) -> Entry {
        self.at = micros;
        self
    }

    pub fn with_outcome(mut self, outcome: Outcome) -> Entry {
        self.outcome = outcome;
        self
    }

    /// Adds a patient the action concerned (`123` or `Patient/123`); repeats are ignored.
    pub fn patient(mut self, id: &str) -> Entry {
        let id = patient_ref(id);
        if !self.patients.contains(&id) {
            self.patients.push(id);
        }
        self
    }

    pub fn patients<I: IntoIterator<Item = S>, S: AsRef<str>>(self, ids: I) -> Entry {
        ids.into_iter().fold(self, |e, id| e.patient(id.as_ref()))
    }

    /// Adds a resource (`Type/id` or `Type/id/_history/v`); past [`MAX_ENTITIES`] only counts it.
    pub fn entity(mut self, reference: impl Into<String>) -> Entry {
        if self.entities.len() < MAX_ENTITIES {
            self.entities.push(reference.into());
        } else {
            self.more_entities += 1;
        }
        self
    }

    pub fn entities<I: IntoIterator<Item = S>, S: Into<String>>(self, refs: I) -> Entry {
        refs.into_iter().fold(self, |e, r| e.entity(r))
    }

    pub fn with_query(mut self, query: impl Into<String>) -> Entry {
        self.query = Some(query.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_break_glass(mut self, on: bool) -> Entry {
        self.break_glass = on;
        self
    }

    /// The canonical text that is stored and hashed.
    pub fn canonical(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(StoreError::db)
    }

    /// Parses a stored record.
    pub fn parse(record: &str) -> Result<Entry, StoreError> {
        serde_json::from_str(record).map_err(|e| StoreError::Database(format!("audit record: {e}")))
    }

    /// The patients as stored in `audit_patient`: distinct, sorted.
    pub(crate) fn patient_rows(patients: &[String]) -> Vec<&str> {
        let mut v: Vec<&str> = patients.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The parts of a stored record that are copied into indexed columns, read leniently (actions
/// as text) so that records written by a newer Lantern still verify.
#[derive(Debug, Deserialize)]
pub(crate) struct Indexed {
    pub(crate) at: i64,
    pub(crate) action: String,
    pub(crate) outcome: IndexedOutcome,
    pub(crate) agent: IndexedAgent,
    #[serde(default)]
    pub(crate) patients: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IndexedOutcome {
    pub(crate) result: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IndexedAgent {
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) org: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_is_compact_and_ordered() {
        let e = Entry::new(Action::LoginFailed, Agent::anonymous(Some("10.0.0.1".into())))
            .at(5)
            .with_outcome(Outcome::refused(401, "bad password"));
        assert_eq!(
            e.canonical().unwrap(),
            r#"{"at":5,"action":"login-failed","outcome":{"result":"refused","status":401,"reason":"bad password"},"agent":{"kind":"anonymous","address":"10.0.0.1"}}"#
        );
    }

    #[test]
    fn action_names_match_serde() {
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!(a.as_str()));
        }
        let unknown: Action = serde_json::from_str("\"teleport\"").unwrap();
        assert_eq!(unknown, Action::Other);
    }

    #[test]
    fn entities_are_capped_and_counted() {
        let e = Entry::new(Action::Search, Agent::system("t"))
            .entities((0..MAX_ENTITIES + 7).map(|i| format!("Observation/{i}")));
        assert_eq!(e.entities.len(), MAX_ENTITIES);
        assert_eq!(e.more_entities, 7);
        let back = Entry::parse(&e.canonical().unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn patients_are_logical_ids_without_repeats() {
        let e = Entry::new(Action::Read, Agent::system("t")).patients(["Patient/p1", "p1", "p2"]);
        assert_eq!(e.patients, vec!["p1", "p2"]);
    }
}
