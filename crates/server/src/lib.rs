//! The HTTP FHIR API, the clinician viewer, the feeds admin routes and the MLLP listener: thin
//! transports over `lantern-service`.
//!
//! A request passes through tower layers (compression, tracing, FHIR XML answers, the error
//! rewriting, the trust guard, FHIR XML bodies; see [`app`]), then extractors that decode
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
pub mod viewer;

pub use http::{router, with_cors, with_fhir_errors, AppState, Exports, DEFAULT_MAX_BODY};

/// Serves the FHIR API (and the viewer, signed in by token) on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, app(state, None, viewer::Config::default(), DEFAULT_MAX_BODY)).await
}

/// Puts the trust guard (authentication, policy, audit) in front of every route.
pub fn secured(app: axum::Router, state: AppState) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(state, trust::guard))
}

/// Serves the FHIR API, the viewer and the feeds admin routes (`/admin/...`) on `listener`.
pub async fn serve_with_feeds(
    listener: tokio::net::TcpListener,
    state: AppState,
    feeds: lantern_feeds::Feeds,
) -> std::io::Result<()> {
    axum::serve(listener, app(state, Some(feeds), viewer::Config::default(), DEFAULT_MAX_BODY)).await
}

/// Everything `lantern serve` answers over HTTP, behind the trust guard: the FHIR API, trust's
/// and the patient index's routes, the viewer, and the feeds admin routes when there are feeds.
/// Request bodies larger than `max_body` bytes are refused (413, an OperationOutcome). FHIR
/// XML is read and written at the edge (`http::xml`).
pub fn app(
    state: AppState,
    feeds: Option<lantern_feeds::Feeds>,
    viewer: viewer::Config,
    max_body: usize,
) -> axum::Router {
    let smart = http::smart::router(viewer.sign_in.clone());
    let mut app = router(state.clone()).merge(smart).merge(viewer::router(state.clone(), viewer));
    if let Some(f) = feeds {
        app = admin::admin_router(f).merge(app);
    }
    // XML bodies are read behind the guard (no parsing for the unauthenticated); XML answers
    // are written outside it and the error rewriting (so that every OperationOutcome can be
    // XML); compression outside that (it must see the bodies it compresses last).
    let app = secured(http::xml::with_xml_bodies(app, max_body), state);
    http::xml::with_xml_answers(with_fhir_errors(app, max_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::compression::CompressionLayer::new())
}
