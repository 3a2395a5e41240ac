//! The timeline: hospital stays, appointments, contacts, episodes of care, procedures,
//! immunisations and reports across every organisation, newest first, filtered by organisation
//! and kind with a plain GET form.
use super::display;
use super::layout::page;
use super::record::{self, org_name, org_names, Item};
use super::summary::{banner, contact, refused, source};
use super::ViewerState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use std::collections::BTreeSet;

/// The kinds of event, as (filter value, label).
const KINDS: &[(&str, &str)] = &[
    ("stay", "Hospital stays and emergency attendances"),
    ("appointment", "Appointments"),
    ("contact", "Other contacts"),
    ("episode", "Episodes of care"),
    ("procedure", "Procedures"),
    ("immunisation", "Immunisations"),
    ("report", "Reports"),
];

fn kind_of(i: &Item) -> Option<&'static str> {
    Some(match i.rtype.as_str() {
        "Encounter" => {
            let class = display::str_at(&i.body, &["class", "code"]).unwrap_or("");
            if matches!(class, "IMP" | "EMER" | "ACUTE" | "NONAC" | "SS") {
                "stay"
            } else {
                "contact"
            }
        }
        "Appointment" => "appointment",
        "EpisodeOfCare" => "episode",
        "Procedure" => "procedure",
        "Immunization" => "immunisation",
        "DiagnosticReport" => "report",
        _ => return None,
    })
}

pub(crate) async fn page_route(
    State(st): State<ViewerState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let base = crate::http::request::base_url(&headers);
    let r = match record::load(&st, &scope, &base, &id).await {
        Ok(r) => r,
        Err(f) => return refused(&scope, &id, f),
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let org = pairs.iter().find(|(k, _)| k == "org").map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let kinds: BTreeSet<String> = pairs.iter().filter(|(k, _)| k == "kind").map(|(_, v)| v.clone()).collect();
    let names = org_names(&scope);
    let holders: BTreeSet<&str> = r.items.iter().filter_map(|i| display::holder(&i.body)).collect();
    let mut events: Vec<(&'static str, &Item)> = r
        .items
        .iter()
        .filter_map(|i| kind_of(i).map(|k| (k, i)))
        .filter(|(k, _)| kinds.is_empty() || kinds.contains(*k))
        .filter(|(_, i)| org.as_deref().is_none_or(|o| display::holder(&i.body) == Some(o)))
        .collect();
    events.sort_by_key(|(_, i)| std::cmp::Reverse(display::when(&i.body).unwrap_or("").to_string()));
    let title = r.patient().map(display::person_name).unwrap_or_else(|| "Patient".into());
    page(
        &format!("Timeline: {title}"),
        Some(&scope),
        html! {
            (banner(&st, &r, &names))
            h2 { "Timeline" }
            form.stack method="get" action=(format!("/patients/{id}/timeline")) {
                div.row {
                    div {
                        label for="org" { "Organisation" }
                        select #org name="org" {
                            option value="" { "All organisations" }
                            @for h in &holders {
                                option value=(h) selected[org.as_deref() == Some(*h)] { (org_name(&names, h)) }
                            }
                        }
                    }
                    fieldset {
                        legend { "Show" }
                        @for (k, label) in KINDS {
                            label style="display:inline-block;font-weight:normal;margin-right:12px" {
                                input type="checkbox" name="kind" value=(k) checked[kinds.contains(*k)];
                                " " (label)
                            }
                        }
                    }
                }
                button.primary type="submit" { "Filter" }
            }
            p { (events.len()) " events" @if !kinds.is_empty() || org.is_some() { " match the filter" } "." }
            ol.items.timeline {
                @for (k, i) in &events {
                    li {
                        span.date { (display::when(&i.body).map(display::date).unwrap_or_else(|| "undated".into())) }
                        div {
                            @match *k {
                                "stay" | "appointment" | "contact" => { (contact(i)) }
                                "episode" => {
                                    strong { "Episode of care: " (display::concept(i.body.get("type").and_then(|t| t.get(0)))) }
                                    " (" (i.body.get("status").and_then(Value::as_str).unwrap_or("")) ")"
                                    @if let Some(e) = display::str_at(&i.body, &["period", "end"]) { " until " (display::date(e)) }
                                }
                                "immunisation" => { strong { "Immunisation: " (display::concept(i.body.get("vaccineCode"))) } }
                                _ => { strong { (display::concept(i.body.get("code"))) } " (" (i.rtype) ")" }
                            }
                            (source(&names, &i.body))
                        }
                    }
                }
            }
        },
    )
}
