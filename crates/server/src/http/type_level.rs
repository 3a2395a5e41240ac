//! Type-level interactions: create and conditional create (§3.1.0.8), search (§3.1.1, GET and
//! POST `_search`), conditional update and delete, type history.
use super::binary;
use super::request::{decode, if_match, json_body, query_pairs, search_form};
use super::respond::{self, Fail, Result};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use lantern_service::Created;
use lantern_store::HistoryScope;

pub(crate) async fn create(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = match binary::from_raw(&rtype, None, &headers, &body) {
        Some(b) => b,
        None => json_body(&headers, &body, false)?,
    };
    let ine = headers.get("if-none-exist").and_then(|v| v.to_str().ok()).map(str::to_string);
    match s.fhir.create(&ctx, &rtype, b, ine.as_deref()).await.map_err(Fail::from)? {
        Created::New(w) => Ok(respond::written(&w.stored, true, &ctx.base, &want)),
        Created::Existing(st) => Ok(respond::written(&st, false, &ctx.base, &want)),
    }
}

pub(crate) async fn search(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    if rtype == "$meta" {
        // `GET [base]/$meta`: the system-level operation, which shares this route's shape.
        let out = s.fhir.meta_in_use(&ctx, None).await.map_err(Fail::from)?;
        return Ok(respond::json(StatusCode::OK, out.to_string(), &want));
    }
    let out = s.fhir.search(&ctx, Some(&rtype), &query_pairs(&uri)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}

pub(crate) async fn search_post(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let pairs = search_form(&headers, &uri, &body)?;
    let out = s.fhir.search(&ctx, Some(&rtype), &pairs).await.map_err(Fail::from)?;
    Ok(respond::posted_search(out, &want))
}

pub(crate) async fn conditional_update(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = json_body(&headers, &body, false)?;
    let q = uri.query().unwrap_or("").to_string();
    let w = s.fhir.conditional_update(&ctx, &rtype, &q, b, if_match(&headers)?).await.map_err(Fail::from)?;
    Ok(respond::written(&w.stored, w.created, &ctx.base, &want))
}

/// `PATCH /fhir/Type?criteria`: conditional patch (JSON Patch or FHIRPath Patch).
pub(crate) async fn conditional_patch(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = json_body(&headers, &body, true)?;
    let q = uri.query().unwrap_or("").to_string();
    let w = s.fhir.conditional_patch(&ctx, &rtype, &q, b, if_match(&headers)?).await.map_err(Fail::from)?;
    Ok(respond::written(&w.stored, false, &ctx.base, &want))
}

pub(crate) async fn conditional_delete(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let q = uri.query().unwrap_or("").to_string();
    let d = s.fhir.conditional_delete(&ctx, &rtype, &q).await.map_err(Fail::from)?;
    let what = d.as_ref().map(|s| format!("{}/{}", s.rtype, s.id)).unwrap_or_else(|| format!("{rtype}?{q}"));
    Ok(respond::deleted(&what, d.is_some(), &want))
}

pub(crate) async fn history(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let out =
        s.fhir.history(&ctx, HistoryScope::Type(rtype), &query_pairs(&uri)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}
