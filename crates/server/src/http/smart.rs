//! SMART App Launch discovery: `GET [base]/.well-known/smart-configuration`, public like the
//! CapabilityStatement, so that a SMART client (fhirclient.js, say) finds the authorisation
//! server before it has a token. The server is the OpenID Connect provider configured for
//! sign-in (`[auth.sign_in]`, whose endpoints were discovered at start-up); without one there
//! is nothing to point at, and the answer is 404 with the reason.
use crate::http::respond::Fail;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lantern_auth::SignIn;
use std::sync::Arc;

/// The path, under the FHIR base.
pub const PATH: &str = "/fhir/.well-known/smart-configuration";

pub fn router(sign_in: Option<Arc<SignIn>>) -> Router {
    Router::new().route(PATH, get(move || answer(sign_in.clone())))
}

async fn answer(sign_in: Option<Arc<SignIn>>) -> Response {
    match sign_in {
        Some(s) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            s.smart_configuration().to_string(),
        )
            .into_response(),
        None => Fail::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "this server has no SMART authorisation server: configure an OpenID Connect provider \
             under [auth.sign_in]",
        )
        .into_response(),
    }
}
