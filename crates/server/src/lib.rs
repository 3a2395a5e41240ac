//! The HTTP FHIR API, the feeds admin routes and the MLLP listener: thin transports over `lantern-service`.
//!
//! A request passes through tower layers (tracing, compression), then extractors that decode
//! the FHIR-specific headers (Prefer, If-Match, If-None-Exist, `_format`), then a handler that
//! calls exactly one service function and encodes its result. Rules live in the service so
//! every entry point shares them; the only HTTP-specific knowledge here is in `http/respond.rs`
//! (status codes, headers, OperationOutcome rendering).
//!
//! Invariant: handlers never log request or response bodies, tokens or patient data.
pub mod admin;
pub mod http;
pub mod mllp;
pub mod trust;

pub use http::{router, AppState};

/// Serves the FHIR API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, secured(router(state.clone()), state)).await
}

/// Puts the trust guard (authentication, policy, audit) in front of every route.
pub fn secured(app: axum::Router, state: AppState) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(state, trust::guard))
}

/// Serves the FHIR API and the feeds admin routes (`/admin/...`) on `listener`.
pub async fn serve_with_feeds(
    listener: tokio::net::TcpListener,
    state: AppState,
    feeds: lantern_feeds::Feeds,
) -> std::io::Result<()> {
    let app = admin::admin_router(feeds).merge(router(state.clone()));
    axum::serve(listener, secured(app, state)).await
}
