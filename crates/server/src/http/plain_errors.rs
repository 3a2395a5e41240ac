//! Errors axum answers itself, before any handler runs, made FHIR: a method a route lacks
//! (405, no body), a request body over the limit (413, plain text), an extractor's refusal
//! (plain text). A FHIR client expects an OperationOutcome for every error (R4 §3.1.0.9), and
//! a person reading one needs to know what to change, so they are rewritten here.
use super::respond::Fail;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

/// The largest request body accepted by default: 64 MiB. axum's own default (2 MiB) refuses
/// ordinary real data: one Synthea patient's transaction bundle is often 5–20 MB, and the
/// specification's own ValueSets and ImplementationGuide run to several MB.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Applies the body limit to every route of `app` and turns axum's own error responses into
/// OperationOutcomes.
pub fn with_fhir_errors(app: Router, max_body: usize) -> Router {
    app.layer(axum::middleware::from_fn_with_state(max_body, rewrite)).layer(DefaultBodyLimit::max(max_body))
}

/// The refusal of a request body over the limit.
pub(crate) fn body_too_large(max_body: usize) -> Fail {
    Fail::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-long",
        format!(
            "the request body is larger than this server accepts ({} MiB; `lantern serve --max-body-mb` sets it)",
            max_body >> 20
        ),
    )
}

async fn rewrite(State(max_body): State<usize>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ctype.contains("json") || ctype.contains("html") {
        return resp; // ours already (an OperationOutcome, or a viewer page)
    }
    let plain = resp.headers().get(header::CONTENT_ENCODING).is_none();
    let text = match plain {
        true => axum::body::to_bytes(resp.into_body(), 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default(),
        false => String::new(),
    };
    match status {
        // axum adds the `Allow` header on the way out, after this layer.
        StatusCode::METHOD_NOT_ALLOWED => {
            Fail::new(status, "not-supported", format!("{method} is not supported on {path}"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(max_body),
        _ => {
            let code = if status.is_server_error() { "exception" } else { "invalid" };
            let msg = match text.is_empty() {
                true => status.canonical_reason().unwrap_or("the request failed").to_string(),
                false => text,
            };
            Fail::new(status, code, msg)
        }
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn app(max_body: usize) -> Router {
        let inner = Router::new()
            .route("/thing", get(|| async { "ok" }))
            .route("/upload", post(|b: axum::body::Bytes| async move { b.len().to_string() }))
            .route("/teapot", get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }));
        with_fhir_errors(inner, max_body)
    }

    async fn call(
        app: Router,
        method: &str,
        uri: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Option<String>, serde_json::Value) {
        let req = Request::builder().method(method).uri(uri).body(Body::from(body)).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let allow = resp.headers().get(header::ALLOW).map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, allow, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    fn diagnostics(v: &serde_json::Value) -> (&str, &str) {
        assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
        (v["issue"][0]["code"].as_str().unwrap(), v["issue"][0]["diagnostics"].as_str().unwrap())
    }

    #[tokio::test]
    async fn a_method_the_route_lacks_is_an_outcome_with_the_allowed_ones_in_its_header() {
        let (status, allow, v) = call(app(1024), "DELETE", "/thing", Vec::new()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (code, msg) = diagnostics(&v);
        assert_eq!(code, "not-supported");
        assert_eq!(msg, "DELETE is not supported on /thing");
        assert!(allow.unwrap().contains("GET"));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_an_outcome_naming_the_limit() {
        let (status, _, v) = call(app(2 << 20), "POST", "/upload", vec![b'x'; (2 << 20) + 1]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let (code, msg) = diagnostics(&v);
        assert_eq!(code, "too-long");
        assert!(msg.contains("2 MiB") && msg.contains("--max-body-mb"), "{msg}");
        // Up to the limit is accepted, beyond axum's own default of 2 MiB too.
        let (status, _, v) = call(app(8 << 20), "POST", "/upload", vec![b'x'; 5 << 20]).await;
        assert_eq!((status, v), (StatusCode::OK, serde_json::json!(5 << 20)));
    }

    #[tokio::test]
    async fn other_plain_errors_keep_their_text() {
        let (status, _, v) = call(app(1024), "GET", "/teapot", Vec::new()).await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert_eq!(diagnostics(&v), ("invalid", "short and stout"));
        let (status, _, _) = call(app(1024), "GET", "/thing", Vec::new()).await;
        assert_eq!(status, StatusCode::OK);
    }
}
