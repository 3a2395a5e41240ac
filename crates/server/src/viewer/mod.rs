//! The clinician viewer: server-rendered HTML pages for the people a shared care record is for —
//! a GP, an A&E doctor, a social worker, a privacy officer, a data-quality officer, a patient.
//!
//! Why it is shaped so:
//! - **The same calls as the API.** Every page gets its data from the service functions the FHIR
//!   routes call (`$everything`, search) with the caller's compiled access filter, and from
//!   trust's operations (`trust::ops`). So a page cannot show what the API would withhold, and
//!   the trust guard audits each page view like any request, with the resources it showed.
//! - **Withheld is said, never silently absent.** The summary counts what the policy withholds
//!   (legally restricted, not shared, opted out) from the policy's own explanation and says so.
//! - **No JavaScript.** Pages are plain HTML forms and links with one small stylesheet, so they
//!   render fast on an old hospital PC, work with a keyboard and screen reader, and need no
//!   build step. Forms post with the session cookie, which is `HttpOnly` and `SameSite=Strict`
//!   (a cross-site page cannot post with it).
//! - **Sign-in.** A session is a bearer token in a cookie. The demo (and any server with the
//!   development issuer) offers its users from `DATA/demo/users.json`; in production, people
//!   sign in at the configured OpenID Connect provider (`[auth.sign_in]`: authorization code
//!   with PKCE, `lantern_auth::SignIn`), and the token it issues becomes the session. A token
//!   can also be pasted, or set in the cookie by a login proxy in front.
//!
//! | page | who | what |
//! |---|---|---|
//! | `GET /signin`, `POST /signin`, `POST /signout` | anyone | sessions |
//! | `GET /signin/oidc`, `GET /signin/callback` | anyone | OpenID Connect sign-in |
//! | `GET /patients?nhs=` or `?family=&given=&birthdate=` | users | find a patient |
//! | `GET /patients/{id}` | users, the patient | the joined-up summary |
//! | `GET /patients/{id}/timeline?org=&kind=` | users, the patient | stays, appointments, contacts |
//! | `GET/POST /patients/{id}/break-glass` | users | emergency access |
//! | `GET /my-record`, `GET /my-record/who-looked` | the patient | their record and who looked |
//! | `GET /privacy/break-glass`, `POST /privacy/break-glass/{id}` | privacy officer | review queue |
//! | `GET /data-quality/reviews`, `POST /data-quality/reviews/{id}` | data-quality officer | identity reviews |
mod display;
mod find;
mod glass;
mod layout;
mod medications;
mod mine;
mod privacy;
mod quality;
mod record;
mod session;
mod summary;
mod timeline;

use crate::http::AppState;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// A user the sign-in page offers (the demo writes them to `DATA/demo/users.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct DemoUser {
    pub id: String,
    pub name: String,
    /// `user` or `patient`.
    #[serde(default = "user_kind")]
    pub kind: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub org_name: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub nhs_number: Option<String>,
    #[serde(default)]
    pub blurb: Option<String>,
}

fn user_kind() -> String {
    "user".into()
}

/// A patient worth looking at in the demo (`DATA/demo/showcase.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Showcase {
    pub nhs_number: String,
    pub name: String,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub why: String,
}

/// What the viewer needs beyond the application state.
#[derive(Default, Clone)]
pub struct Config {
    /// Signs demo sessions; None where the development issuer is off.
    pub issuer: Option<Arc<lantern_auth::DevIssuer>>,
    pub users: Vec<DemoUser>,
    pub showcase: Vec<Showcase>,
    /// Sign-in at an OpenID Connect provider, when `[auth.sign_in]` configures one.
    pub sign_in: Option<Arc<lantern_auth::SignIn>>,
}

