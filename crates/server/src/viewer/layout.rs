//! The page shell every viewer page shares: a skip link, a header saying who is signed in, for
//! which organisation and purpose, navigation for their role, and one stylesheet. Colours keep
//! at least 4.5:1 contrast; focus is always visible; every form control has a label.
use crate::trust::Scope;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lantern_policy::RequesterKind;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// A whole page, with the navigation for whoever `scope` names (None: signed out).
pub(crate) fn page(title: &str, scope: Option<&Scope>, body: Markup) -> Response {
    page_with_status(StatusCode::OK, title, scope, body)
}

pub(crate) fn page_with_status(
    status: StatusCode,
    title: &str,
    scope: Option<&Scope>,
    body: Markup,
) -> Response {
    let who = scope.map(|s| {
        let c = &s.caller;
        let org =
            c.requester.org.as_deref().map(|o| super::record::org_name(&super::record::org_names(s), o));
        (
            c.principal.user.clone(),
            c.requester.role.clone(),
            org,
            c.requester.kind,
            c.requester.purpose.code(),
        )
    });
    let markup = html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Lantern" }
                link rel="stylesheet" href="/assets/viewer.css";
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    div.brand { a href="/" { "Lantern" } span.tag { "shared care record" } }
                    @if let Some((name, role, org, kind, purpose)) = &who {
                        nav aria-label="Main" {
                            @match kind {
                                RequesterKind::Patient => {
                                    a href="/my-record" { "My record" }
                                    a href="/my-record/who-looked" { "Who looked at my record" }
                                }
                                _ => {
                                    a href="/patients" { "Find a patient" }
                                    @if matches!(role.as_deref(), Some("privacy-officer" | "admin")) || *kind == RequesterKind::System {
                                        a href="/privacy/break-glass" { "Break-glass reviews" }
                                    }
                                    @if matches!(role.as_deref(), Some("data-quality" | "admin")) || *kind == RequesterKind::System {
                                        a href="/data-quality/reviews" { "Identity reviews" }
                                    }
                                }
                            }
                        }
                        div.who {
                            span.name { (name) }
                            @if let Some(r) = role { " · " span { (r) } }
                            @if let Some(o) = org { " · " span { (o) } }
                            " · for " abbr title=(format!("purpose of use: {purpose}")) { (super::mine::purpose(purpose)) }
                            form.inline method="post" action="/signout" {
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer { "Every page you open is recorded in the audit log, and patients can see who looked at their record." }
            }
        }
    };
    let mut r = (status, Html(markup.into_string())).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// A message box: `kind` is `info`, `warn` or `error`.
pub(crate) fn notice(kind: &str, heading: &str, body: Markup) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! {
        div class=(format!("notice {kind}")) role=(role) {
            h2 { (heading) }
            (body)
        }
    }
}

/// A page that reports a failure in words.
pub(crate) fn failure(status: StatusCode, scope: Option<&Scope>, heading: &str, message: &str) -> Response {
    page_with_status(
        status,
        heading,
        scope,
        html! {
            h1 { (heading) }
            (notice("error", heading, html! { p { (message) } }))
            p { a href="/" { "Back to the start" } }
        },
    )
}

/// Shown when the server runs without trust (tests, embedding): the viewer needs a caller.
pub(crate) fn no_trust() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        None,
        "The viewer needs sign-in",
        "This server runs without authentication, so the viewer is off. Start it with `lantern serve` or `lantern demo`.",
    )
}

pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        PreEscaped(CSS).0,
    )
        .into_response()
}

const CSS: &str = r#"
:root { --blue: #005eb8; --dark: #212b32; --grey: #4c6272; --pale: #f0f4f5; --line: #d8dde0;
        --red: #b00020; --amber: #7a4d00; --amber-bg: #fff4e0; --green: #007f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 Arial, Helvetica, sans-serif; color: var(--dark); background: #fff; }
a { color: var(--blue); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, main:focus-visible {
  outline: 3px solid #ffb81c; outline-offset: 0; box-shadow: 0 0 0 3px var(--dark); }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 2; }
header.top { background: var(--blue); color: #fff; display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; padding: 8px 16px; }
header.top a { color: #fff; }
.brand a { font-weight: bold; font-size: 1.3em; text-decoration: none; } .brand .tag { margin-left: 8px; opacity: .9; }
header nav a { margin-right: 16px; font-weight: bold; }
.who { margin-left: auto; font-size: .95em; }
form.inline { display: inline; margin-left: 8px; }
button.link { background: none; border: none; color: #fff; text-decoration: underline; cursor: pointer; font: inherit; padding: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
footer { max-width: 1100px; margin: 24px auto; padding: 8px 16px; color: var(--grey); font-size: .9em; border-top: 1px solid var(--line); }
h1 { font-size: 1.7em; margin: .3em 0; } h2 { font-size: 1.25em; margin: 1em 0 .4em; }
.banner { background: var(--pale); border-left: 6px solid var(--blue); padding: 12px 16px; display: flex; flex-wrap: wrap; gap: 4px 28px; }
.banner h1 { width: 100%; margin: 0; }
.banner dt { font-size: .85em; color: var(--grey); } .banner dd { margin: 0; font-weight: bold; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 24px; }
section.card { border-top: 4px solid var(--blue); margin-top: 16px; }
section.card.warn { border-top-color: var(--red); }
ul.items { list-style: none; padding: 0; margin: 0; } ul.items > li { padding: 8px 0; border-bottom: 1px solid var(--line); }
.src { display: block; color: var(--grey); font-size: .88em; }
.empty { color: var(--grey); font-style: italic; }
.notice { padding: 12px 16px; margin: 12px 0; border-left: 6px solid var(--blue); background: var(--pale); }
.notice h2 { margin-top: 0; font-size: 1.1em; }
.notice.warn { border-color: var(--amber); background: var(--amber-bg); }
.notice.error { border-color: var(--red); background: #fde8ea; }
.flag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: .85em; font-weight: bold; }
.flag.red { background: var(--red); color: #fff; } .flag.amber { background: var(--amber); color: #fff; } .flag.green { background: var(--green); color: #fff; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--pale); }
form.stack label { display: block; font-weight: bold; margin-top: 10px; }
form.stack .hint { display: block; color: var(--grey); font-weight: normal; font-size: .9em; }
input[type=text], input[type=date], select, textarea { font: inherit; padding: 6px; border: 2px solid var(--dark); min-width: 16em; }
textarea { width: 100%; max-width: 40em; min-height: 5em; }
button.primary, input[type=submit] { font: inherit; font-weight: bold; background: var(--green); color: #fff; border: 0; border-bottom: 3px solid #003317; padding: 8px 16px; margin-top: 12px; cursor: pointer; }
button.danger { font: inherit; font-weight: bold; background: var(--red); color: #fff; border: 0; padding: 8px 16px; margin-top: 12px; cursor: pointer; }
.row { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-end; }
.users { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; }
.users form { border: 1px solid var(--line); padding: 12px; }
.users button { width: 100%; }
.timeline li { display: grid; grid-template-columns: 9em 1fr; gap: 12px; }
.timeline .date { font-weight: bold; }
fieldset { border: 1px solid var(--line); } legend { font-weight: bold; }
"#;
