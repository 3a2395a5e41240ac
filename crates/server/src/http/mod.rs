//! Routes (FHIR R4 RESTful API, §3.1.0): one handler file per level of the URL tree.
mod binary;
mod conditional;
mod cors;
mod export;
mod identity;
mod instance;
mod plain_errors;
pub(crate) mod request;
mod respond;
pub mod smart;
mod system;
mod type_level;
pub mod xml;

use crate::trust::routes as trust;
use axum::routing::{get, post};
use axum::Router;
use lantern_service::Fhir;

pub use cors::{with_cors, CorsAllowed};
pub use export::Exports;
pub use plain_errors::{with_fhir_errors, DEFAULT_MAX_BODY};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub fhir: Fhir,
    /// The version string for the CapabilityStatement.
    pub version: String,
    /// Authentication, policy and audit (see `crate::trust`).
    pub security: crate::trust::Security,
    /// The patient index (`/identity`, `Patient/$match`, `Patient/$ihe-pix`).
    pub identity: lantern_mpi::Mpi,
    /// Bulk export jobs (`$export`).
    pub exports: Exports,
}

/// An OperationOutcome response.
pub(crate) fn outcome(
    status: axum::http::StatusCode,
    code: &'static str,
    msg: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    respond::Fail::new(status, code, msg.to_string()).into_response()
}

pub fn router(state: AppState) -> Router {
    let fhir = Router::new()
        .route("/", post(system::bundle).get(system::search))
        .route("/metadata", get(system::metadata))
        .route("/_history", get(system::history))
        .route("/_search", post(system::search_post))
        .route("/$export", get(export::kick_off_system).post(export::kick_off_system))
        .route("/Patient/$export", get(export::kick_off_patients).post(export::kick_off_patients))
        .route("/Group/{id}/$export", get(export::kick_off_group).post(export::kick_off_group))
        .route("/$export-status/{id}", get(export::status).delete(export::cancel))
        .route("/$export-file/{id}/{file}", get(export::file))
        .route(
            "/{rtype}",
            get(type_level::search)
                .post(type_level::create)
                .put(type_level::conditional_update)
                .patch(type_level::conditional_patch)
                .delete(type_level::conditional_delete),
        )
        .route("/{rtype}/_search", post(type_level::search_post))
        .route("/{rtype}/_history", get(type_level::history))
        .route(
            "/{rtype}/{id}",
            get(instance::read)
                .put(instance::update)
                .patch(instance::patch)
                .delete(instance::delete)
                .post(instance::type_operation),
        )
        .route("/{rtype}/{id}/{op}", get(instance::sub_get).post(instance::sub_post))
        .route("/{rtype}/{id}/_history/{vid}", get(instance::vread))
        .route(
            "/{rtype}/{id}/_history/{vid}/{op}",
            get(instance::version_operation).post(instance::version_operation),
        )
        .route("/{rtype}/{id}/{ctype}/_search", post(instance::compartment_search_post))
        .route("/AuditEvent", get(trust::audit_events));
    Router::new()
        .route("/health", get(system::health))
        .nest("/fhir", fhir)
        // The base with a trailing slash, as clients that join `base + "/"` send transactions,
        // batches and system searches (fhir-kit-client does); HAPI answers there too.
        .route("/fhir/", post(system::bundle).get(system::search))
        .route("/access/break-glass", post(trust::break_glass).get(trust::break_glass_queue))
        .route("/access/break-glass/{id}/review", post(trust::review_break_glass))
        .route("/policy", get(trust::policy))
        .route("/policy/explain", get(trust::explain))
        .route("/audit/who-looked", get(trust::who_looked))
        .merge(identity::routes())
        .fallback(respond::not_found)
        .with_state(state)
}
