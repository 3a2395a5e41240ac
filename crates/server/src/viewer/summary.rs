//! The summary a clinician reads first: who the patient is, warnings and allergies, current
//! medications merged across sources, active problems, recent and upcoming contacts, care plans,
//! recent results, and who else is involved — every item with where it came from and when, and
//! what is withheld said plainly.
use super::display::{self, NHS_SYSTEM};
use super::layout::{failure, notice, page};
use super::medications::current_medications;
use super::record::{self, org_name, org_names, Failure, Item, Record};
use super::ViewerState;
use crate::trust::Scope;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lantern_policy::RequesterKind;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

pub(crate) async fn page_route(
    State(st): State<ViewerState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let base = crate::http::request::base_url(&headers);
    match record::load(&st, &scope, &base, &id).await {
        Ok(r) => render(&st, &scope, &r),
        Err(f) => refused(&scope, &id, f),
    }
}

/// `GET /patients/{id}/summary.json`: the patient's International Patient Summary
/// (`Patient/[id]/$summary`) as a FHIR document to download and hand on (a referral, a
/// transfer of care), under the signed-in user's access as every page is, and recorded as a
/// look like them.
pub(crate) async fn ips_route(
    State(st): State<ViewerState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    use axum::response::IntoResponse;
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let base = crate::http::request::base_url(&headers);
    let ctx = crate::http::request::caller_ctx(&base);
    match st.app.fhir.summary(&ctx, &id, &[]).await {
        Ok(doc) => (
            [
                (axum::http::header::CONTENT_TYPE, "application/fhir+json; charset=utf-8".to_string()),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"patient-summary-{id}.json\""),
                ),
            ],
            doc,
        )
            .into_response(),
        Err(e) => refused(&scope, &id, e.into()),
    }
}

/// Why the record cannot be shown, with the way forward (break-glass) where there is one.
pub(crate) fn refused(scope: &Scope, id: &str, f: Failure) -> Response {
    match f {
        Failure::NotFound => failure(
            StatusCode::NOT_FOUND,
            Some(scope),
            "No such record",
            "There is no patient record with that id.",
        ),
        Failure::Other(e) => {
            failure(StatusCode::SERVICE_UNAVAILABLE, Some(scope), "The record could not be read", &e)
        }
        Failure::Refused(why) => {
            let may_glass = scope.caller.requester.kind == RequesterKind::User
                && scope.trust.policy.may_break_glass(&scope.caller.requester).is_ok();
            super::layout::page_with_status(
                StatusCode::FORBIDDEN,
                "Access refused",
                Some(scope),
                html! {
                    h1 { "You cannot see this record" }
                    (notice("warn", "Access refused by the access policy", html! {
                        p { (why) }
                        @if may_glass {
                            p { "If this is an emergency and the patient needs care now, you can break the glass. You will be asked why; the access lasts a limited time, is flagged in the audit log, and is reviewed by a privacy officer. The patient can see that you looked." }
                            p { a href=(format!("/patients/{id}/break-glass")) { "Break the glass" } }
                        }
                    }))
                },
            )
        }
    }
}

/// "From Riverside Surgery (gp-emis), updated 3 Nov 2026 14:02".
pub(crate) fn source(names: &HashMap<String, String>, body: &Value) -> Markup {
    let (holder, feed, updated) = record::provenance(names, body);
    html! {
        span.src {
            "From " (holder)
            @if let Some(f) = feed { " (" (f) ")" }
            @if let Some(u) = updated { ", updated " (u) }
        }
    }
}

