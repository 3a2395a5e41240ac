//! Breaking the glass from the viewer: a form asking for a reason code and a sentence, then
//! trust's own break-glass operation (grant, register entry and audit record in one commit).
use super::layout::{failure, notice, page_with_status};
use super::ViewerState;
use crate::trust::{ops, Scope};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

fn render(scope: &Scope, id: &str, error: Option<&str>, reason: &str, text: &str) -> Response {
    let cfg = &scope.trust.policy.config().break_glass;
    let body = html! {
        h1 { "Break the glass" }
        @if let Some(e) = error { (notice("error", "The glass was not broken", html! { p { (e) } })) }
        (notice("warn", "Only in an emergency", html! {
            p { "Use this only when the patient needs care now and you have no other way to see their record. "
                "Your access will last " (cfg.duration_minutes) " minutes, is flagged in the audit log, is reviewed by a privacy officer, and the patient can see that you looked." }
        }))
        form.stack method="post" action=(format!("/patients/{id}/break-glass")) {
            label for="reason" { "Reason" }
            select #reason name="reason" required {
                option value="" { "Choose a reason" }
                @for r in &cfg.reasons {
                    option value=(r) selected[r == reason] { (r.replace('-', " ")) }
                }
            }
            label for="text" { "Why do you need this record?" span.hint { "A sentence a privacy officer will read later, e.g. 'Unconscious in resus, need allergies and medications'." } }
            textarea #text name="text" required minlength="10" { (text) }
            button.danger type="submit" { "Break the glass and open the record" }
        }
        p { a href="/patients" { "Cancel" } }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page_with_status(status, "Break the glass", Some(scope), body)
}

pub(crate) async fn form(Path(id): Path<String>) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    if let Err(why) = scope.trust.policy.may_break_glass(&scope.caller.requester) {
        return failure(StatusCode::FORBIDDEN, Some(&scope), "You cannot break the glass", &why);
    }
    render(&scope, &id, None, "", "")
}

#[derive(Deserialize)]
pub(crate) struct Glass {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    text: String,
}

pub(crate) async fn submit(
    State(_st): State<ViewerState>,
    Path(id): Path<String>,
    Form(g): Form<Glass>,
) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    match ops::break_glass(&scope, &id, &g.reason, &g.text).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}")).into_response(),
        Err(r) if r.status == StatusCode::BAD_REQUEST => {
            render(&scope, &id, Some(&r.message), &g.reason, &g.text)
        }
        Err(r) => page_with_status(
            r.status,
            "Break the glass",
            Some(&scope),
            html! {
                h1 { "The glass was not broken" }
                (notice("error", "Refused", html! { p { (r.message) } }))
            },
        ),
    }
}
