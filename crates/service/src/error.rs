//! The service layer's error: what went wrong, in terms a transport can map to its own
//! vocabulary (HTTP status + OperationOutcome, or an HL7 ACK code + ERR segment).
use lantern_fhir::Issue;
use lantern_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request body is not acceptable FHIR (400), with the issues found.
    #[error("{}", first(.0))]
    BadRequest(Vec<Issue>),
    /// The resource type or operation is not supported here (404 for unknown types).
    #[error("{0}")]
    UnknownType(String),
    /// The interaction is not allowed on this target (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The access policy refuses the request (403), with the reason.
    #[error("{0}")]
    Forbidden(String),
}

fn first(v: &[Issue]) -> &str {
    v.first().map(|i| i.diagnostics.as_str()).unwrap_or("bad request")
}

impl Error {
    pub fn bad(code: &'static str, expression: Option<&str>, msg: impl Into<String>) -> Self {
        Error::BadRequest(vec![Issue::error(code, expression.map(str::to_string), msg)])
    }

    /// The issues this error carries, for an OperationOutcome.
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Error::BadRequest(v) => v.clone(),
            Error::Store(StoreError::Invalid(v)) | Error::Store(StoreError::Unprocessable(v)) => v.clone(),
            Error::Store(StoreError::NotFound(m)) => {
                vec![Issue::error("not-found", None, format!("{m} was not found"))]
            }
            Error::Store(StoreError::Gone(m)) => {
                vec![Issue::error("deleted", None, format!("{m} has been deleted"))]
            }
            Error::Store(e @ StoreError::VersionConflict { .. }) => {
                vec![Issue::error("conflict", None, e.to_string())]
            }
            Error::Store(StoreError::PreconditionFailed(m)) => {
                vec![Issue::error("conflict", None, m.clone())]
            }
            Error::Store(StoreError::Conflict(m)) => vec![Issue::error("conflict", None, m.clone())],
            Error::Store(StoreError::Forbidden(m)) => vec![Issue::error("forbidden", None, m.clone())],
            Error::Store(StoreError::TooCostly(m)) => vec![Issue::error("too-costly", None, m.clone())],
            // Internal detail stays in the logs.
            Error::Store(StoreError::Database(_)) => {
                vec![Issue::error(
                    "exception",
                    None,
                    "the server could not complete the request; it has been logged",
                )]
            }
            Error::Store(StoreError::Unavailable(_)) => {
                vec![Issue::error("transient", None, "the store is unavailable; try again")]
            }
            Error::UnknownType(m) => vec![Issue::error("not-supported", None, m.clone())],
            Error::MethodNotAllowed(m) => vec![Issue::error("not-supported", None, m.clone())],
            Error::Forbidden(m) => vec![Issue::error("forbidden", None, m.clone())],
        }
    }
}