fn status(body: &Value, field: &str) -> String {
    display::str_at(body, &[field, "coding", "code"])
        .or_else(|| body.get(field).and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

/// Items grouped by what they are about (code, else words), so a problem recorded at the GP
/// and at the hospital is one line with two sources.
fn grouped<'a>(items: impl Iterator<Item = &'a Item>, concept_field: &str) -> Vec<(String, Vec<&'a Item>)> {
    let mut groups: BTreeMap<String, (String, Vec<&Item>)> = BTreeMap::new();
    let mut by_code: HashMap<String, String> = HashMap::new();
    for i in items {
        let c = i.body.get(concept_field);
        let words = display::concept(c);
        let code = display::concept_key(c);
        let key = code.as_ref().and_then(|k| by_code.get(k).cloned()).unwrap_or_else(|| words.to_lowercase());
        if let Some(k) = code {
            by_code.entry(k).or_insert_with(|| key.clone());
        }
        groups.entry(key).or_insert_with(|| (words, Vec::new())).1.push(i);
    }
    groups.into_values().collect()
}

pub(crate) fn banner(st: &ViewerState, r: &Record, names: &HashMap<String, String>) -> Markup {
    let today = display::today(st.app.fhir.store.now_micros());
    let Some(p) = r.patient() else { return html! {} };
    let dob = p.get("birthDate").and_then(Value::as_str).unwrap_or("");
    let nhs = r.patients.iter().find_map(|p| display::identifier(&p.body, NHS_SYSTEM));
    let address = p.get("address").and_then(Value::as_array).and_then(|a| a.first());
    let addr_text = address.map(|a| {
        let mut parts: Vec<String> = a
            .get("line")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        parts.extend(
            ["city", "postalCode"]
                .iter()
                .filter_map(|k| a.get(k).and_then(Value::as_str))
                .map(str::to_string),
        );
        parts.join(", ")
    });
    let gp = r.patients.iter().find_map(|p| {
        let g = p.body.get("generalPractitioner")?.as_array()?.first()?;
        g.get("display")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| g.get("identifier")?.get("value")?.as_str().map(|o| org_name(names, o)))
    });
    let deceased = p.get("deceasedDateTime").and_then(Value::as_str).map(display::date).or_else(|| {
        (p.get("deceasedBoolean").and_then(Value::as_bool) == Some(true)).then(|| "yes".to_string())
    });
    html! {
        div.banner aria-label="Patient" {
            h1 { (display::person_name(p)) }
            dl { dt { "NHS number" } dd { (nhs.map(|n| display::nhs(&n)).unwrap_or_else(|| "not known".into())) } }
            dl { dt { "Born" } dd { (display::date(dob)) @if let Some(a) = display::age(dob, &today) { " (" (a) " years)" } } }
            dl { dt { "Sex" } dd { (p.get("gender").and_then(Value::as_str).unwrap_or("not recorded")) } }
            @if let Some(a) = addr_text { dl { dt { "Address" } dd { (a) } } }
            @if let Some(g) = gp { dl { dt { "GP practice" } dd { (g) } } }
            @if let Some(d) = deceased { dl { dt { "Died" } dd { (d) } } }
        }
        @if r.glass {
            (notice("warn", "Emergency access (break-glass)", html! {
                p { "You are seeing this record because you broke the glass. The access is time-limited, flagged in the audit log and will be reviewed by a privacy officer." }
            }))
        }
        @if !r.withheld.is_empty() {
            (notice("info", "Some information is withheld from you", html! {
                ul {
                    @for w in &r.withheld {
                        li { (w.count) @if w.count == 1 { " item" } @else { " items" } " held by " (org_name(names, &w.holder)) ": " (w.why) "." }
                    }
                }
                p { "Withheld items are not shown anywhere on these pages. Contact the holding organisation if you need them." }
            }))
        }
        nav aria-label="Record" {
            p {
                a href=(format!("/patients/{}", r.id)) { "Summary" } " · "
                a href=(format!("/patients/{}/timeline", r.id)) { "Timeline" } " · "
                a href=(format!("/patients/{}/summary.json", r.id)) download { "Patient summary (IPS, FHIR)" }
                @if r.patients.len() > 1 { " · joined from " (r.patients.len()) " linked records" }
            }
        }
    }
}

