//! Search-parameter indexing: turns a resource into the values its search parameters match
//! (FHIR R4 §3.1.1 "Search", §2.21.0 SearchParameter).
//!
//! The store writes these entries into one table per parameter type; the search compiler reads
//! them back. Values are normalised here, once, so that searches compare like with like:
//! strings lower-cased and stripped of accents, dates turned into the instant range they cover,
//! numbers and quantities into the range their precision implies.
mod extract;
pub mod normalise;

pub use extract::{extract, Indexer};

/// The version of the extraction: raised whenever the same resource would be given other index
/// rows than before, so that a store whose rows an older build made knows to re-index them
/// (`lantern_store::IndexState`). 2: identifiers' types, for `:of-type`.
pub const EXTRACTION_VERSION: i64 = 2;

/// Tag systems Lantern stamps on every resource to say where it came from.
pub const FEED_TAG_SYSTEM: &str = "https://lantern.health/feed";
pub const ORG_TAG_SYSTEM: &str = "https://lantern.health/organisation";

/// One value of one search parameter of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The parameter's code, e.g. `code`, `subject`, `_tag`.
    pub param: &'static str,
    pub value: IndexValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `norm` is the lower-cased, accent-free form searched by default and by `:contains`;
    /// `exact` the value as written, for `:exact`.
    String {
        norm: String,
        exact: String,
    },
    /// A coded value; `system` None means the code had no system.
    Token {
        system: Option<String>,
        code: String,
    },
    /// Display text of a token (Coding.display, CodeableConcept.text, Identifier.type.text),
    /// searched by `:text`.
    TokenText {
        norm: String,
    },
    /// A reference. `target_type` is the resource type for relative references (`Patient/1`),
    /// empty for absolute URLs, whose whole URL is in `target_id`.
    Reference {
        target_type: String,
        target_id: String,
    },
    /// `Reference.identifier`, searched by `:identifier`.
    ReferenceIdentifier {
        system: Option<String>,
        code: String,
    },
    /// An identifier's type and value, searched by `:of-type`: `system` is the type coding's,
    /// `code` is `type-code|value`.
    IdentifierOfType {
        system: Option<String>,
        code: String,
    },
    /// Instants in microseconds since the Unix epoch, both ends inclusive.
    Date {
        lo: i64,
        hi: i64,
    },
    /// The range a number's precision implies (`1.5` covers 1.45 to 1.55).
    Number {
        lo: f64,
        hi: f64,
    },
    Quantity {
        system: Option<String>,
        code: String,
        lo: f64,
        hi: f64,
    },
    Uri {
        value: String,
    },
    /// A composite parameter's components joined into one key; `lo`/`hi` carry the last
    /// component when it is a number, quantity or date so that prefixes work on it.
    Composite {
        key: String,
        lo: Option<f64>,
        hi: Option<f64>,
    },
}
