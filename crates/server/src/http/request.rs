//! Decoding the FHIR-specific parts of an HTTP request (R4 §3.1.0.1-3.1.0.12: Prefer,
//! If-Match, If-None-Exist, `_format`, `_pretty`, content types).
use super::respond::Fail;
use axum::http::{HeaderMap, StatusCode, Uri};
use lantern_service::{Ctx, Handling};
use serde_json::Value;

/// What the client asked for in headers and format parameters.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub pretty: bool,
    pub ret: Return,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

fn prefer(headers: &HeaderMap, key: &str) -> Option<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
}

pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The base URL as the client sees it (honours X-Forwarded-Proto/Host from a proxy).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}/fhir")
}

const JSON_FORMATS: &[&str] =
    &["json", "application/json", "application/fhir+json", "fhir+json", "application/json+fhir", "text/json"];

/// Whether a `_format` value asks for a format Lantern speaks: JSON, or XML (which the XML
/// layer, `super::xml`, makes of the JSON handlers answer with). Clients often send
/// `application/fhir+json` unescaped, so form decoding turns its `+` into a space; a
/// parameter (`;charset=...`) is allowed.
fn known_format(v: &str) -> bool {
    let v = v.replace(' ', "+");
    let v = v.split(';').next().unwrap_or("").trim();
    JSON_FORMATS.contains(&v) || lantern_fhir::xml::is_xml_media_type(v)
}

/// Checks the requested format and builds the request context.
pub(crate) fn decode(headers: &HeaderMap, uri: &Uri) -> Result<(Ctx, Want), Fail> {
    decode_with(headers, uri, true)
}

/// As [`decode`], for a response that is not FHIR (a Binary served as itself): `Accept` is the
/// caller's business there.
pub(crate) fn decode_native(headers: &HeaderMap, uri: &Uri) -> Result<(Ctx, Want), Fail> {
    decode_with(headers, uri, false)
}

fn decode_with(headers: &HeaderMap, uri: &Uri, check_accept: bool) -> Result<(Ctx, Want), Fail> {
    let pairs = query_pairs(uri);
    let mut pretty = false;
    for (k, v) in &pairs {
        match k.as_str() {
            "_format" if !known_format(v) => {
                return Err(Fail::new(
                    StatusCode::NOT_ACCEPTABLE,
                    "not-supported",
                    format!("format '{v}' is not supported; Lantern speaks FHIR JSON and XML"),
                ));
            }
            "_pretty" => pretty = v == "true",
            _ => {}
        }
    }
    if let Some(accept) = headers.get("accept").and_then(|a| a.to_str().ok()).filter(|_| check_accept) {
        let ok = accept.split(',').any(|a| {
            let a = a.split(';').next().unwrap_or("").trim();
            a.is_empty()
                || a == "*/*"
                || a.contains("json")
                || a == "application/*"
                || a == "text/html"
                || a == "text/*"
        });
        if !ok {
            return Err(Fail::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-supported",
                format!("cannot produce '{accept}'; Lantern speaks application/fhir+json and application/fhir+xml"),
            ));
        }
    }
    let handling = match prefer(headers, "handling").as_deref() {
        Some("strict") => Handling::Strict,
        _ => Handling::Lenient,
    };
    let ret = match prefer(headers, "return").as_deref() {
        Some("minimal") => Return::Minimal,
        Some("OperationOutcome") => Return::OperationOutcome,
        _ => Return::Representation,
    };
    let mut ctx = caller_ctx(&base_url(headers));
    ctx.handling = handling;
    Ok((ctx, Want { pretty, ret }))
}

/// The service context of the current request's caller: its access filter, the organisation it
/// writes for, its scopes, the audit of its writes and the record of what it was shown. Without
/// trust (tests, embedding) it is the system context.
pub(crate) fn caller_ctx(base: &str) -> Ctx {
    let mut ctx = Ctx::system(base);
    if let Some(scope) = crate::trust::current() {
        let c = &scope.caller;
        // The caller may have been resolved a moment ago (see `trust::tokens`): the filter's
        // clock is this request's.
        ctx.access = c.access.clone();
        ctx.access.set_clock(scope.trust.fhir.store.now_micros());
        ctx.org = c.writes_for();
        ctx.may_write = Some(c.may_write());
        ctx.audit = Some(std::sync::Arc::new(crate::trust::JobAudit { caller: c.clone() }));
        ctx.seen = Some(scope.seen.clone());
    }
    ctx
}

/// Parses a JSON request body, refusing other content types (415) and bad JSON (400).
pub(crate) fn json_body(headers: &HeaderMap, body: &[u8], patch: bool) -> Result<Value, Fail> {
    if let Some(ct) = headers.get("content-type").and_then(|c| c.to_str().ok()) {
        let ct = ct.split(';').next().unwrap_or("").trim();
        let ok = matches!(
            ct,
            "application/fhir+json" | "application/json" | "application/json+fhir" | "text/json"
        ) || (patch && ct == "application/json-patch+json");
        if !ok {
            return Err(Fail::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                format!("content type '{ct}' is not supported; send application/fhir+json or application/fhir+xml"),
            ));
        }
    }
    if body.is_empty() {
        return Err(Fail::new(StatusCode::BAD_REQUEST, "required", "the request has no body"));
    }
    serde_json::from_slice(body).map_err(|e| {
        Fail::new(StatusCode::BAD_REQUEST, "structure", format!("the body is not valid JSON: {e}"))
    })
}

pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Fail> {
    match headers.get("if-match").and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(v) => lantern_service::parse_etag(v).map(Some).ok_or_else(|| {
            Fail::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("If-Match '{v}' is not a version ETag like W/\"3\""),
            )
        }),
    }
}

/// The parameters of a `POST _search` (R4 §3.1.1.1.1): the URL's query plus the form body, which
/// must be `application/x-www-form-urlencoded`.
pub(crate) fn search_form(
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<Vec<(String, String)>, Fail> {
    if let Some(ct) = headers.get("content-type").and_then(|c| c.to_str().ok()) {
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(Fail::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                "POST _search takes application/x-www-form-urlencoded parameters",
            ));
        }
    }
    let mut pairs = query_pairs(uri);
    pairs.extend(url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    Ok(pairs)
}