fn render(st: &ViewerState, scope: &Scope, r: &Record) -> Response {
    let names = org_names(scope);
    let now = display::today(st.app.fhir.store.now_micros());
    let meds = current_medications(r.items.iter(), &names);
    let flags: Vec<&Item> = r.of_type("Flag").filter(|i| status(&i.body, "status") != "inactive").collect();
    let allergies = grouped(
        r.of_type("AllergyIntolerance")
            .filter(|i| !matches!(status(&i.body, "clinicalStatus").as_str(), "inactive" | "resolved")),
        "code",
    );
    let problems = grouped(
        r.of_type("Condition").filter(|i| {
            matches!(status(&i.body, "clinicalStatus").as_str(), "" | "active" | "recurrence" | "relapse")
        }),
        "code",
    );
    let mut upcoming: Vec<&Item> = r
        .of_type("Appointment")
        .filter(|i| display::when(&i.body).is_some_and(|w| w.get(..10).unwrap_or("") >= now.as_str()))
        .filter(|i| {
            !matches!(
                status(&i.body, "status").as_str(),
                "cancelled" | "noshow" | "entered-in-error" | "fulfilled"
            )
        })
        .collect();
    upcoming.sort_by_key(|i| display::when(&i.body).unwrap_or("").to_string());
    let mut recent: Vec<&Item> = r
        .items
        .iter()
        .filter(|i| matches!(i.rtype.as_str(), "Encounter" | "Appointment"))
        .filter(|i| display::when(&i.body).is_some_and(|w| w.get(..10).unwrap_or("") < now.as_str()))
        .collect();
    recent.sort_by_key(|i| std::cmp::Reverse(display::when(&i.body).unwrap_or("").to_string()));
    recent.truncate(8);
    let plans: Vec<&Item> = r
        .of_type("CarePlan")
        .filter(|i| matches!(status(&i.body, "status").as_str(), "active" | "draft" | "on-hold"))
        .collect();
    let mut results: Vec<&Item> = r
        .of_type("Observation")
        .filter(|i| i.body.get("valueQuantity").is_some() || i.body.get("valueString").is_some())
        .collect();
    results.sort_by_key(|i| std::cmp::Reverse(display::when(&i.body).unwrap_or("").to_string()));
    results.truncate(10);
    let mut holders: BTreeMap<String, usize> = BTreeMap::new();
    for i in r.items.iter().chain(r.patients.iter()) {
        if let Some(h) = display::holder(&i.body) {
            *holders.entry(org_name(&names, h)).or_default() += 1;
        }
    }
    let episodes: Vec<&Item> =
        r.of_type("EpisodeOfCare").filter(|i| status(&i.body, "status") == "active").collect();
    let title = r.patient().map(display::person_name).unwrap_or_else(|| "Patient".into());
    page(
        &title,
        Some(scope),
        html! {
            (banner(st, r, &names))
            section.card.warn aria-labelledby="h-warn" {
                h2 #h-warn { "Warnings and allergies" }
                @if flags.is_empty() && allergies.is_empty() { p.empty { "No warnings or allergies recorded in what you can see." } }
                ul.items {
                    @for f in &flags {
                        li { span.flag.red { "Warning" } " " strong { (display::concept(f.body.get("code"))) } (source(&names, &f.body)) }
                    }
                    @for (words, items) in &allergies {
                        li {
                            span.flag.red { "Allergy" } " " strong { (words) }
                            @if let Some(m) = items.iter().find_map(|i| i.body.get("reaction")?.as_array()?.first()?.get("manifestation")?.as_array()?.first().map(|m| display::concept(Some(m)))) {
                                " — " (m)
                            }
                            @if items.iter().any(|i| i.body.get("criticality").and_then(Value::as_str) == Some("high")) { " " span.flag.amber { "high criticality" } }
                            @for i in items { (source(&names, &i.body)) }
                        }
                    }
                }
            }
            div.grid {
                section.card aria-labelledby="h-meds" {
                    h2 #h-meds { "Current medications" }
                    @if meds.is_empty() { p.empty { "No current medications in what you can see." } }
                    ul.items {
                        @for m in &meds {
                            li {
                                strong { (m.name) }
                                @if m.doses_differ { " " span.flag.amber { "doses differ between sources" } }
                                @for s in &m.sources {
                                    span.src {
                                        (s.kind) " at " (s.holder)
                                        @if let Some(f) = &s.feed { " (" (f) ")" }
                                        @if !s.dosage.is_empty() { ": " (s.dosage) }
                                        @if let Some(d) = &s.since { ", since " (d) }
                                        @if let Some(u) = &s.updated { ", updated " (u) }
                                    }
                                }
                            }
                        }
                    }
                }
                section.card aria-labelledby="h-problems" {
                    h2 #h-problems { "Active problems" }
                    @if problems.is_empty() { p.empty { "No active problems in what you can see." } }
                    ul.items {
                        @for (words, items) in &problems {
                            li {
                                strong { (words) }
                                @if let Some(o) = items.iter().find_map(|i| i.body.get("onsetDateTime").and_then(Value::as_str)) { " since " (display::date(o)) }
                                @for i in items { (source(&names, &i.body)) }
                            }
                        }
                    }
                }
            }
            div.grid {
                section.card aria-labelledby="h-upcoming" {
                    h2 #h-upcoming { "Upcoming appointments" }
                    @if upcoming.is_empty() { p.empty { "None booked." } }
                    ul.items { @for a in &upcoming { li { (contact(a)) (source(&names, &a.body)) } } }
                }
                section.card aria-labelledby="h-recent" {
                    h2 #h-recent { "Recent encounters and appointments" }
                    @if recent.is_empty() { p.empty { "None in what you can see." } }
                    ul.items { @for e in &recent { li { (contact(e)) (source(&names, &e.body)) } } }
                    p { a href=(format!("/patients/{}/timeline", r.id)) { "See the whole timeline" } }
                }
            }
            div.grid {
                section.card aria-labelledby="h-plans" {
                    h2 #h-plans { "Care plans" }
                    @if plans.is_empty() { p.empty { "No active care plans in what you can see." } }
                    ul.items {
                        @for p in &plans {
                            li {
                                strong { (p.body.get("title").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| display::concept(p.body.get("category").and_then(|c| c.get(0))))) }
                                @if let Some(d) = p.body.get("description").and_then(Value::as_str) { " — " (d) }
                                (source(&names, &p.body))
                            }
                        }
                    }
                }
                section.card aria-labelledby="h-results" {
                    h2 #h-results { "Recent results" }
                    @if results.is_empty() { p.empty { "No results in what you can see." } }
                    ul.items { @for o in &results { li { (result(o)) (source(&names, &o.body)) } } }
                }
            }
            section.card aria-labelledby="h-involved" {
                h2 #h-involved { "Who is involved in their care" }
                ul.items {
                    @for e in &episodes {
                        li {
                            strong { (e.body.get("managingOrganization").and_then(|m| m.get("display")).and_then(Value::as_str).map(str::to_string)
                                .or_else(|| display::holder(&e.body).map(|h| org_name(&names, h))).unwrap_or_default()) }
                            " — " (display::concept(e.body.get("type").and_then(|t| t.get(0))))
                            @if let Some(s) = display::str_at(&e.body, &["period", "start"]) { " since " (display::date(s)) }
                            (source(&names, &e.body))
                        }
                    }
                    @for (org, n) in &holders {
                        li { strong { (org) } span.src { "holds " (n) @if *n == 1 { " item" } @else { " items" } " of this record that you can see" } }
                    }
                }
            }
        },
    )
}

