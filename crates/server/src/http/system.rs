//! System-level interactions: capabilities (§3.1.0.13), transaction and batch (§3.1.0.11),
//! system search and history, and /health.
use super::request::{decode, json_body, query_pairs, search_form, Return};
use super::respond::{self, Fail, Result};
use super::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lantern_store::HistoryScope;

pub(crate) async fn health(State(s): State<AppState>) -> Response {
    match s.fhir.store.health().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response(),
    }
}

pub(crate) async fn metadata(
    State(s): State<AppState>,
    cors: Option<axum::Extension<super::CorsAllowed>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let cs = lantern_service::capability::capability_statement(&ctx.base, &s.version, cors.is_some());
    Ok(respond::json(StatusCode::OK, cs.to_string(), &want))
}

pub(crate) async fn bundle(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = json_body(&headers, &body, false)?;
    let out = s.fhir.bundle(&ctx, b, want.ret == Return::Representation).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}

pub(crate) async fn search(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let out = s.fhir.search(&ctx, None, &query_pairs(&uri)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}

pub(crate) async fn search_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let pairs = search_form(&headers, &uri, &body)?;
    let out = s.fhir.search(&ctx, None, &pairs).await.map_err(Fail::from)?;
    Ok(respond::posted_search(out, &want))
}

pub(crate) async fn history(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let out = s.fhir.history(&ctx, HistoryScope::System, &query_pairs(&uri)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}
