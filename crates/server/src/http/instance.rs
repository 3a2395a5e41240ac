//! Instance-level interactions: read (§3.1.0.1), vread (§3.1.0.2), update (§3.1.0.4),
//! patch (§3.1.0.4.4), delete (§3.1.0.5), instance history, search in a compartment
//! (§3.1.0.8, `Patient/[id]/Observation`, also by `POST .../_search`), and operations such as `Patient/[id]/$everything`.
use super::binary;
use super::request::{decode, decode_native, if_match, json_body, query_pairs, search_form};
use super::respond::{self, Fail, Result};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use lantern_fhir::search::Summary;
use lantern_store::HistoryScope;

/// The body with `_summary` / `_elements` applied, if asked for.
fn shaped(body: String, pairs: &[(String, String)]) -> String {
    let summary = pairs.iter().find(|(k, _)| k == "_summary").and_then(|(_, v)| match v.as_str() {
        "true" => Some(Summary::True),
        "text" => Some(Summary::Text),
        "data" => Some(Summary::Data),
        _ => None,
    });
    let elements: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "_elements")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .collect();
    if summary.is_none() && elements.is_empty() {
        return body;
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&body) else { return body };
    match summary {
        Some(m) => lantern_service::apply_summary(&mut v, m),
        None => lantern_service::apply_elements(&mut v, &elements),
    }
    v.to_string()
}

pub(crate) async fn read(
    State(s): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if id.starts_with('$') {
        // `GET Patient/$everything` and the like: an operation at type level, not an id.
        return type_operation(State(s), Path((rtype, id)), headers, uri, Bytes::new()).await;
    }
    let native = binary::native_wanted(&rtype, &headers, &uri);
    let (ctx, want) = if native { decode_native(&headers, &uri)? } else { decode(&headers, &uri)? };
    let st = s.fhir.read(&ctx, &rtype, &id).await.map_err(Fail::from)?;
    if super::conditional::not_modified(&headers, &st) {
        return Ok(respond::not_modified(&st));
    }
    if native {
        return binary::respond(&st);
    }
    let body = shaped(st.body.clone().unwrap_or_default(), &query_pairs(&uri));
    Ok(respond::resource(&st, body, &want))
}

pub(crate) async fn vread(
    State(s): State<AppState>,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let native = binary::native_wanted(&rtype, &headers, &uri);
    let (ctx, want) = if native { decode_native(&headers, &uri)? } else { decode(&headers, &uri)? };
    let st = s.fhir.vread(&ctx, &rtype, &id, &vid).await.map_err(Fail::from)?;
    if native {
        return binary::respond(&st);
    }
    let body = shaped(st.body.clone().unwrap_or_default(), &query_pairs(&uri));
    Ok(respond::resource(&st, body, &want))
}

pub(crate) async fn update(
    State(s): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = match binary::from_raw(&rtype, Some(&id), &headers, &body) {
        Some(b) => b,
        None => json_body(&headers, &body, false)?,
    };
    let w = s.fhir.update(&ctx, &rtype, &id, b, if_match(&headers)?).await.map_err(Fail::from)?;
    Ok(respond::written(&w.stored, w.created, &ctx.base, &want))
}

pub(crate) async fn patch(
    State(s): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = json_body(&headers, &body, true)?;
    let w = s.fhir.patch(&ctx, &rtype, &id, b, if_match(&headers)?).await.map_err(Fail::from)?;
    Ok(respond::written(&w.stored, false, &ctx.base, &want))
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let d = s.fhir.delete(&ctx, &rtype, &id, if_match(&headers)?).await.map_err(Fail::from)?;
    Ok(respond::deleted(&format!("{rtype}/{id}"), d.is_some(), &want))
}

