//! The patient's own pages: their joined-up record, and who has looked at it — person, role,
//! organisation, when, what and why — from the audit log.
use super::display;
use super::layout::{failure, page};
use super::record::{org_name, org_names};
use crate::trust::ops;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lantern_policy::RequesterKind;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

pub(crate) async fn record() -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    if scope.caller.requester.kind != RequesterKind::Patient {
        return Redirect::to("/patients").into_response();
    }
    match scope.caller.requester.patients.first() {
        Some(id) => Redirect::to(&format!("/patients/{id}")).into_response(),
        None => failure(
            StatusCode::NOT_FOUND,
            Some(&scope),
            "No record found",
            "No record held in this region carries your NHS number yet.",
        ),
    }
}

/// A purpose of use in words.
pub(crate) fn purpose(code: &str) -> &str {
    match code {
        "TREAT" => "direct care",
        "ETREAT" => "emergency care",
        "PATRQT" => "your own request",
        "HOPERAT" => "running the service",
        "HRESCH" => "research",
        "PUBHLTH" => "public health",
        other => other,
    }
}

#[derive(Deserialize)]
pub(crate) struct Page {
    before: Option<i64>,
}

pub(crate) async fn who_looked(Query(p): Query<Page>) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let looks = match ops::who_looked(&scope, None, p.before, 100).await {
        Ok(l) => l,
        Err(r) => return failure(r.status, Some(&scope), "Who looked at your record", &r.message),
    };
    let names = org_names(&scope);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    page(
        "Who looked at my record",
        Some(&scope),
        html! {
            h1 { "Who looked at your record" }
            p { "Every time someone opens or searches your record, it is recorded in a tamper-evident log. This is that log, newest first. "
                "Your own looks and data arriving from the services that care for you are not listed." }
            @if looks.items.is_empty() {
                p.empty { "Nobody has looked at your record yet." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Role" }
                        th scope="col" { "Organisation" } th scope="col" { "What" } th scope="col" { "Why" }
                    } }
                    tbody {
                        @for l in &looks.items {
                            tr {
                                td { (display::date_time(&s(l, "when"))) }
                                td { (l.get("person").and_then(Value::as_str).unwrap_or("a system")) }
                                td { (s(l, "role")) }
                                td { (l.get("org").and_then(Value::as_str).map(|o| org_name(&names, o)).unwrap_or_default()) }
                                td {
                                    (s(l, "action").replace('-', " "))
                                    @let what: Vec<&str> = l.get("what").and_then(Value::as_array).map(|w| w.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                                    @if !what.is_empty() { span.src { (what.join(", ")) } }
                                }
                                td {
                                    (purpose(&s(l, "purpose")))
                                    @if l.get("break_glass").and_then(Value::as_bool) == Some(true) {
                                        " " span.flag.red { "emergency access" }
                                        @if let Some(r) = l.get("reason").and_then(Value::as_str) { span.src { (r) } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(n) = looks.next { p { a href=(format!("/my-record/who-looked?before={n}")) { "Older" } } }
            }
        },
    )
}
