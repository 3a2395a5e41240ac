//! Encoding results as HTTP responses. The status for every service error comes from one
//! table (`lantern_service::error_status`); internal details never reach the client.
use super::request::{Return, Want};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lantern_fhir::{operation_outcome, Issue};
use lantern_service::Error;
use lantern_store::clock::format_http_date;
use lantern_store::Stored;
use serde_json::Value;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// A refused request: status plus an OperationOutcome.
#[derive(Debug)]
pub(crate) struct Fail {
    status: StatusCode,
    issues: Vec<Issue>,
}

impl Fail {
    pub(crate) fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Fail {
        Fail { status, issues: vec![Issue::error(code, None, msg)] }
    }

    pub(crate) fn with_issues(status: StatusCode, issues: Vec<Issue>) -> Fail {
        Fail { status, issues }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        if let Error::Store(lantern_store::StoreError::Database(m)) = &e {
            tracing::error!(error = %m, "database error");
        }
        Fail {
            status: StatusCode::from_u16(lantern_service::error_status(&e))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            issues: e.issues(),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, FHIR_JSON)], operation_outcome(&self.issues).to_string())
            .into_response()
    }
}

pub(crate) type Result<T> = std::result::Result<T, Fail>;

fn pretty(text: String, want: &Want) -> String {
    if !want.pretty {
        return text;
    }
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text)
}

/// A JSON body with the FHIR content type.
pub(crate) fn json(status: StatusCode, text: String, want: &Want) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], pretty(text, want)).into_response()
}

/// The answer to a `POST _search`: not to be cached, as the search's parameters are in a body
/// no cache keys on (R4 §3.1.1.1.1).
pub(crate) fn posted_search(text: String, want: &Want) -> Response {
    let mut r = json(StatusCode::OK, text, want);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn version_headers(h: &mut HeaderMap, s: &Stored) {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", s.version)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format_http_date(s.updated)) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

/// 304 Not Modified for a conditional read: no body, the same validators as a 200 would carry
/// (RFC 9110 §15.4.5), so that a cache can refresh what it holds.
pub(crate) fn not_modified(s: &Stored) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    version_headers(r.headers_mut(), s);
    r
}

/// A read: the resource with its ETag and Last-Modified.
pub(crate) fn resource(s: &Stored, body: String, want: &Want) -> Response {
    let mut r = json(StatusCode::OK, body, want);
    version_headers(r.headers_mut(), s);
    r
}

/// A write: 201 or 200 with Location, ETag, Last-Modified, and the body `Prefer` asks for.
pub(crate) fn written(s: &Stored, created: bool, base: &str, want: &Want) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut r = match want.ret {
        Return::Minimal => status.into_response(),
        Return::Representation => json(status, s.body.clone().unwrap_or_default(), want),
        Return::OperationOutcome => {
            let msg = format!(
                "{} {}/{} version {}",
                if created { "Created" } else { "Updated" },
                s.rtype,
                s.id,
                s.version
            );
            let oo = operation_outcome(&[Issue {
                severity: lantern_fhir::Severity::Information,
                code: "informational",
                expression: None,
                diagnostics: msg,
            }]);
            json(status, oo.to_string(), want)
        }
    };
    version_headers(r.headers_mut(), s);
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/{}/{}/_history/{}", s.rtype, s.id, s.version)) {
        r.headers_mut().insert(header::LOCATION, v.clone());
        r.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    r
}

/// A delete's answer: 200 with an OperationOutcome saying what happened.
pub(crate) fn deleted(what: &str, existed: bool, want: &Want) -> Response {
    let msg =
        if existed { format!("Deleted {what}") } else { format!("{what} did not exist; nothing to delete") };
    let oo = operation_outcome(&[Issue {
        severity: lantern_fhir::Severity::Information,
        code: "informational",
        expression: None,
        diagnostics: msg,
    }]);
    json(StatusCode::OK, oo.to_string(), want)
}

pub(crate) async fn not_found() -> Fail {
    Fail::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "there is nothing at this address; the FHIR API is under /fhir",
    )
}
