//! The data-quality officer's identity review queue: pairs of records the patient index thought
//! might be one person but would not link on its own, each with both records side by side and
//! the index's explanation in words, to accept (link) or reject.
use super::display::{self, NHS_SYSTEM};
use super::layout::{failure, notice, page};
use super::record::{org_name, org_names};
use super::ViewerState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// Reviews per page: each carries two records and an explanation, so few fit a screen.
const PAGE: usize = 10;

/// The same rule as the `/identity` API routes.
fn refusal(scope: &crate::trust::Scope) -> Option<String> {
    scope.caller.refuse_path("/identity")
}

async fn demographics(st: &ViewerState, id: &str) -> Option<Value> {
    let id = id.trim_start_matches("Patient/");
    let s = st.app.fhir.store.read("Patient", id).await.ok()??;
    serde_json::from_str(s.body.as_deref()?).ok()
}

fn side(names: &HashMap<String, String>, id: &str, p: Option<&Value>) -> Markup {
    let Some(p) = p else { return html! { p.empty { (id) " (no longer readable)" } } };
    let a = p.get("address").and_then(|a| a.get(0));
    html! {
        dl {
            dt { "Record" } dd { (id) span.src { "held by " (display::holder(p).map(|o| org_name(names, o)).unwrap_or_default()) } }
            dt { "Name" } dd { (display::person_name(p)) }
            dt { "Born" } dd { (p.get("birthDate").and_then(Value::as_str).map(display::date).unwrap_or_default()) }
            dt { "Sex" } dd { (p.get("gender").and_then(Value::as_str).unwrap_or("")) }
            dt { "NHS number" } dd { (display::identifier(p, NHS_SYSTEM).map(|n| display::nhs(&n)).unwrap_or_else(|| "none".into())) }
            dt { "Address" } dd {
                (a.and_then(|a| a.get("line")).and_then(|l| l.get(0)).and_then(Value::as_str).unwrap_or("")) " "
                (a.and_then(|a| a.get("postalCode")).and_then(Value::as_str).unwrap_or(""))
            }
        }
    }
}

pub(crate) async fn queue(State(st): State<ViewerState>) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    if let Some(why) = refusal(&scope) {
        return failure(StatusCode::FORBIDDEN, Some(&scope), "Identity reviews", &why);
    }
    let reviews = match st.app.identity.reviews(Some("open".into()), None, PAGE).await {
        Ok(r) => r,
        Err(e) => {
            return failure(StatusCode::SERVICE_UNAVAILABLE, Some(&scope), "Identity reviews", &e.to_string())
        }
    };
    let names = org_names(&scope);
    let mut shown = Vec::new();
    for r in &reviews {
        let explanation = st.app.identity.explain(&r.patient_a, &r.patient_b).await.ok().map(|e| e.text);
        let a = demographics(&st, &r.patient_a).await;
        let b = demographics(&st, &r.patient_b).await;
        shown.push((r, explanation, a, b));
    }
    if let Ok(mut seen) = scope.seen.lock() {
        for r in &reviews {
            seen.patients.insert(r.patient_a.trim_start_matches("Patient/").to_string());
            seen.patients.insert(r.patient_b.trim_start_matches("Patient/").to_string());
        }
    }
    page(
        "Identity reviews",
        Some(&scope),
        html! {
            h1 { "Identity reviews" }
            p { "Pairs of records the patient index would not link or keep apart on its own. Accepting links them as one person (reversible from the index's event log); rejecting keeps them apart." }
            @if shown.is_empty() { p.empty { "No open reviews." } }
        @if shown.len() == PAGE { p { "The oldest " (PAGE) " open reviews; decide these to see more." } }
            @for (r, explanation, a, b) in &shown {
                section.card {
                    h2 { "Review " (r.id) ": score " (format!("{:.1}", r.score)) }
                    p { strong { "Why it is here: " } (r.reason) }
                    div.grid {
                        div { h3 { "Arriving record" } (side(&names, &r.patient_a, a.as_ref())) }
                        div { h3 { "Existing record" } (side(&names, &r.patient_b, b.as_ref())) }
                    }
                    @if let Some(t) = explanation {
                        details {
                            summary { "How each field compared" }
                            pre style="white-space:pre-wrap" { (t) }
                        }
                    }
                    form.stack method="post" action=(format!("/data-quality/reviews/{}", r.id)) {
                        label for=(format!("note-{}", r.id)) { "Note" span.hint { "What you checked, for the record." } }
                        input type="text" id=(format!("note-{}", r.id)) name="note";
                        div.row {
                            button.primary type="submit" name="decision" value="accept" { "Same person: link" }
                            button.danger type="submit" name="decision" value="reject" { "Different people: keep apart" }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct Decision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn decide(
    State(st): State<ViewerState>,
    Path(id): Path<i64>,
    Form(d): Form<Decision>,
) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    if let Some(why) = refusal(&scope) {
        return failure(StatusCode::FORBIDDEN, Some(&scope), "Identity reviews", &why);
    }
    let accept = match d.decision.as_str() {
        "accept" => true,
        "reject" => false,
        _ => {
            return failure(
                StatusCode::BAD_REQUEST,
                Some(&scope),
                "Identity reviews",
                "choose link or keep apart",
            )
        }
    };
    let by = format!("{}|{}", scope.caller.principal.issuer, scope.caller.principal.subject);
    let note = Some(d.note).filter(|n| !n.trim().is_empty());
    match st.app.identity.decide_review(id, accept, &by, note).await {
        Ok(_) => Redirect::to("/data-quality/reviews").into_response(),
        Err(e) => page(
            "Identity reviews",
            Some(&scope),
            html! {
                h1 { "Identity reviews" }
                (notice("error", "The decision was not recorded", html! { p { (e.to_string()) } }))
                p { a href="/data-quality/reviews" { "Back to the queue" } }
            },
        ),
    }
}
