//! The privacy officer's break-glass review queue: every emergency access, who, when, for which
//! patient and why, to be marked appropriate, inappropriate or needing follow-up.
use super::display;
use super::layout::{failure, notice, page};
use super::record::{org_name, org_names};
use crate::trust::ops;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(crate) struct Filter {
    status: Option<String>,
}

pub(crate) async fn queue(Query(f): Query<Filter>) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let status = f.status.unwrap_or_else(|| "open".into());
    let rows = match ops::break_glass_queue(&scope, Some(&status)).await {
        Ok(r) => r,
        Err(r) => return failure(r.status, Some(&scope), "Break-glass reviews", &r.message),
    };
    let names = org_names(&scope);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    page(
        "Break-glass reviews",
        Some(&scope),
        html! {
            h1 { "Break-glass reviews" }
            p {
                @for (k, label) in [("open", "Awaiting review"), ("reviewed", "Reviewed"), ("all", "All")] {
                    @if k == status { strong { (label) } } @else { a href=(format!("/privacy/break-glass?status={k}")) { (label) } }
                    " "
                }
            }
            @if rows.is_empty() { p.empty { "Nothing here." } }
            @for r in &rows {
                @let id = r.get("id").and_then(Value::as_i64).unwrap_or(0);
                @let patient = s(r, "patient");
                section.card {
                    h2 { "Emergency access " (id) }
                    table {
                        tbody {
                            tr { th scope="row" { "When" } td { (display::date_time(&s(r, "at"))) " until " (display::date_time(&s(r, "until"))) } }
                            tr { th scope="row" { "Who" } td { (s(r, "user")) " (" (s(r, "role")) ", " (org_name(&names, &s(r, "org"))) ")" } }
                            tr { th scope="row" { "Patient" } td { (patient) } }
                            tr { th scope="row" { "Reason" } td { strong { (s(r, "reason").replace('-', " ")) } ": " (s(r, "text")) } }
                            @if r.get("reviewed_at").is_some_and(|v| !v.is_null()) {
                                tr { th scope="row" { "Review" } td { strong { (s(r, "outcome")) } " by " (s(r, "reviewer")) " on " (display::date_time(&s(r, "reviewed_at"))) ": " (s(r, "note")) } }
                            }
                        }
                    }
                    @if r.get("reviewed_at").is_none_or(Value::is_null) {
                        form.stack method="post" action=(format!("/privacy/break-glass/{id}")) {
                            div.row {
                                div {
                                    label for=(format!("outcome-{id}")) { "Outcome" }
                                    select id=(format!("outcome-{id}")) name="outcome" required {
                                        @for o in ops::REVIEW_OUTCOMES { option value=(o) { (o.replace('-', " ")) } }
                                    }
                                }
                                div {
                                    label for=(format!("note-{id}")) { "Note" }
                                    input type="text" id=(format!("note-{id}")) name="note";
                                }
                            }
                            button.primary type="submit" { "Record the review" }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct Review {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn review(Path(id): Path<i64>, Form(r): Form<Review>) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    match ops::review_break_glass(&scope, id, &r.outcome, &r.note).await {
        Ok(()) => Redirect::to("/privacy/break-glass").into_response(),
        Err(e) => page(
            "Break-glass reviews",
            Some(&scope),
            html! {
                h1 { "Break-glass reviews" }
                (notice("error", "The review was not recorded", html! { p { (e.message) } }))
                p { a href="/privacy/break-glass" { "Back to the queue" } }
            },
        ),
    }
}
