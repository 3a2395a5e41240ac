//! Binary resources served and taken as themselves (R4 Binary, "Serving Binary Resources using
//! the RESTful API"): a read whose `Accept` asks for a non-FHIR type (a viewer wanting the PDF
//! of a discharge letter) gets the decoded content with the Binary's own content type, and a
//! create or update whose body is not FHIR JSON becomes a Binary holding that body. Everything
//! else about the request (the caller's access, the audit record, versions) is unchanged: only
//! the encoding at the edge differs.
use super::respond::{version_headers, Fail, Result};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use lantern_store::Stored;
use serde_json::{json, Value};

/// The header naming the resource whose access rules a Binary follows (`Binary.securityContext`).
const SECURITY_CONTEXT: &str = "x-security-context";

fn is_fhir_or_json(media: &str) -> bool {
    media.contains("json") || media.contains("fhir") || media == "*/*" || media.is_empty()
}

/// Whether a read of `rtype` should be answered with the raw content: a Binary, no `_format`,
/// and an `Accept` that names only non-FHIR types. `*/*` (what most HTTP libraries send when
/// told nothing) keeps the FHIR JSON, so a FHIR client is never surprised by raw bytes.
pub(crate) fn native_wanted(rtype: &str, headers: &HeaderMap, uri: &Uri) -> bool {
    if rtype != "Binary" || uri.query().is_some_and(|q| q.contains("_format=")) {
        return false;
    }
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else { return false };
    accept.split(',').all(|a| !is_fhir_or_json(a.split(';').next().unwrap_or("").trim()))
}

/// The Binary a create or update of `rtype` with a non-FHIR body stands for, if it is one:
/// its content type from `Content-Type`, the body base64-encoded, `id` for an update, and the
/// `X-Security-Context` header as its security context.
pub(crate) fn from_raw(rtype: &str, id: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok())?.trim();
    let media = ctype.split(';').next().unwrap_or("").trim();
    if rtype != "Binary" || media.is_empty() || is_fhir_or_json(media) {
        return None;
    }
    let mut b = json!({"resourceType": "Binary", "contentType": ctype});
    if let Some(id) = id {
        b["id"] = json!(id);
    }
    if let Some(sc) = headers.get(SECURITY_CONTEXT).and_then(|v| v.to_str().ok()) {
        b["securityContext"] = json!({"reference": sc.trim()});
    }
    if !body.is_empty() {
        b["data"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    }
    Some(b)
}

/// The stored Binary `st` as its own content, with its version headers.
pub(crate) fn respond(st: &Stored) -> Result<Response> {
    let b: Value = serde_json::from_str(st.body.as_deref().unwrap_or("{}")).map_err(|e| {
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", format!("stored Binary: {e}"))
    })?;
    let data = match b["data"].as_str() {
        // The validator lets line breaks through (as MIME-style senders wrap base64); the
        // decoder does not.
        Some(d) => base64::engine::general_purpose::STANDARD
            .decode(d.replace(char::is_whitespace, ""))
            .map_err(|e| {
                Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", format!("stored Binary data: {e}"))
            })?,
        None => Vec::new(),
    };
    let ctype = b["contentType"].as_str().unwrap_or("application/octet-stream");
    let mut r = (StatusCode::OK, data).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(ctype).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(v) = b["securityContext"]["reference"].as_str().and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert(SECURITY_CONTEXT, v);
    }
    version_headers(h, st);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_an_explicit_non_fhir_accept_on_a_binary_gets_raw_content() {
        let uri: Uri = "/fhir/Binary/1".parse().unwrap();
        let wants = |t: &str, accept: &str| native_wanted(t, &headers(&[("accept", accept)]), &uri);
        assert!(wants("Binary", "application/pdf"));
        assert!(wants("Binary", "image/*, application/pdf;q=0.5"));
        assert!(!wants("Binary", "*/*"));
        assert!(!wants("Binary", "application/pdf, */*;q=0.1"));
        assert!(!wants("Binary", "application/fhir+json"));
        assert!(!wants("Binary", "application/json"));
        assert!(!wants("DocumentReference", "application/pdf"));
        assert!(!native_wanted("Binary", &HeaderMap::new(), &uri));
        let fmt: Uri = "/fhir/Binary/1?_format=json".parse().unwrap();
        assert!(!native_wanted("Binary", &headers(&[("accept", "application/pdf")]), &fmt));
    }

    #[test]
    fn wrapped_base64_is_served_decoded() {
        let body = json!({"resourceType": "Binary", "contentType": "text/plain", "data": "aGVs\nbG8="});
        let st = Stored {
            rtype: "Binary".into(),
            id: "b".into(),
            version: 1,
            updated: 0,
            deleted: false,
            body: Some(body.to_string()),
            patient: None,
        };
        let r = respond(&st).unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
        let bytes = body_bytes(r);
        assert_eq!(bytes, b"hello");
    }

    fn body_bytes(r: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(axum::body::to_bytes(r.into_body(), 1 << 20)).unwrap().to_vec()
    }

    #[test]
    fn a_raw_body_becomes_a_binary_and_json_stays_json() {
        let h = headers(&[("content-type", "application/pdf"), ("x-security-context", "Patient/p1")]);
        let b = from_raw("Binary", Some("b1"), &h, b"%PDF-1.4").unwrap();
        assert_eq!(
            b,
            json!({"resourceType": "Binary", "id": "b1", "contentType": "application/pdf",
                   "securityContext": {"reference": "Patient/p1"}, "data": "JVBERi0xLjQ="})
        );
        assert!(
            from_raw("Binary", None, &headers(&[("content-type", "application/fhir+json")]), b"{}").is_none()
        );
        assert!(from_raw("Binary", None, &HeaderMap::new(), b"x").is_none());
        assert!(from_raw("Patient", None, &headers(&[("content-type", "text/plain")]), b"x").is_none());
    }
}
