//! FHIR XML (R4 §2.6.1) at the edge of the FHIR API: a request body in XML is read into JSON
//! before any handler sees it, and when the client asks for XML (`_format`, else `Accept`) a
//! FHIR JSON response is written as XML on its way out. Everything between (validation,
//! search, trust, audit) works on JSON only, as it does for JSON clients; the mapping itself
//! is `lantern_fhir::xml`.
//!
//! Two layers, because the two halves belong on either side of the trust guard:
//! [`with_xml_answers`] outside it and outside the error rewriting, so that a 401, a 403 and
//! every other OperationOutcome reach an XML client in XML too; [`with_xml_bodies`] inside it,
//! so that nobody can make the server parse a body before showing a valid token. Together
//! they cost a JSON client one look at `_format` and two headers.
use super::plain_errors::body_too_large;
use super::request::query_pairs;
use super::respond::Fail;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use lantern_fhir::xml::{self, is_xml_media_type};
use lantern_fhir::Issue;

const FHIR_XML: &str = "application/fhir+xml; charset=utf-8";

/// Answers in XML when asked, for every route under `/fhir` (see `wants_xml`).
pub fn with_xml_answers(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(answers))
}

/// Reads XML request bodies of at most `max_body` bytes into JSON, for every route under
/// `/fhir`.
pub fn with_xml_bodies(app: Router, max_body: usize) -> Router {
    app.layer(axum::middleware::from_fn_with_state(max_body, bodies))
}

/// Whether the response should be XML: `_format` decides if given (R4 §3.1.0.1.8), else the
/// `Accept` header's most preferred of XML and JSON. A tie goes to JSON, Lantern's own form:
/// clients that take either (HAPI's sends both at q=1) are served JSON, as a browser is,
/// whose `text/html` outranks its `application/xml`.
fn wants_xml(headers: &HeaderMap, uri: &Uri) -> bool {
    if uri.query().is_some_and(|q| q.contains("_format")) {
        if let Some((_, f)) = query_pairs(uri).into_iter().find(|(k, _)| k == "_format") {
            return is_xml_media_type(&f);
        }
    }
    let (mut xml, mut other) = (0.0f32, 0.0f32);
    for accept in headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()) {
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if is_xml_media_type(media) {
                xml = xml.max(q);
            } else if media.contains("json")
                || matches!(media, "*/*" | "application/*" | "text/*" | "text/html")
            {
                other = other.max(q);
            }
        }
    }
    xml > 0.0 && xml > other
}

async fn answers(mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/fhir") || !wants_xml(req.headers(), req.uri()) {
        return next.run(req).await;
    }
    let pretty = query_pairs(req.uri()).iter().any(|(k, v)| k == "_pretty" && v == "true");
    // The handlers speak JSON; this layer makes it XML.
    req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/fhir+json"));
    answer(next.run(req).await, pretty).await
}

async fn bodies(State(max_body): State<usize>, req: Request, next: Next) -> Response {
    let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !req.uri().path().starts_with("/fhir") || !ctype.is_some_and(is_xml_media_type) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match json_body(body, max_body).await {
        Ok(json) => {
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"));
            parts.headers.remove(header::CONTENT_LENGTH);
            next.run(Request::from_parts(parts, Body::from(json))).await
        }
        Err(fail) => fail.into_response(),
    }
}

/// An XML request body as JSON, or the OperationOutcome saying what is wrong with it.
async fn json_body(body: Body, max_body: usize) -> Result<Vec<u8>, Fail> {
    let bytes = axum::body::to_bytes(body, max_body).await.map_err(|_| body_too_large(max_body))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Fail::new(StatusCode::BAD_REQUEST, "structure", format!("the XML body is not UTF-8: {e}"))
    })?;
    let value = xml::parse(text).map_err(|e| {
        let issue = Issue::error("structure", e.path.clone(), format!("the XML body cannot be read: {e}"));
        Fail::with_issues(StatusCode::BAD_REQUEST, vec![issue])
    })?;
    Ok(value.to_string().into_bytes())
}

/// The response, written as XML if it is a FHIR JSON resource.
async fn answer(resp: Response, pretty: bool) -> Response {
    let is_fhir_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/fhir+json"));
    if !is_fhir_json || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Responses are made in memory (no FHIR JSON response is streamed), so no limit is needed
    // beyond what was already held.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the response could not be read").into_response();
    };
    let written = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => xml::write(&v, pretty),
        Err(_) => None,
    };
    let Some(text) = written else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_XML));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        wants_xml(&h, &"/fhir/Patient".parse().unwrap())
    }

    #[test]
    fn format_then_the_most_preferred_of_accept() {
        assert!(accept("application/fhir+xml"));
        assert!(accept("application/xml"));
        assert!(accept("application/fhir+xml, */*;q=0.1"));
        assert!(accept("application/fhir+json;q=0.5, application/fhir+xml"));
        assert!(!accept("application/fhir+json"));
        assert!(!accept("*/*"));
        // HAPI's client when no encoding is set: a tie goes to JSON.
        assert!(!accept(
            "application/fhir+xml;q=1.0, application/fhir+json;q=1.0, application/xml+fhir;q=0.9"
        ));
        // A browser: text/html outranks application/xml.
        assert!(!accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!accept("application/fhir+xml;q=0"));
        let h = HeaderMap::new();
        assert!(wants_xml(&h, &"/fhir/Patient?_format=xml".parse().unwrap()));
        assert!(wants_xml(&h, &"/fhir/Patient?_format=application/fhir+xml".parse().unwrap()));
        assert!(wants_xml(&h, &"/fhir/Patient?_format=application%2Ffhir%2Bxml".parse().unwrap()));
        assert!(!wants_xml(&h, &"/fhir/Patient?_format=json".parse().unwrap()));
        let mut xml_accept = HeaderMap::new();
        xml_accept.insert(header::ACCEPT, HeaderValue::from_static("application/fhir+xml"));
        assert!(!wants_xml(&xml_accept, &"/fhir/Patient?_format=json".parse().unwrap()), "_format decides");
    }
}
