//! Finding a patient, by NHS number or by name and date of birth, among the records the caller
//! may see. Records the patient index links to one person are shown as one person.
//!
//! When an NHS number search finds nothing the caller may see but the record exists, the page
//! says so (without any detail: the caller typed the number) and offers to break the glass —
//! otherwise an A&E doctor could never reach the break-glass flow for a patient their trust has
//! not seen. That look-up is recorded in the audit log against the patient.
use super::display::{self, NHS_SYSTEM};
use super::layout::{failure, notice, page};
use super::record::{org_name, org_names};
use super::ViewerState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lantern_policy::RequesterKind;
use lantern_service::Ctx;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
pub(crate) struct Find {
    #[serde(default)]
    nhs: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    given: String,
    #[serde(default)]
    birthdate: String,
}

/// What was asked, checked: an NHS number search or a demographic one.
fn criteria(f: &Find) -> Result<Option<Vec<(String, String)>>, String> {
    let nhs: String = f.nhs.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if !nhs.is_empty() {
        if nhs.len() != 10 || !nhs.chars().all(|c| c.is_ascii_digit()) {
            return Err("An NHS number has 10 digits.".into());
        }
        return Ok(Some(vec![("identifier".into(), format!("{NHS_SYSTEM}|{nhs}"))]));
    }
    let (family, given, dob) = (f.family.trim(), f.given.trim(), f.birthdate.trim());
    if family.is_empty() && given.is_empty() && dob.is_empty() {
        return Ok(None);
    }
    if family.is_empty() {
        return Err("Give the family name (with a date of birth if you can), or an NHS number.".into());
    }
    let mut pairs = vec![("family".to_string(), family.to_string())];
    if !given.is_empty() {
        pairs.push(("given".into(), given.to_string()));
    }
    if !dob.is_empty() {
        if lantern_fhir::datetime::range(dob).is_none() {
            return Err("The date of birth should look like 1950-03-31.".into());
        }
        pairs.push(("birthdate".into(), dob.to_string()));
    }
    Ok(Some(pairs))
}

fn patients(bundle: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(bundle).unwrap_or_default();
    v.get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("search").and_then(|s| s.get("mode")).and_then(Value::as_str) != Some("include"))
        .filter_map(|e| e.get("resource").cloned())
        .collect()
}

