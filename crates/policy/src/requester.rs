//! Who is asking, as the policy sees it. The server builds this from the verified token; the
//! policy crate does not know about tokens.
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequesterKind {
    /// A tool with system scopes: sees everything its scopes allow.
    System,
    /// A person working for an organisation.
    User,
    /// A patient looking at their own record.
    Patient,
    /// A source system sending data for its organisation.
    Feed,
}

/// Purpose of use, as HL7 v3 ActReason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Direct care (TREAT).
    Treatment,
    /// Emergency treatment (ETREAT): break-glass.
    Emergency,
    /// The patient's own request (PATRQT).
    PatientRequest,
    /// Operations, e.g. a privacy officer's review (HOPERAT).
    Operations,
    /// Research and other secondary use (HRESCH, PUBHLTH).
    Secondary,
}

impl Purpose {
    /// Parses a v3 ActReason code or one of Lantern's words.
    pub fn parse(s: &str) -> Option<Purpose> {
        Some(match s.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "TREAT" | "DIRECT-CARE" | "TREATMENT" => Purpose::Treatment,
            "ETREAT" | "EMERGENCY" | "BREAK-GLASS" | "BTG" => Purpose::Emergency,
            "PATRQT" | "PATIENT-ACCESS" | "PATIENT-REQUEST" => Purpose::PatientRequest,
            "HOPERAT" | "OPERATIONS" | "AUDIT" => Purpose::Operations,
            "HRESCH" | "PUBHLTH" | "SECONDARY-USE" | "RESEARCH" => Purpose::Secondary,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Purpose::Treatment => "TREAT",
            Purpose::Emergency => "ETREAT",
            Purpose::PatientRequest => "PATRQT",
            Purpose::Operations => "HOPERAT",
            Purpose::Secondary => "HRESCH",
        }
    }
}

/// A set of resource types (from scopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeSet {
    All,
    Only(BTreeSet<String>),
}

impl TypeSet {
    pub fn contains(&self, t: &str) -> bool {
        match self {
            TypeSet::All => true,
            TypeSet::Only(s) => s.contains(t),
        }
    }

    pub fn none() -> TypeSet {
        TypeSet::Only(BTreeSet::new())
    }
}

#[derive(Debug, Clone)]
pub struct Requester {
    pub kind: RequesterKind,
    /// The user id (or system/feed name).
    pub user: String,
    /// The organisation (ODS code) the user acts for.
    pub org: Option<String>,
    pub role: Option<String>,
    pub purpose: Purpose,
    /// For a patient: their logical Patient ids (every source record linked to them).
    pub patients: Vec<String>,
    /// Types the scopes allow reading (read or search).
    pub readable: TypeSet,
}

impl Requester {
    /// Full access, for tools and tests.
    pub fn system() -> Requester {
        Requester {
            kind: RequesterKind::System,
            user: "system".into(),
            org: None,
            role: None,
            purpose: Purpose::Operations,
            patients: Vec::new(),
            readable: TypeSet::All,
        }
    }

    /// A user of `org` in `role`, direct care, every type readable.
    pub fn user(user: &str, org: &str, role: &str) -> Requester {
        Requester {
            kind: RequesterKind::User,
            user: user.into(),
            org: Some(org.into()),
            role: Some(role.into()),
            purpose: Purpose::Treatment,
            patients: Vec::new(),
            readable: TypeSet::All,
        }
    }
}