/// `POST /fhir/Type/$op`: type-level operations (`$validate`).
pub(crate) async fn type_operation(
    State(s): State<AppState>,
    Path((rtype, op)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    match (rtype.as_str(), op.as_str()) {
        (_, "$validate") => validate(s, &rtype, None, headers, uri, body).await,
        ("ValueSet", "$expand" | "$validate-code")
        | ("CodeSystem", "$lookup" | "$subsumes")
        | ("ConceptMap", "$translate") => terminology(s, &op, None, headers, uri, body).await,
        ("Patient", "$summary") | ("Observation", "$lastn" | "$stats") => {
            let (ctx, want) = decode(&headers, &uri)?;
            let pairs = operation_pairs(&op, &headers, &uri, &body)?;
            let out = match op.as_str() {
                "$summary" => s.fhir.summary_by_identifier(&ctx, &pairs).await,
                "$lastn" => s.fhir.lastn(&ctx, &pairs).await,
                _ => s.fhir.stats(&ctx, &pairs).await,
            };
            Ok(respond::json(StatusCode::OK, out.map_err(Fail::from)?, &want))
        }
        (_, "$meta") => {
            let (ctx, want) = decode(&headers, &uri)?;
            let out = s.fhir.meta_in_use(&ctx, Some(&rtype)).await.map_err(Fail::from)?;
            Ok(respond::json(StatusCode::OK, out.to_string(), &want))
        }
        (_, "$meta-add" | "$meta-delete") => Err(Fail::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("'{op}' is served on one resource ({rtype}/[id]/{op}), not on a whole type"),
        )),
        _ => Err(Fail::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("operation '{op}' is not supported on {rtype}"),
        )),
    }
}

/// An operation's parameters: the query's, and by POST those of a Parameters body, primitive
/// values taken as the query's would be (see `lantern_service::read_parameters`).
fn operation_pairs(op: &str, headers: &HeaderMap, uri: &Uri, body: &Bytes) -> Result<Vec<(String, String)>> {
    let mut pairs = query_pairs(uri);
    if !body.is_empty() {
        let b = json_body(headers, body, false)?;
        if lantern_service::read_parameters(op, &b, &mut pairs).map_err(Fail::from)?.is_some() {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("{op} takes no resource parameter"),
            ));
        }
    }
    Ok(pairs)
}

/// The terminology operations also served on one resource (`ValueSet/[id]/$expand`...).
fn is_instance_terminology(rtype: &str, op: &str) -> bool {
    matches!(
        (rtype, op),
        ("ValueSet", "$expand" | "$validate-code")
            | ("CodeSystem", "$subsumes")
            | ("ConceptMap", "$translate")
    )
}

/// `ValueSet/$expand`, `ValueSet/$validate-code` (also on `ValueSet/[id]`),
/// `CodeSystem/$lookup` and `$subsumes`, `ConceptMap/$translate`: parameters in the query, or
/// in a Parameters body (POST) whose primitive values are taken as the query's would be.
async fn terminology(
    s: AppState,
    op: &str,
    id: Option<&str>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let mut pairs = query_pairs(&uri);
    let given = if body.is_empty() {
        None
    } else {
        let b = json_body(&headers, &body, false)?;
        lantern_service::read_parameters(op, &b, &mut pairs).map_err(Fail::from)?
    };
    let out = match op {
        "$expand" => s.fhir.expand(&ctx, id, given.as_ref(), &pairs).await,
        "$validate-code" => s.fhir.validate_code(&ctx, id, given.as_ref(), &pairs).await,
        "$subsumes" => s.fhir.subsumes(&ctx, id, &pairs).await,
        "$translate" => s.fhir.translate(&ctx, id, &pairs).await,
        _ => s.fhir.lookup(&ctx, &pairs).await,
    };
    Ok(respond::json(StatusCode::OK, out.map_err(Fail::from)?, &want))
}

/// `$validate`: 200 with the OperationOutcome whether or not the resource is valid (the outcome
/// is the operation's answer); an error status only when it could not be run.
async fn validate(
    s: AppState,
    rtype: &str,
    id: Option<&str>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let b = if body.is_empty() { None } else { Some(json_body(&headers, &body, false)?) };
    let oo = s.fhir.validate_resource(&ctx, rtype, id, b, &query_pairs(&uri)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, oo.to_string(), &want))
}

