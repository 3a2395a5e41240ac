//! Routes (FHIR R4 RESTful API, §3.1.0): one handler file per level of the URL tree.
mod instance;
mod request;
mod respond;
mod system;
mod type_level;

use axum::routing::{get, post};
use axum::Router;
use lantern_service::Fhir;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub fhir: Fhir,
    /// The version string for the CapabilityStatement.
    pub version: String,
}

pub fn router(state: AppState) -> Router {
    let fhir = Router::new()
        .route("/", post(system::bundle).get(system::search))
        .route("/metadata", get(system::metadata))
        .route("/_history", get(system::history))
        .route("/_search", post(system::search_post))
        .route(
            "/{rtype}",
            get(type_level::search)
                .post(type_level::create)
                .put(type_level::conditional_update)
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
        .route("/{rtype}/{id}/_history/{vid}", get(instance::vread));
    Router::new()
        .route("/health", get(system::health))
        .nest("/fhir", fhir)
        .fallback(respond::not_found)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
