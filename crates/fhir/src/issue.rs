//! Issues found while handling FHIR input, and their OperationOutcome form.
//!
//! Every layer that checks input (validation, search parsing, the store) reports problems as
//! [`Issue`]s; the HTTP layer turns them into an OperationOutcome (FHIR R4 §2.1.0 "OperationOutcome").
use serde_json::{json, Value};

/// IssueSeverity (http://hl7.org/fhir/issue-severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// One problem: what kind (an IssueType code such as `invalid`, `structure`, `required`,
/// `value`, `not-found`, `conflict`, `not-supported`, `forbidden`), where (a FHIRPath-style
/// location such as `Patient.name[0].given[1]`) and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    /// IssueType code (http://hl7.org/fhir/issue-type).
    pub code: &'static str,
    pub expression: Option<String>,
    pub diagnostics: String,
}

impl Issue {
    pub fn error(
        code: &'static str,
        expression: impl Into<Option<String>>,
        diagnostics: impl Into<String>,
    ) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            expression: expression.into(),
            diagnostics: diagnostics.into(),
        }
    }

    pub fn warning(
        code: &'static str,
        expression: impl Into<Option<String>>,
        diagnostics: impl Into<String>,
    ) -> Self {
        Issue {
            severity: Severity::Warning,
            code,
            expression: expression.into(),
            diagnostics: diagnostics.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.severity, Severity::Error | Severity::Fatal)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "severity": self.severity.as_str(),
            "code": self.code,
            "diagnostics": self.diagnostics,
        });
        if let Some(e) = &self.expression {
            v["expression"] = json!([e]);
        }
        v
    }
}

/// An OperationOutcome resource holding `issues` (at least one issue is always present, as the
/// specification requires).
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let list: Vec<Value> = if issues.is_empty() {
        vec![Issue {
            severity: Severity::Information,
            code: "informational",
            expression: None,
            diagnostics: "All OK".into(),
        }
        .to_json()]
    } else {
        issues.iter().map(Issue::to_json).collect()
    };
    json!({ "resourceType": "OperationOutcome", "issue": list })
}
