//! The patient index over HTTP: the review queue, unlink, merge, reversal, explanations
//! (`/identity/...`, JSON), and the FHIR operations `POST /fhir/Patient/$match` and
//! `GET /fhir/Patient/$ihe-pix` (PIXm). Each handler decodes, calls one `lantern_mpi::Mpi`
//! method and encodes; errors go through the service's status table like every other route.
//!
//! | route | answer |
//! |---|---|
//! | `GET /identity/reviews?status=open&after=ID&_count=N` | `{"reviews": [...]}` |
//! | `POST /identity/reviews/{id}` `{"decision": "accept"\|"reject", "note": ".."}` | the event |
//! | `POST /identity/unlink` `{"patient": "Patient/x", "note": ".."}` | the event |
//! | `POST /identity/merge` `{"from": "..", "into": "..", "note": "..", "force": false}` | the event |
//! | `POST /identity/events/{seq}/reverse` `{"note": ".."}` | the reversing event |
//! | `GET /identity/events?patient=x&before=SEQ&_count=N` | `{"events": [...]}`, newest first |
//! | `GET /identity/patients/{id}` | the record's person, members, NHS number status |
//! | `GET /identity/explain?a=Patient/x&b=Patient/y` | the evaluation and its words |
//!
//! Status codes: 200; 400 bad input; 404 unknown record, review or event; 409 a decision that
//! no longer applies (review not open, already one person, already reversed).
use super::request::{decode, json_body, query_pairs};
use super::respond::{self, Fail, Result};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// The routes, with their full paths, for `http::router` to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/Patient/$match", post(match_patient))
        .route("/fhir/Patient/$ihe-pix", get(pix))
        .route("/identity/reviews", get(reviews))
        .route("/identity/reviews/{id}", post(decide))
        .route("/identity/unlink", post(unlink))
        .route("/identity/merge", post(merge))
        .route("/identity/events", get(events))
        .route("/identity/events/{seq}/reverse", post(reverse))
        .route("/identity/patients/{id}", get(patient))
        .route("/identity/explain", get(explain))
}

fn fail(e: lantern_store::StoreError) -> Fail {
    Fail::from(lantern_service::Error::Store(e))
}

fn bad(msg: impl Into<String>) -> Fail {
    Fail::new(StatusCode::BAD_REQUEST, "invalid", msg)
}

fn ok(v: impl serde::Serialize) -> Response {
    let body = serde_json::to_string(&v).unwrap_or_default();
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Who decides: the authenticated caller (`issuer|subject` of its token), or `http` when the
/// server runs without security (tests, embedding).
fn actor(_headers: &HeaderMap) -> String {
    crate::trust::current()
        .map(|s| format!("{}|{}", s.caller.principal.issuer, s.caller.principal.subject))
        .unwrap_or_else(|| "http".to_string())
}

fn param(pairs: &[(String, String)], k: &str) -> Option<String> {
    pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
}

fn number<T: std::str::FromStr>(pairs: &[(String, String)], k: &str) -> Result<Option<T>> {
    param(pairs, k).map(|v| v.parse().map_err(|_| bad(format!("{k} must be a number")))).transpose()
}

fn field(body: &Value, k: &str) -> Option<String> {
    body.get(k).and_then(Value::as_str).map(str::to_string)
}

/// An optional JSON object body (empty is `{}`).
fn object(headers: &HeaderMap, body: &Bytes) -> Result<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    json_body(headers, body, false)
}

async fn match_patient(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let input = json_body(&headers, &body, false)?;
    let out = s.identity.match_patient(&input, ctx.access.clone(), &ctx.base).await.map_err(fail)?;
    Ok(respond::json(StatusCode::OK, out, &want))
}

async fn pix(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let pairs = query_pairs(&uri);
    let source = param(&pairs, "sourceIdentifier").ok_or_else(|| bad("sourceIdentifier is required"))?;
    let targets: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "targetSystem")
        .flat_map(|(_, v)| v.split(',').map(str::to_string))
        .collect();
    let out = s.identity.pix(&source, &targets, ctx.access.clone()).await.map_err(fail)?;
    Ok(respond::json(StatusCode::OK, out.to_string(), &want))
}

async fn reviews(State(s): State<AppState>, uri: Uri) -> Result<Response> {
    let pairs = query_pairs(&uri);
    let count = number::<usize>(&pairs, "_count")?.unwrap_or(50).clamp(1, 1000);
    let r =
        s.identity.reviews(param(&pairs, "status"), number(&pairs, "after")?, count).await.map_err(fail)?;
    Ok(ok(json!({"reviews": r})))
}

async fn decide(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let b = json_body(&headers, &body, false)?;
    let accept = match field(&b, "decision").as_deref() {
        Some("accept") => true,
        Some("reject") => false,
        _ => return Err(bad("decision must be \"accept\" or \"reject\"")),
    };
    let e = s.identity.decide_review(id, accept, &actor(&headers), field(&b, "note")).await.map_err(fail)?;
    Ok(ok(e))
}

async fn unlink(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let b = json_body(&headers, &body, false)?;
    let p = field(&b, "patient").ok_or_else(|| bad("patient is required"))?;
    Ok(ok(s.identity.unlink(&p, &actor(&headers), field(&b, "note")).await.map_err(fail)?))
}

async fn merge(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let b = json_body(&headers, &body, false)?;
    let from = field(&b, "from").ok_or_else(|| bad("from is required"))?;
    let into = field(&b, "into").ok_or_else(|| bad("into is required"))?;
    let force = b.get("force").and_then(Value::as_bool).unwrap_or(false);
    let e = s.identity.merge(&from, &into, &actor(&headers), field(&b, "note"), force).await.map_err(fail)?;
    Ok(ok(e))
}

async fn reverse(
    State(s): State<AppState>,
    Path(seq): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let b = object(&headers, &body)?;
    Ok(ok(s.identity.reverse(seq, &actor(&headers), field(&b, "note")).await.map_err(fail)?))
}

async fn events(State(s): State<AppState>, uri: Uri) -> Result<Response> {
    let pairs = query_pairs(&uri);
    let count = number::<usize>(&pairs, "_count")?.unwrap_or(50).clamp(1, 1000);
    let e =
        s.identity.events(param(&pairs, "patient"), number(&pairs, "before")?, count).await.map_err(fail)?;
    Ok(ok(json!({"events": e})))
}

async fn patient(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    Ok(ok(s.identity.patient(&id).await.map_err(fail)?))
}

async fn explain(State(s): State<AppState>, uri: Uri) -> Result<Response> {
    let pairs = query_pairs(&uri);
    let a = param(&pairs, "a").ok_or_else(|| bad("a is required (a=Patient/id)"))?;
    let b = param(&pairs, "b").ok_or_else(|| bad("b is required (b=Patient/id)"))?;
    Ok(ok(s.identity.explain(&a, &b).await.map_err(fail)?))
}
