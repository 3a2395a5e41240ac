//! The store's one error type. The HTTP layer maps each variant to a status (see
//! `lantern-server`'s error table); nothing here knows about HTTP.
use lantern_fhir::Issue;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The resource does not exist (404).
    #[error("{0} was not found")]
    NotFound(String),
    /// The resource existed and was deleted (410).
    #[error("{0} has been deleted")]
    Gone(String),
    /// `If-Match` named a version that is not the current one (412).
    #[error("version conflict on {what}: expected version {expected}, current is {current}")]
    VersionConflict { what: String, expected: String, current: String },
    /// A precondition other than a version failed, e.g. a conditional update matching several
    /// resources (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request contradicts the store's state, e.g. a transaction creating the same id twice (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed JSON but not acceptable: bad search parameters, invalid
    /// resource (400 or 422, see the issues).
    #[error("{}", .0.first().map(|i| i.diagnostics.as_str()).unwrap_or("invalid request"))]
    Invalid(Vec<Issue>),
    /// The resource failed validation (422).
    #[error("{}", .0.first().map(|i| i.diagnostics.as_str()).unwrap_or("invalid resource"))]
    Unprocessable(Vec<Issue>),
    /// The caller may not make this write, e.g. change another organisation's record (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many matches or too costly to answer.
    #[error("{0}")]
    TooCostly(String),
    /// A database failure; the message is for logs, never for clients.
    #[error("database error: {0}")]
    Database(String),
    /// The store is shutting down or its writer is gone.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn db(e: impl std::fmt::Display) -> Self {
        StoreError::Database(e.to_string())
    }

    pub fn invalid(code: &'static str, expression: Option<String>, msg: impl Into<String>) -> Self {
        StoreError::Invalid(vec![Issue::error(code, expression, msg)])
    }
}