/// `GET /fhir/Type/id/_history` and `GET /fhir/Type/id/$op`.
pub(crate) async fn sub_get(
    State(s): State<AppState>,
    Path((rtype, id, op)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if op == "$validate" {
        // Without a body: only `mode=delete` has nothing to be sent.
        return validate(s, &rtype, Some(&id), headers, uri, Bytes::new()).await;
    }
    if is_instance_terminology(&rtype, &op) {
        return terminology(s, &op, Some(&id), headers, uri, Bytes::new()).await;
    }
    let (ctx, want) = decode(&headers, &uri)?;
    let pairs = query_pairs(&uri);
    let out = match (rtype.as_str(), op.as_str()) {
        (_, "_history") => {
            s.fhir.history(&ctx, HistoryScope::Instance(rtype.clone(), id.clone()), &pairs).await
        }
        ("Patient", "$everything") => s.fhir.everything(&ctx, vec![id.clone()], &pairs).await,
        ("Patient", "$summary") => s.fhir.summary(&ctx, &id, &pairs).await,
        ("Composition", "$document") => s.fhir.document(&ctx, &id, &pairs).await,
        (_, "$meta") => s.fhir.meta(&ctx, &rtype, &id, None).await.map(|v| v.to_string()),
        // Search in a compartment: `Patient/123/Observation?code=...`.
        (_, t) if t == "*" || t.starts_with(|c: char| c.is_ascii_uppercase()) => {
            s.fhir.search_compartment(&ctx, &rtype, &id, t, &pairs).await
        }
        _ => {
            return Err(Fail::new(
                StatusCode::NOT_FOUND,
                "not-supported",
                format!("'{op}' is not supported on {rtype}/{id}"),
            ))
        }
    };
    Ok(respond::json(StatusCode::OK, out.map_err(Fail::from)?, &want))
}

/// `GET` or `POST /fhir/Type/id/_history/vid/$meta`: the Meta of one version (the only
/// operation on a version).
pub(crate) async fn version_operation(
    State(s): State<AppState>,
    Path((rtype, id, vid, op)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if op != "$meta" {
        return Err(Fail::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("'{op}' is not supported on {rtype}/{id}/_history/{vid}"),
        ));
    }
    let (ctx, want) = decode(&headers, &uri)?;
    let out = s.fhir.meta(&ctx, &rtype, &id, Some(&vid)).await.map_err(Fail::from)?;
    Ok(respond::json(StatusCode::OK, out.to_string(), &want))
}

/// `POST /fhir/Patient/123/Observation/_search`: a search in a compartment with its parameters
/// in a form body, as `POST Type/_search` takes them.
pub(crate) async fn compartment_search_post(
    State(s): State<AppState>,
    Path((rtype, id, ctype)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (ctx, want) = decode(&headers, &uri)?;
    let pairs = search_form(&headers, &uri, &body)?;
    let out = s.fhir.search_compartment(&ctx, &rtype, &id, &ctype, &pairs).await.map_err(Fail::from)?;
    Ok(respond::posted_search(out, &want))
}

/// `POST /fhir/Type/id/$op`: `$validate` with the content in the body, else as `GET`.
pub(crate) async fn sub_post(
    state: State<AppState>,
    path: Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let Path((rtype, id, op)) = path;
    if op == "$validate" {
        return validate(state.0, &rtype, Some(&id), headers, uri, body).await;
    }
    let change = match op.as_str() {
        "$meta-add" => Some(lantern_service::MetaChange::Add),
        "$meta-delete" => Some(lantern_service::MetaChange::Delete),
        _ => None,
    };
    if let Some(change) = change {
        let (ctx, want) = decode(&headers, &uri)?;
        let params = json_body(&headers, &body, false)?;
        let out = state
            .0
            .fhir
            .change_meta(&ctx, &rtype, &id, change, &params, if_match(&headers)?)
            .await
            .map_err(Fail::from)?;
        return Ok(respond::json(StatusCode::OK, out.to_string(), &want));
    }
    if is_instance_terminology(&rtype, &op) {
        return terminology(state.0, &op, Some(&id), headers, uri, body).await;
    }
    if !body.is_empty()
        && matches!(
            (rtype.as_str(), op.as_str()),
            ("Patient", "$everything" | "$summary") | ("Composition", "$document")
        )
    {
        // Invoked by POST with a Parameters body, as many clients call operations.
        let (ctx, want) = decode(&headers, &uri)?;
        let pairs = operation_pairs(&op, &headers, &uri, &body)?;
        let f = &state.0.fhir;
        let out = match op.as_str() {
            "$everything" => f.everything(&ctx, vec![id.clone()], &pairs).await,
            "$summary" => f.summary(&ctx, &id, &pairs).await,
            _ => f.document(&ctx, &id, &pairs).await,
        };
        return Ok(respond::json(StatusCode::OK, out.map_err(Fail::from)?, &want));
    }
    sub_get(state, Path((rtype, id, op)), headers, uri).await
}