async fn results(st: &ViewerState, headers: &HeaderMap, f: Find) -> Response {
    let Some(scope) = crate::trust::current() else { return super::layout::no_trust() };
    let form = search_form(&f);
    let pairs = match criteria(&f) {
        Ok(Some(p)) => p,
        Ok(None) => return page("Find a patient", Some(&scope), html! { h1 { "Find a patient" } (form) }),
        Err(e) => {
            return page(
                "Find a patient",
                Some(&scope),
                html! {
                    h1 { "Find a patient" }
                    (notice("error", "Check the search", html! { p { (e) } }))
                    (form)
                },
            )
        }
    };
    let base = crate::http::request::base_url(headers);
    let ctx = crate::http::request::caller_ctx(&base);
    let mut query = pairs.clone();
    query.push(("_count".into(), "50".into()));
    let found = match st.app.fhir.search(&ctx, Some("Patient"), &query).await {
        Ok(b) => patients(&b),
        Err(e) => return failure(StatusCode::BAD_REQUEST, Some(&scope), "The search failed", &e.to_string()),
    };
    // One row per person: records the index links are grouped under the first one found.
    let mut groups: Vec<(Vec<String>, Vec<Value>)> = Vec::new();
    for p in found {
        let id = p.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let members = st.app.fhir.store.person_members(&id).await.unwrap_or_else(|_| vec![id.clone()]);
        match groups.iter_mut().find(|(m, _)| m.contains(&id)) {
            Some((_, records)) => records.push(p),
            None => groups.push((members, vec![p])),
        }
    }
    let names = org_names(&scope);
    let today = display::today(st.app.fhir.store.now_micros());
    let hidden = if groups.is_empty() && !f.nhs.trim().is_empty() {
        hidden_record(st, &scope, &base, &pairs).await
    } else {
        None
    };
    let may_glass = scope.caller.requester.kind == RequesterKind::User
        && scope.trust.policy.may_break_glass(&scope.caller.requester).is_ok();
    page(
        "Find a patient",
        Some(&scope),
        html! {
            h1 { "Find a patient" }
            (form)
            h2 #results { "Results" }
            @if groups.is_empty() {
                @if let Some(id) = &hidden {
                    (notice("warn", "You have no care relationship with this patient", html! {
                        p { "A record with NHS number " (display::nhs(&f.nhs)) " exists, but your organisation has no current care relationship with the patient, so it is not shown." }
                        @if may_glass {
                            p { "In an emergency you can break the glass: you will be asked why, the access is time-limited, and a privacy officer reviews it." }
                            p { a href=(format!("/patients/{id}/break-glass")) { "Break the glass for this patient" } }
                        } @else {
                            p { "Your role cannot break the glass." }
                        }
                    }))
                } @else {
                    p.empty { "No patient that you may see matches." }
                }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "NHS number" } th scope="col" { "Born" }
                        th scope="col" { "Sex" } th scope="col" { "Postcode" } th scope="col" { "Records" }
                    } }
                    tbody {
                        @for (members, records) in &groups {
                            @let p = &records[0];
                            @let id = p.get("id").and_then(Value::as_str).unwrap_or("");
                            @let dob = p.get("birthDate").and_then(Value::as_str).unwrap_or("");
                            tr {
                                td { a href=(format!("/patients/{id}")) { (display::person_name(p)) } }
                                td { (records.iter().find_map(|r| display::identifier(r, NHS_SYSTEM)).map(|n| display::nhs(&n)).unwrap_or_else(|| "not known".into())) }
                                td { (display::date(dob)) @if let Some(a) = display::age(dob, &today) { " (" (a) ")" } }
                                td { (p.get("gender").and_then(Value::as_str).unwrap_or("")) }
                                td { (display::str_at(p, &["address", "postalCode"]).unwrap_or("")) }
                                td {
                                    (members.len()) @if members.len() == 1 { " record" } @else { " linked records" }
                                    @for r in records {
                                        span.src { (display::holder(r).map(|o| org_name(&names, o)).unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(crate) async fn search(
    State(st): State<ViewerState>,
    headers: HeaderMap,
    Query(f): Query<Find>,
) -> Response {
    results(&st, &headers, f).await
}

/// A record the caller may not see, looked up by exact NHS number only; the look-up is noted
/// against the patient for the audit record.
async fn hidden_record(
    st: &ViewerState,
    scope: &crate::trust::Scope,
    base: &str,
    pairs: &[(String, String)],
) -> Option<String> {
    let mut q = pairs.to_vec();
    q.push(("_count".into(), "1".into()));
    q.push(("_elements".into(), "id".into()));
    let bundle = st.app.fhir.search(&Ctx::system(base), Some("Patient"), &q).await.ok()?;
    let id = patients(&bundle).first()?.get("id")?.as_str()?.to_string();
    if let Ok(mut seen) = scope.seen.lock() {
        seen.patients.insert(id.clone());
    }
    Some(id)
}

fn search_form(f: &Find) -> Markup {
    html! {
        form.stack method="get" action="/patients" role="search" {
            div.row {
                div {
                    label for="nhs" { "NHS number" }
                    input #nhs type="text" name="nhs" inputmode="numeric" autocomplete="off" value=(f.nhs);
                }
                div { p { strong { "or" } } }
                div {
                    label for="family" { "Family name" }
                    input #family type="text" name="family" autocomplete="off" value=(f.family);
                }
                div {
                    label for="given" { "Given name" }
                    input #given type="text" name="given" autocomplete="off" value=(f.given);
                }
                div {
                    label for="birthdate" { "Date of birth" }
                    input #birthdate type="date" name="birthdate" value=(f.birthdate);
                }
            }
            button.primary type="submit" { "Search" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_from_the_form() {
        let f = Find { nhs: "999 000 0018".into(), ..Default::default() };
        assert_eq!(criteria(&f).unwrap().unwrap()[0].1, format!("{NHS_SYSTEM}|9990000018"));
        assert!(criteria(&Find { nhs: "12345".into(), ..Default::default() }).is_err());
        assert!(criteria(&Find::default()).unwrap().is_none());
        assert!(criteria(&Find { given: "Ann".into(), ..Default::default() }).is_err());
        let f = Find { family: "Smith".into(), birthdate: "1950-03-31".into(), ..Default::default() };
        assert_eq!(criteria(&f).unwrap().unwrap().len(), 2);
        assert!(criteria(&Find {
            family: "Smith".into(),
            birthdate: "31/03/1950".into(),
            ..Default::default()
        })
        .is_err());
    }
}
