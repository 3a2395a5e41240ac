//! A FHIRPath engine for FHIR R4 JSON.

/// Parses `expression`, evaluates it against `resource` and returns the result collection as a
/// JSON array (the form fhirpath.js prints).
pub fn evaluate_to_json(expression: &str, resource: &serde_json::Value) -> Result<serde_json::Value, Error> {
    let _ = (expression, resource);
    Err(Error("not implemented yet".into()))
}

/// A parse or evaluation error.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Error {}