/// One encounter or appointment in a line: when, what, where, status.
pub(crate) fn contact(i: &Item) -> Markup {
    let b = &i.body;
    let when = display::when(b).map(display::date_time).unwrap_or_else(|| "date not recorded".into());
    let what = match i.rtype.as_str() {
        "Encounter" => {
            let class = display::str_at(b, &["class", "display"])
                .or_else(|| display::str_at(b, &["class", "code"]))
                .unwrap_or("");
            let t = display::concept(b.get("type").and_then(|t| t.get(0)));
            let kind = match class {
                "IMP" | "inpatient encounter" => "Hospital stay",
                "EMER" | "emergency" => "Emergency attendance",
                "AMB" | "ambulatory" => "Outpatient or clinic contact",
                "HH" | "home health" => "Home visit",
                "VR" | "virtual" => "Remote consultation",
                _ => "Contact",
            };
            if t.is_empty() || t.eq_ignore_ascii_case(kind) {
                kind.to_string()
            } else {
                format!("{kind}: {t}")
            }
        }
        "Appointment" => {
            let t = b
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| display::concept(b.get("serviceType").and_then(|t| t.get(0))));
            if t.is_empty() {
                "Appointment".into()
            } else {
                format!("Appointment: {t}")
            }
        }
        other => other.to_string(),
    };
    let end = display::str_at(b, &["period", "end"]).map(display::date_time);
    let status = b.get("status").and_then(Value::as_str).unwrap_or("");
    html! {
        span.date { (when) } @if let Some(e) = end { " to " (e) } " — " strong { (what) }
        @if !status.is_empty() { " (" (status) ")" }
    }
}

fn result(o: &Item) -> Markup {
    let b = &o.body;
    let name = display::concept(b.get("code"));
    let value = if let Some(q) = b.get("valueQuantity") {
        let v = q.get("value").map(|v| v.to_string()).unwrap_or_default();
        let u = q.get("unit").or_else(|| q.get("code")).and_then(Value::as_str).unwrap_or("");
        format!("{v} {u}")
    } else {
        b.get("valueString").and_then(Value::as_str).unwrap_or("").to_string()
    };
    let range = b.get("referenceRange").and_then(|r| r.get(0)).map(|r| {
        let lo = r.get("low").and_then(|l| l.get("value")).map(|v| v.to_string()).unwrap_or_default();
        let hi = r.get("high").and_then(|h| h.get("value")).map(|v| v.to_string()).unwrap_or_default();
        r.get("text").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("{lo}–{hi}"))
    });
    let abnormal =
        display::str_at(b, &["interpretation", "coding", "code"]).filter(|c| !matches!(*c, "N" | ""));
    html! {
        strong { (name) } ": " (value)
        @if let Some(r) = range { " (range " (r) ")" }
        @if let Some(a) = abnormal { " " span.flag.amber { (a) } }
        @if let Some(w) = display::when(b) { " on " (display::date(w)) }
    }
}
