// Problems found while reading or mapping a message, in the vocabulary of the ACK's ERR segment:
// HL7 v2.5+ chapter 2.14.5 (ERR), table 0357 (message error condition codes) and table 0516
// (error severity). Parser and mapper both report `Issue`s so the server can echo them verbatim.

use std::fmt;

/// HL7 table 0357 "Message error condition codes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ErrorCode {
    /// 0 — message accepted (used for informational notes).
    Accepted,
    /// 100 — segment sequence error.
    SegmentSequence,
    /// 101 — required field missing.
    RequiredFieldMissing,
    /// 102 — data type error.
    DataType,
    /// 103 — table value not found.
    TableValueNotFound,
    /// 200 — unsupported message type.
    UnsupportedMessageType,
    /// 201 — unsupported event code.
    UnsupportedEventCode,
    /// 202 — unsupported processing id.
    UnsupportedProcessingId,
    /// 203 — unsupported version id.
    UnsupportedVersionId,
    /// 207 — application internal error.
    ApplicationInternal,
}

impl ErrorCode {
    /// The numeric code from table 0357.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::Accepted => "0",
            ErrorCode::SegmentSequence => "100",
            ErrorCode::RequiredFieldMissing => "101",
            ErrorCode::DataType => "102",
            ErrorCode::TableValueNotFound => "103",
            ErrorCode::UnsupportedMessageType => "200",
            ErrorCode::UnsupportedEventCode => "201",
            ErrorCode::UnsupportedProcessingId => "202",
            ErrorCode::UnsupportedVersionId => "203",
            ErrorCode::ApplicationInternal => "207",
        }
    }

    /// The display text from table 0357.
    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::Accepted => "Message accepted",
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataType => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersionId => "Unsupported version id",
            ErrorCode::ApplicationInternal => "Application internal error",
        }
    }
}

/// HL7 table 0516 "Error severity".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Severity {
    /// E — the message (or part of it) could not be processed.
    Error,
    /// W — processed, but something was odd or dropped.
    Warning,
    /// I — informational.
    Information,
}

impl Severity {
    /// The code from table 0516.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
        }
    }
}

/// Where in the message an issue is (the ERL data type: segment, its 1-based occurrence in the
/// message, field, repetition, component, sub-component; zero means "not given").
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// Segment id, e.g. `PID`.
    pub segment: String,
    /// 1-based position of the segment among all segments of the message.
    pub sequence: usize,
    /// Field number (0 when the issue is about the whole segment).
    pub field: usize,
    /// Repetition (1-based, 0 = not given).
    pub repetition: usize,
    /// Component (1-based, 0 = not given).
    pub component: usize,
}

impl Location {
    /// A location naming a segment (and its sequence in the message) and a field.
    pub fn field(segment: &str, sequence: usize, field: usize) -> Self {
        Location { segment: segment.to_string(), sequence, field, ..Default::default() }
    }
}

/// One problem found in a message. The parser returns these as `ParseIssue`s, the mapper as
/// `MapIssue`s; the ACK builder turns each into an ERR segment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// The table 0357 condition.
    pub code: ErrorCode,
    /// Where, if known.
    pub location: Option<Location>,
    /// A human-readable explanation (never contains patient data beyond field positions).
    pub message: String,
}

/// An issue found while parsing.
pub type ParseIssue = Issue;
/// An issue found while mapping to FHIR.
pub type MapIssue = Issue;

impl Issue {
    /// A new issue.
    pub fn new(
        severity: Severity,
        code: ErrorCode,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Issue { severity, code, location, message: message.into() }
    }

    /// A warning with no specific location.
    pub fn warning(code: ErrorCode, message: impl Into<String>) -> Self {
        Issue::new(Severity::Warning, code, None, message)
    }

    /// An error with no specific location.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Issue::new(Severity::Error, code, None, message)
    }

    /// Attach a location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity.code(), self.code.code())?;
        if let Some(l) = &self.location {
            write!(f, " at {}[{}]", l.segment, l.sequence)?;
            if l.field > 0 {
                write!(f, "-{}", l.field)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}
