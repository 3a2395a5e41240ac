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
mod elements;
mod error;
mod everything;
mod history;
mod patch;
mod prepare;
mod search;
mod transaction;

pub use bundle::BundleText;
pub use crud::Created;
pub use elements::{apply_elements, apply_summary};
pub use error::Error;
pub use lantern_fhir::search::Handling;
pub use lantern_store::{AccessFilter, Stored, Written};

use lantern_fhir::index::Indexer;
use lantern_store::Store;
use std::sync::Arc;

/// The FHIR service: a store plus the compiled search-parameter indexer.
#[derive(Clone)]
pub struct Fhir {
    pub store: Store,
    pub(crate) indexer: Arc<Indexer>,
}

/// Per-request context: where the server is reachable (for fullUrls and links), what the
/// caller may see, and how to treat unknown search parameters.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The FHIR base URL, e.g. `http://127.0.0.1:8080/fhir`, no trailing slash.
    pub base: String,
    pub access: AccessFilter,
    pub handling: Handling,
}

impl Ctx {
    /// A context for tools and tests: full access, lenient handling.
    pub fn system(base: &str) -> Ctx {
        Ctx {
            base: base.trim_end_matches('/').to_string(),
            access: AccessFilter::All,
            handling: Handling::Lenient,
        }
    }
}

impl Fhir {
    pub fn new(store: Store) -> Fhir {
        Fhir { store, indexer: Arc::new(Indexer::new()) }
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
        Error::Forbidden(_) => 403,
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
