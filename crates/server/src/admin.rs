//! Administrative routes for feeds: dead letters (list, replay) and inbox counts, as JSON.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/dead-letters?after=SEQ&limit=N` | `[{seq, feed, control_id, kind, received, detail}]` (no message bodies) |
//! | `POST /admin/dead-letters/{seq}/replay` | 200 `{seq, feed, status: "processed"}`, 404 unknown, 409 still failing |
//! | `GET /admin/inbox` | `{"processed": n, "dead": n, "queued": n}` (queued: acknowledged on receipt, not yet applied) |
//!
//! Invariant: message bodies (patient data) are never returned here; `lantern feeds` on the
//! server itself shows them to an operator if needed.
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lantern_feeds::{FeedError, Feeds};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn admin_router(feeds: Feeds) -> Router {
    Router::new()
        .route("/admin/dead-letters", get(dead_letters))
        .route("/admin/dead-letters/{seq}/replay", post(replay))
        .route("/admin/inbox", get(counts))
        .with_state(feeds)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("admin: {e}");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "internal error; see the server log"})))
        .into_response()
}

async fn dead_letters(State(f): State<Feeds>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after = q.get("after").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100usize).min(1000);
    match f.fhir().store.inbox_list("dead", after, limit).await {
        Ok(v) => {
            let out: Vec<Value> = v
                .into_iter()
                .map(|e| {
                    let detail: Value =
                        e.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
                    json!({"seq": e.seq, "feed": e.feed, "control_id": e.control_id, "kind": e.kind,
                        "received": lantern_store::clock::format_instant(e.received), "detail": detail})
                })
                .collect();
            Json(Value::Array(out)).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn replay(State(f): State<Feeds>, Path(seq): Path<i64>) -> Response {
    match f.replay(seq).await {
        Ok(r) => Json(json!({"seq": r.seq, "feed": r.feed, "status": "processed"})).into_response(),
        Err(FeedError::NotFound(m)) => (StatusCode::NOT_FOUND, Json(json!({"error": m}))).into_response(),
        Err(FeedError::Store(e)) => internal(e),
        Err(e) => (StatusCode::CONFLICT, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn counts(State(f): State<Feeds>) -> Response {
    match f.fhir().store.inbox_counts().await {
        Ok(v) => {
            let mut out: serde_json::Map<String, Value> = v.into_iter().map(|(k, n)| (k, json!(n))).collect();
            out.insert("queued".into(), json!(f.queued()));
            Json(Value::Object(out)).into_response()
        }
        Err(e) => internal(e),
    }
}
