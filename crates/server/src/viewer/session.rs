//! Signing in and out. A session is a bearer token kept in an `HttpOnly`, `SameSite=Strict`
//! cookie, verified by the trust guard on every page exactly like an API token. With the
//! development issuer on (the demo), the sign-in page offers the demo users and signs a token
//! for the one chosen. With `[auth.sign_in]` configured, "Sign in with ..." runs the OpenID
//! Connect authorization-code flow (`lantern_auth::SignIn`) and keeps the token it yields. A
//! token can also be pasted (a login proxy in front can set the same cookie).
//!
//! The OpenID Connect round trip keeps its `state`, `nonce` and PKCE verifier in a cookie of
//! its own (`lantern_oidc`, ten minutes, `SameSite=Lax` because the provider's redirect back is
//! a cross-site navigation that a `Strict` cookie would not ride on), so any server behind a
//! load balancer can finish a sign-in another began. The callback answers with a page that
//! moves on by itself rather than a redirect: the session cookie is `Strict`, and a browser
//! does not send it on a redirect chain that began at another site.
use super::layout::{notice, page_with_status};
use super::{DemoUser, ViewerState};
use crate::trust::Security;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lantern_audit::{Action, Agent, Entry, Outcome};
use lantern_auth::{Pending, SignInError};
use maud::html;
use serde::Deserialize;
use std::time::Duration;

pub(crate) const COOKIE: &str = "lantern_session";
const OIDC_COOKIE: &str = "lantern_oidc";
/// How long a person may take at the provider's sign-in page.
const OIDC_WAIT: Duration = Duration::from_secs(600);
/// How long a viewer session lasts: one working shift.
const SESSION: Duration = Duration::from_secs(8 * 3600);

pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("lantern_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn set_cookie(token: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}").parse().ok()
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
        @if let Some(oidc) = &st.cfg.sign_in {
            form method="get" action="/signin/oidc" {
                input type="hidden" name="next" value=(next);
                button.primary type="submit" { "Sign in with " (oidc.label()) }
            }
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
    let Some(cookie) = set_cookie(&token, SESSION.as_secs(), false) else {
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

#[derive(Deserialize)]
pub(crate) struct Begin {
    next: Option<String>,
}

/// Sends the browser to the OpenID Connect provider, remembering the attempt in a cookie.
pub(crate) async fn oidc_begin(State(st): State<ViewerState>, Query(q): Query<Begin>) -> Response {
    let Some(oidc) = &st.cfg.sign_in else {
        return render(
            &st,
            q.next.as_deref(),
            Some("this server has no OpenID Connect sign-in configured ([auth.sign_in])"),
            StatusCode::NOT_FOUND,
        );
    };
    let (url, pending) = oidc.begin();
    let next = URL_SAFE_NO_PAD.encode(safe_next(q.next.as_deref()));
    let secure = if oidc.over_tls() { "; Secure" } else { "" };
    let cookie = format!(
        "{OIDC_COOKIE}={}.{}.{}.{next}; Path=/signin; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        pending.state,
        pending.nonce,
        pending.verifier,
        OIDC_WAIT.as_secs()
    );
    let mut r = Redirect::to(&url).into_response();
    if let Ok(v) = cookie.parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The attempt kept by [`oidc_begin`], and where to go after it.
fn pending_attempt(headers: &HeaderMap) -> Option<(Pending, String)> {
    let value = super::cookie(headers, OIDC_COOKIE)?;
    let mut parts = value.split('.');
    let (Some(state), Some(nonce), Some(verifier), Some(next), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let next = String::from_utf8(URL_SAFE_NO_PAD.decode(next).ok()?).ok()?;
    let pending = Pending { state: state.into(), nonce: nonce.into(), verifier: verifier.into() };
    Some((pending, safe_next(Some(&next))))
}

/// The provider sends the browser back here with a code (or an error); the code becomes a session.
pub(crate) async fn oidc_callback(
    State(st): State<ViewerState>,
    Query(q): Query<Callback>,
    headers: HeaderMap,
) -> Response {
    let Security::Enforced(trust) = &st.app.security else { return super::layout::no_trust() };
    let Some(oidc) = &st.cfg.sign_in else {
        return render(
            &st,
            None,
            Some("this server has no OpenID Connect sign-in configured"),
            StatusCode::NOT_FOUND,
        );
    };
    let attempt = pending_attempt(&headers);
    let next = attempt.as_ref().map(|(_, n)| n.clone());
    let result: Result<(lantern_auth::SignedIn, String), (StatusCode, String)> = async {
        if let Some(e) = &q.error {
            let detail = q.error_description.as_deref().map(|d| format!(": {}", clip(d))).unwrap_or_default();
            return Err((
                StatusCode::UNAUTHORIZED,
                format!("the sign-in service said `{}`{detail}", clip(e)),
            ));
        }
        let (pending, next) = attempt.ok_or((
            StatusCode::BAD_REQUEST,
            "this sign-in was not started here, or took longer than ten minutes; please start again"
                .to_string(),
        ))?;
        // `state` ties the answer to the browser that asked: a code injected from elsewhere
        // (login CSRF) carries another state.
        if q.state.as_deref() != Some(pending.state.as_str()) {
            return Err((
                StatusCode::BAD_REQUEST,
                "the answer from the sign-in service does not belong to this sign-in; please start again"
                    .into(),
            ));
        }
        let code = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or((StatusCode::BAD_REQUEST, "the sign-in service sent no authorisation code".to_string()))?;
        let signed = oidc.finish(&trust.verifier, code, &pending).await.map_err(|e| {
            let status = match e {
                SignInError::Provider(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::UNAUTHORIZED,
            };
            (status, e.to_string())
        })?;
        Ok((signed, next))
    }
    .await;
    match result {
        Ok((signed, next)) => signed_in(oidc.over_tls(), signed, &next),
        Err((status, why)) => {
            // Failed sign-ins are an attack signal worth keeping; nothing about the person is
            // trusted yet, so only the reason is.
            let entry = Entry::new(Action::LoginFailed, Agent::anonymous(None))
                .at(trust.fhir.store.now_micros())
                .with_outcome(Outcome::refused(status.as_u16(), why.clone()))
                .with_query("GET /signin/callback".to_string());
            let _ = trust.audit.record(vec![entry]).await;
            let mut r = render(&st, next.as_deref(), Some(&why), status);
            r.headers_mut().append(header::SET_COOKIE, clear_oidc_cookie());
            r
        }
    }
}

/// Keeps the session and moves on to `next` from a page of ours (see the module docs for why
/// not a redirect).
fn signed_in(secure: bool, signed: lantern_auth::SignedIn, next: &str) -> Response {
    let left = signed.principal.expires - time::OffsetDateTime::now_utc().unix_timestamp();
    let max_age = left.clamp(0, SESSION.as_secs() as i64) as u64;
    let Some(cookie) = set_cookie(&signed.token, max_age, secure) else {
        return page_with_status(
            StatusCode::BAD_GATEWAY,
            "Sign in",
            None,
            html! { p { "The sign-in service's token cannot be kept in a cookie." } },
        );
    };
    let markup = html! {
        (maud::DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(format!("0;url={next}"));
                title { "Signed in — Lantern" }
                link rel="stylesheet" href="/assets/viewer.css";
            }
            body {
                main #main {
                    p { "Signed in as " (signed.principal.user) ". " a href=(next) { "Continue" } }
                }
            }
        }
    };
    let mut r = (StatusCode::OK, Html(markup.into_string())).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r.headers_mut().append(header::SET_COOKIE, clear_oidc_cookie());
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn clear_oidc_cookie() -> HeaderValue {
    HeaderValue::from_static("lantern_oidc=; Path=/signin; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// A provider's words, kept short: they are shown on the page.
fn clip(s: &str) -> String {
    s.chars().take(300).collect()
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

    #[test]
    fn the_pending_attempt_survives_its_cookie_and_bad_ones_do_not() {
        let next = URL_SAFE_NO_PAD.encode("/patients?nhs=9434765919");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("a=1; {OIDC_COOKIE}=s.n.v.{next}").parse().unwrap());
        let (p, n) = pending_attempt(&h).unwrap();
        assert_eq!((p.state.as_str(), p.nonce.as_str(), p.verifier.as_str()), ("s", "n", "v"));
        assert_eq!(n, "/patients?nhs=9434765919");
        // Somewhere else after sign-in is never followed.
        let evil = URL_SAFE_NO_PAD.encode("https://evil.example/");
        h.insert(header::COOKIE, format!("{OIDC_COOKIE}=s.n.v.{evil}").parse().unwrap());
        assert_eq!(pending_attempt(&h).unwrap().1, "/");
        for bad in ["s.n.v", "s.n.v.x.y", "s.n.v.!!"] {
            h.insert(header::COOKIE, format!("{OIDC_COOKIE}={bad}").parse().unwrap());
            assert!(pending_attempt(&h).is_none(), "{bad}");
        }
    }
}
