//! Access policy: who may see which of a patient's data, and why.
//!
//! Lantern decides access *before* the query runs, not after: a [`Requester`] (who, from which
//! organisation, in which role, for which purpose, with which scopes) and the configured
//! [`Policy`] compile into one [`AccessFilter`] that the store puts inside every SQL statement
//! it runs — matches, totals, chains, `_has`, includes, history and `$everything`. What the
//! filter withholds cannot leak through a count or a page boundary, because it was never
//! selected.
//!
//! The rules (see docs/architecture.md, "Access policy"):
//! * An organisation always sees the data it holds (it is the data controller).
//! * Reference data outside any patient's compartment (Organization, Practitioner, Location,
//!   Medication...) is visible to every authenticated user whose scopes allow the type.
//! * Another organisation's data about a patient is visible only when **all** hold:
//!   a data-sharing agreement lets that organisation share that category with the user's
//!   organisation (or its kind) for the request's purpose; the user's organisation has a current
//!   care relationship with the patient (or the user has broken the glass); the patient has not
//!   opted out (unless an exception applies); and it carries no legally restricted label.
//! * Patients see their own record (every source record linked to them).
//!
//! Care relationships and opt-outs are *facts* derived from the resources as they are written
//! ([`Policy::label`]): an Encounter gives its organisation a relationship until the end of
//! the stay plus a window; a GP practice's Patient record is a registration; an active
//! opt-out Consent is an opt-out. The store keeps them in `patient_grant`, so the filter probes
//! them per row through an index.
//!
//! [`explain`] answers the privacy officer's question — what would this user see of this
//! patient, and why — with the same rules evaluated in Rust, and a test checks that both
//! agree.
pub mod categories;
pub mod compile;
pub mod config;
pub mod explain;
pub mod facts;
pub mod labels;
pub mod requester;

pub use compile::Policy;
pub use config::PolicyConfig;
pub use requester::{Purpose, Requester, RequesterKind, TypeSet};

pub use lantern_store::AccessFilter;

/// Fact kinds in `patient_grant` (see [`facts`]).
pub mod kinds {
    pub const REGISTRATION: &str = "registration";
    pub const ENCOUNTER: &str = "encounter";
    pub const APPOINTMENT: &str = "appointment";
    pub const EPISODE: &str = "episode";
    pub const REFERRAL: &str = "referral";
    pub const CARE_TEAM: &str = "care-team";
    pub const EXPLICIT: &str = "explicit";
    pub const BREAK_GLASS: &str = "break-glass";
    pub const OPT_OUT: &str = "opt-out";

    /// The kinds that make a care relationship.
    pub const RELATIONSHIPS: &[&str] =
        &[REGISTRATION, ENCOUNTER, APPOINTMENT, EPISODE, REFERRAL, CARE_TEAM, EXPLICIT];
}

/// The `patient_grant.subject` of a user's break-glass.
pub fn user_subject(user: &str) -> String {
    format!("user:{user}")
}

/// The subject of facts that concern everyone (an opt-out).
pub const EVERYONE: &str = "*";
