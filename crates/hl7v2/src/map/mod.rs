// HL7 v2 to FHIR R4 — the message-level maps of the HL7 v2-to-FHIR implementation guide
// (http://hl7.org/fhir/uv/v2mappings, "Message" ConceptMaps), producing one transaction Bundle
// per message. See `messages.rs` for which message types are understood.

mod allergy;
mod appointment;
mod condition;
mod config;
pub(crate) mod context;
mod coverage;
mod datatypes;
mod datetime;
mod diagnostic_report;
mod document;
mod encounter;
mod immunization;
mod location;
mod medication;
mod merge;
mod messages;
mod observation;
mod patient;
mod practitioner;
mod related_person;
pub mod systems;
mod vocab;

pub use config::{ConfigError, FeedConfig, IdentifierRules, OrganisationConfig};
pub use datetime::LocalZone;
pub use merge::{BusinessIdentifier, MergeRequest};

use crate::issue::{ErrorCode, Issue, Location, MapIssue, Severity};
use crate::message::Message;
use serde_json::Value;

/// Why a message could not be mapped at all. Each becomes an AR or AE acknowledgement with an
/// ERR segment via [`MapError::to_issue`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The message type (MSH-9.1) is not one Lantern takes in.
    #[error("message type {0} is not supported")]
    UnsupportedMessageType(String),
    /// The trigger event (MSH-9.2) is not supported for its message type.
    #[error("trigger event {message_type}^{trigger} is not supported: {reason}")]
    UnsupportedEvent {
        /// MSH-9.1.
        message_type: String,
        /// MSH-9.2.
        trigger: String,
        /// Why.
        reason: &'static str,
    },
    /// A field without which nothing meaningful can be stored is missing.
    #[error("{segment}-{field}: {what}")]
    MissingField {
        /// Segment id.
        segment: String,
        /// Field number (0 = the whole segment).
        field: usize,
        /// What is missing.
        what: &'static str,
    },
    /// A segment without which nothing meaningful can be stored is missing.
    #[error("required segment {0} is missing")]
    MissingSegment(&'static str),
}

impl MapError {
    /// The ERR-ready issue for this error.
    pub fn to_issue(&self) -> Issue {
        let (code, location) = match self {
            MapError::UnsupportedMessageType(_) => {
                (ErrorCode::UnsupportedMessageType, Some(Location::field("MSH", 1, 9)))
            }
            MapError::UnsupportedEvent { .. } => {
                (ErrorCode::UnsupportedEventCode, Some(Location::field("MSH", 1, 9)))
            }
            MapError::MissingField { segment, field, .. } => {
                let seq = if segment == "MSH" { 1 } else { 0 };
                (ErrorCode::RequiredFieldMissing, Some(Location::field(segment, seq, *field)))
            }
            MapError::MissingSegment(s) => (ErrorCode::SegmentSequence, Some(Location::field(s, 0, 0))),
        };
        Issue::new(Severity::Error, code, location, self.to_string())
    }
}

/// The result of mapping one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// A FHIR R4 transaction Bundle (JSON) of conditional updates plus one Provenance.
    pub bundle: Value,
    /// For A40 (merge patient): what the identity layer should merge.
    pub merges: Vec<MergeRequest>,
}

/// Map one parsed message to FHIR with the feed's configuration.
pub fn map_message(message: &Message, config: &FeedConfig) -> Result<(Mapped, Vec<MapIssue>), MapError> {
    messages::map(message, config)
}
