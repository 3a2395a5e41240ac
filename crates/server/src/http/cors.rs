//! Cross-origin requests (the Fetch standard's CORS), for browser apps served from another
//! origin than Lantern: a SMART on FHIR app launched from a clinical system, say. Off unless
//! `lantern serve --cors-origin ORIGIN` names the origins allowed (`*` for any: Lantern's
//! credentials are bearer tokens a script sends itself, never cookies, so no origin gains
//! another's authority by it).
//!
//! The layer goes outside the trust guard: a browser's preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) carries no `Authorization` header and must be answered
//! before the guard would refuse it; the request that follows is guarded as any other. The
//! CapabilityStatement says `cors: true` only when the layer is there ([`CorsAllowed`]).
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::{Extension, Router};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Present on every request of an app built by [`with_cors`].
#[derive(Clone, Copy, Debug)]
pub struct CorsAllowed;

/// Request headers a FHIR client sends beyond the CORS-safelisted ones.
const REQUEST_HEADERS: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    HeaderName::from_static("prefer"),
    HeaderName::from_static("if-none-exist"),
];

/// Response headers a FHIR client reads (where a resource was made, its version, a bulk
/// export's progress).
const RESPONSE_HEADERS: [HeaderName; 6] = [
    header::LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CONTENT_LOCATION,
    header::RETRY_AFTER,
    HeaderName::from_static("x-progress"),
];

/// `app` answering cross-origin requests from `origins` (exact origins such as
/// `https://app.example.org`, or `*`). An origin that is not a valid header value is an error.
pub fn with_cors(app: Router, origins: &[String]) -> Result<Router, String> {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| {
                let o = o.trim_end_matches('/');
                HeaderValue::from_str(o).map_err(|_| format!("'{o}' is not an origin"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let cors = CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers(REQUEST_HEADERS)
        .expose_headers(RESPONSE_HEADERS)
        .max_age(Duration::from_secs(3600));
    Ok(app.layer(Extension(CorsAllowed)).layer(cors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    /// A router behind a guard that refuses anything without a token, as the trust guard does.
    fn guarded() -> Router {
        Router::new().route("/fhir/Patient", get(|| async { "ok" })).layer(axum::middleware::from_fn(
            |req: Request<Body>, next: axum::middleware::Next| async move {
                if req.headers().contains_key(header::AUTHORIZATION) {
                    next.run(req).await
                } else {
                    axum::response::IntoResponse::into_response(StatusCode::UNAUTHORIZED)
                }
            },
        ))
    }

    fn preflight(origin: &str) -> Request<Body> {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/fhir/Patient")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn a_listed_origin_is_answered_before_the_guard_and_others_are_not() {
        let app = with_cors(guarded(), &["https://app.example.org/".into()]).unwrap();
        let r = app.clone().oneshot(preflight("https://app.example.org")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the preflight never reaches the guard");
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.org");
        let allowed = r.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_string();
        assert!(allowed.contains("authorization"), "{allowed}");

        let r = app.clone().oneshot(preflight("https://elsewhere.example")).await.unwrap();
        assert!(r.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

        // The request itself is still guarded, and says who may read it.
        let get = |token: bool| {
            let mut b =
                Request::builder().uri("/fhir/Patient").header(header::ORIGIN, "https://app.example.org");
            if token {
                b = b.header(header::AUTHORIZATION, "Bearer x");
            }
            b.body(Body::empty()).unwrap()
        };
        assert_eq!(app.clone().oneshot(get(false)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        let r = app.oneshot(get(true)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.org");
        assert!(r.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("location"));
    }

    #[test]
    fn an_origin_that_is_not_a_header_value_is_refused() {
        assert!(with_cors(Router::new(), &["https://bad\norigin".into()]).is_err());
    }
}
