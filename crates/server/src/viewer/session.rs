//! Signing in and out. A session is a bearer token kept in an `HttpOnly`, `SameSite=Strict`
//! cookie, verified by the trust guard on every page exactly like an API token. With the
//! development issuer on (the demo), the sign-in page offers the demo users and signs a token
//! for the one chosen; with a configured OpenID Connect issuer, a token it issued is accepted
//! from the form (a login proxy in front can set the same cookie).
use super::layout::{notice, page_with_status};
use super::{DemoUser, ViewerState};
use crate::trust::Security;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::time::Duration;

pub(crate) const COOKIE: &str = "lantern_session";
/// How long a viewer session lasts: one working shift.
const SESSION: Duration = Duration::from_secs(8 * 3600);

pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("lantern_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn set_cookie(token: &str) -> Option<HeaderValue> {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION.as_secs()).parse().ok()
}

/// Only a local path may follow sign-in (never another site: `//host` or `https://...`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    error: Option<String>,
}

pub(crate) async fn page(State(st): State<ViewerState>, Query(q): Query<SignInQuery>) -> Response {
    render(&st, q.next.as_deref(), q.error.as_deref(), StatusCode::OK)
}

fn render(st: &ViewerState, next: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    let next = safe_next(next);
    let (users, patients): (Vec<&DemoUser>, Vec<&DemoUser>) =
        st.cfg.users.iter().partition(|u| u.kind != "patient");
    let body = html! {
        h1 { "Sign in" }
        @if let Some(e) = error {
            (notice("error", "Sign-in failed", html! { p { (e) } }))
        }
        @if !st.cfg.users.is_empty() {
            p { "This is a demonstration region with synthetic people. Choose who to be:" }
            h2 { "Staff" }
            div.users {
                @for u in &users {
                    form method="post" action="/signin" {
                        input type="hidden" name="user" value=(u.id);
                        input type="hidden" name="next" value=(next);
                        button.primary type="submit" { "Sign in as " (u.name) }
                        p {
                            @if let Some(r) = &u.role { strong { (r) } }
                            @if let Some(o) = u.org_name.as_ref().or(u.org.as_ref()) { ", " (o) }
                        }
                        @if let Some(b) = &u.blurb { p.src { (b) } }
                    }
                }
            }
            @if !patients.is_empty() {
                h2 { "Patients" }
                div.users {
                    @for u in &patients {
                        form method="post" action="/signin" {
                            input type="hidden" name="user" value=(u.id);
                            input type="hidden" name="next" value="/my-record";
                            button.primary type="submit" { "Sign in as " (u.name) }
                            @if let Some(b) = &u.blurb { p.src { (b) } }
                        }
                    }
                }
            }
            @if !st.cfg.showcase.is_empty() {
                h2 { "Patients worth looking at" }
                table {
                    thead { tr { th scope="col" { "NHS number" } th scope="col" { "Name" } th scope="col" { "Born" } th scope="col" { "Why" } } }
                    tbody {
                        @for s in &st.cfg.showcase {
                            tr {
                                td { (super::display::nhs(&s.nhs_number)) }
                                td { (s.name) }
                                td { (s.birth_date.as_deref().map(super::display::date).unwrap_or_default()) }
                                td { (s.why) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Sign in with a token" }
        form.stack method="post" action="/signin" {
            label for="token" { "Access token" span.hint { "A token from your organisation's sign-in service (OpenID Connect)." } }
            textarea #token name="token" autocomplete="off" spellcheck="false" {}
            input type="hidden" name="next" value=(next);
            button.primary type="submit" { "Sign in" }
        }
    };
    page_with_status(status, "Sign in", None, body)
}

#[derive(Deserialize)]
pub(crate) struct SignIn {
    user: Option<String>,
    token: Option<String>,
    next: Option<String>,
}

pub(crate) async fn sign_in(State(st): State<ViewerState>, Form(f): Form<SignIn>) -> Response {
    let Security::Enforced(trust) = &st.app.security else { return super::layout::no_trust() };
    let token = match (&f.user, f.token.as_deref().map(str::trim).filter(|t| !t.is_empty())) {
        (_, Some(t)) => t.to_string(),
        (Some(id), None) => match demo_token(&st, id) {
            Ok(t) => t,
            Err(e) => return render(&st, f.next.as_deref(), Some(&e), StatusCode::BAD_REQUEST),
        },
        (None, None) => {
            return render(
                &st,
                f.next.as_deref(),
                Some("choose a user or paste a token"),
                StatusCode::BAD_REQUEST,
            )
        }
    };
    // Check it now, so a bad token is refused here rather than on the next page.
    if let Err(e) = trust.verifier.verify_header(Some(&format!("Bearer {token}"))) {
        return render(&st, f.next.as_deref(), Some(&e.diagnostic()), StatusCode::UNAUTHORIZED);
    }
    let Some(cookie) = set_cookie(&token) else {
        return render(
            &st,
            f.next.as_deref(),
            Some("that token cannot be kept in a cookie"),
            StatusCode::BAD_REQUEST,
        );
    };
    let mut r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    r
}

/// Signs a token for a demo user with the development issuer.
fn demo_token(st: &ViewerState, id: &str) -> Result<String, String> {
    use lantern_auth::{DevClaims, Purpose};
    let issuer =
        st.cfg.issuer.as_ref().ok_or("demo sign-in is off on this server (no development issuer)")?;
    let u =
        st.cfg.users.iter().find(|u| u.id == id).ok_or_else(|| format!("there is no demo user '{id}'"))?;
    let claims = if u.kind == "patient" {
        DevClaims::patient(u.nhs_number.as_deref().unwrap_or("")).map_err(|e| e.to_string())?
    } else {
        let (org, role) = (u.org.as_deref().unwrap_or(""), u.role.as_deref().unwrap_or(""));
        let mut c = DevClaims::user(&u.id, org, role).map_err(|e| e.to_string())?;
        if let Some(p) = u.purpose.as_deref().and_then(Purpose::parse) {
            c = c.with_purpose(p);
        }
        c
    };
    Ok(issuer.issue(&claims.with_name(&u.name), SESSION))
}

pub(crate) async fn sign_out() -> Response {
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_sign_in() {
        assert_eq!(safe_next(Some("/patients/1")), "/patients/1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