impl Config {
    /// The demo users and showcase patients kept in `data/demo/`, if any. A file that cannot be
    /// read is reported and ignored: the viewer still works with pasted tokens.
    pub fn from_data_dir(data: &Path, issuer: Option<lantern_auth::DevIssuer>) -> Config {
        fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
            match std::fs::read_to_string(path) {
                Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                    tracing::warn!(file = %path.display(), error = %e, "viewer: ignoring unreadable file");
                    Vec::new()
                }),
                Err(_) => Vec::new(),
            }
        }
        let users = if issuer.is_some() { read(&data.join("demo/users.json")) } else { Vec::new() };
        Config {
            issuer: issuer.map(Arc::new),
            users,
            showcase: read(&data.join("demo/showcase.json")),
            sign_in: None,
        }
    }
}

#[derive(Clone)]
pub(crate) struct ViewerState {
    pub app: AppState,
    pub cfg: Arc<Config>,
}

/// The viewer's routes, ready to merge beside the API (the trust guard wraps both).
pub fn router(app: AppState, cfg: Config) -> Router {
    let state = ViewerState { app, cfg: Arc::new(cfg) };
    Router::new()
        .route("/", get(home))
        .route("/signin", get(session::page).post(session::sign_in))
        .route("/signin/oidc", get(session::oidc_begin))
        .route("/signin/callback", get(session::oidc_callback))
        .route("/signout", post(session::sign_out))
        .route("/assets/viewer.css", get(layout::stylesheet))
        .route("/patients", get(find::search))
        .route("/patients/{id}", get(summary::page_route))
        .route("/patients/{id}/timeline", get(timeline::page_route))
        .route("/patients/{id}/summary.json", get(summary::ips_route))
        .route("/patients/{id}/break-glass", get(glass::form).post(glass::submit))
        .route("/my-record", get(mine::record))
        .route("/my-record/who-looked", get(mine::who_looked))
        .route("/privacy/break-glass", get(privacy::queue))
        .route("/privacy/break-glass/{id}", post(privacy::review))
        .route("/data-quality/reviews", get(quality::queue))
        .route("/data-quality/reviews/{id}", post(quality::decide))
        .with_state(state)
}

/// Pages anyone may open: signing in and the stylesheet.
pub(crate) fn is_public(path: &str) -> bool {
    matches!(path, "/signin" | "/signin/oidc" | "/signin/callback" | "/signout" | "/assets/viewer.css")
}

/// Viewer pages: signed in by cookie, and sent to sign in when not.
pub(crate) fn is_page(path: &str) -> bool {
    path == "/"
        || ["/patients", "/my-record", "/privacy/", "/data-quality/"].iter().any(|p| path.starts_with(p))
}

/// The session token from the request's cookie, if any.
pub(crate) fn session_token(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, session::COOKIE)
}

/// The value of cookie `name`, if the request has it and it is not empty.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Sends a visitor without a valid session to the sign-in page, remembering where they were.
pub(crate) fn to_sign_in(uri: &Uri) -> Response {
    let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target =
        format!("/signin?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
    let mut r = Redirect::to(&target).into_response();
    r.headers_mut().insert(axum::http::header::SET_COOKIE, session::clear_cookie());
    r
}

/// The start page for whoever is signed in.
async fn home() -> Response {
    use lantern_policy::RequesterKind;
    let Some(scope) = crate::trust::current() else { return layout::no_trust() };
    let c = &scope.caller;
    let to = match c.requester.kind {
        RequesterKind::Patient => "/my-record",
        _ if matches!(c.requester.role.as_deref(), Some("privacy-officer")) => "/privacy/break-glass",
        _ if matches!(c.requester.role.as_deref(), Some("data-quality")) => "/data-quality/reviews",
        _ => "/patients",
    };
    Redirect::to(to).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(axum::http::header::COOKIE, "a=1; lantern_session=abc.def; b=2".parse().unwrap());
        assert_eq!(session_token(&h).as_deref(), Some("abc.def"));
        h.insert(axum::http::header::COOKIE, "lantern_session=".parse().unwrap());
        assert_eq!(session_token(&h), None);
    }

    #[test]
    fn pages_and_public_paths() {
        assert!(is_page("/patients/abc/timeline"));
        assert!(is_page("/"));
        assert!(!is_page("/fhir/Patient"));
        assert!(!is_page("/policy/explain"));
        assert!(is_public("/signin"));
        assert!(!is_public("/patients"));
    }
}
