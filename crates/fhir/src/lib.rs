//! FHIR R4 resources: validation, search-parameter indexing, search request parsing, OperationOutcome.
//!
//! Resources are handled as `serde_json::Value` in their JSON form: Lantern stores what it is
//! sent (after validation) and never round-trips it through a lossy typed model.
pub mod datetime;
#[cfg(test)]
mod examples;
pub mod fhirpath_patch;
pub mod index;
pub mod issue;
pub mod search;
pub mod validate;
pub mod xml;

pub use issue::{operation_outcome, Issue, Severity};
