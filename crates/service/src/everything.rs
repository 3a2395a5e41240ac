//! `Patient/$everything` (R4 §6.1.0.14.1): every resource in the compartment of the patient
//! asked about and of every source record the patient index links to the same person
//! (`person_link`), paged by key with no cap. `_since`, `_type`, `_count`, `start` and `end`
//! are honoured and kept in the paging links; the paging cursor is the last key served.
//! `start` and `end` select by care dates, which each type keeps in its own parameters
//! (`lantern_fhir::search::care_date_params`); a resource with none (the Patient, an undated
//! allergy) is always in, since no range can place it. Other parameters are refused under
//! `Prefer: handling=strict` and otherwise ignored with a warning in the Bundle (an
//! OperationOutcome entry, search mode `outcome`), like any parameter a server does not know.
use crate::bundle::BundleText;
use crate::error::Error;
use crate::{Ctx, Fhir};
use serde_json::json;

impl Fhir {
    /// `patients` are logical ids of Patient records, the one asked about first; each is
    /// expanded to every record linked to its person.
    pub async fn everything(
        &self,
        ctx: &Ctx,
        patients: Vec<String>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let first = patients.first().cloned().unwrap_or_default();
        self.read(ctx, "Patient", &first).await?;
        let mut all: Vec<String> = Vec::new();
        for p in &patients {
            for m in self.store.person_members(p).await? {
                if !all.contains(&m) {
                    all.push(m);
                }
            }
        }
        let patients = all;
        let mut count = 1000usize;
        let mut since = None;
        let mut care: Option<(i64, i64)> = None;
        let mut types: Vec<String> = Vec::new();
        let mut after = None;
        let mut keep: Vec<(String, String)> = Vec::new();
        let mut ignored: Vec<String> = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "_count" => {
                    count = v
                        .parse::<usize>()
                        .map_err(|_| Error::bad("invalid", Some("_count"), "_count must be a whole number"))?
                        .clamp(1, 10_000)
                }
                "_type" => {
                    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        crate::prepare::check_type(t)
                            .map_err(|e| Error::bad("invalid", Some("_type"), e.to_string()))?;
                        types.push(t.to_string());
                    }
                    keep.push((k.clone(), v.clone()));
                }
                "_since" => {
                    keep.push((k.clone(), v.clone()));
                    since = Some(
                        lantern_fhir::datetime::query_range(v)
                            .ok_or_else(|| {
                                Error::bad("invalid", Some("_since"), "_since must be an instant")
                            })?
                            .0,
                    )
                }
                "start" | "end" => {
                    let (lo, hi) = lantern_fhir::datetime::query_range(v).ok_or_else(|| {
                        Error::bad("invalid", Some(k.as_str()), format!("{k} must be a date, not '{v}'"))
                    })?;
                    let (from, to) = care.unwrap_or((i64::MIN, i64::MAX));
                    care = Some(if k == "start" { (lo, to) } else { (from, hi) });
                    keep.push((k.clone(), v.clone()));
                }
                // Answered by the HTTP layer, as for every interaction.
                "_format" | "_pretty" => {}
                "_page" => {
                    after = Some(v.parse::<i64>().map_err(|_| {
                        Error::bad("invalid", Some("_page"), "the paging cursor is not valid")
                    })?)
                }
                _ if ctx.handling == crate::Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("Patient/$everything does not support the parameter '{k}'"),
                    ))
                }
                // Said in the Bundle, as a search says it: a clinician who asked for `start`
                // and `end` must see that every date came back.
                _ => ignored.push(k.clone()),
            }
        }
        let window = lantern_store::search::EverythingWindow { since, care, types, after, count };
        let page = self.store.everything(patients, ctx.access.clone(), window).await?;
        let (mut resources, mut included, total, next) =
            (page.resources, page.included, page.total, page.next);
        self.render_person_links(ctx, &mut resources).await?;
        self.render_person_links(ctx, &mut included).await?;
        let path = format!("{}/Patient/{first}/$everything", ctx.base);
        let mut query = format!("_count={count}");
        for (k, v) in &keep {
            query.push_str(&format!(
                "&{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ));
        }
        let mut links = vec![("self", format!("{path}?{query}"))];
        if let Some(n) = next {
            links.push(("next", format!("{path}?{query}&_page={n}")));
        }
        let mut b = BundleText::new("searchset", self.store.now_micros(), total, &links);
        ctx.saw(&resources);
        ctx.saw(&included);
        // The compartment's resources are the matches `total` counts; what they refer to comes
        // along as `include`, as a search's `_include` would bring it.
        for (list, mode) in [(&resources, "match"), (&included, "include")] {
            for s in list {
                b.entry(
                    Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                    s.body.as_deref(),
                    json!({"search": {"mode": mode}}),
                );
            }
        }
        if !ignored.is_empty() {
            let issues: Vec<lantern_fhir::Issue> = ignored
                .iter()
                .map(|p| {
                    lantern_fhir::Issue::warning(
                        "not-supported",
                        Some(p.clone()),
                        format!("Patient/$everything does not support the parameter '{p}'; it was ignored"),
                    )
                })
                .collect();
            b.entry(
                None,
                Some(&lantern_fhir::operation_outcome(&issues).to_string()),
                json!({"search": {"mode": "outcome"}}),
            );
        }
        Ok(b.finish())
    }
}
