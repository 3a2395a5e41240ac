//! Search as a service (R4 §3.1.1): parse, run under the access filter, and build the
//! searchset Bundle with self/next links and `_summary`/`_elements` applied.
use crate::bundle::BundleText;
use crate::error::Error;
use crate::{elements, Ctx, Fhir};
use lantern_fhir::search::{self, Criterion, SearchRequest, SearchValue, Summary};
use lantern_fhir::{operation_outcome, Issue};
use lantern_store::Stored;
use serde_json::json;

pub(crate) fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A reference search value that is this server's own absolute URL (`{base}/Patient/1`) means
/// the local reference `Patient/1` (R4 §3.1.1.5.12: "relative and absolute URLs ... to the
/// same resource are treated as equivalent").
fn localise_references(c: &mut Criterion, base: &str) {
    match c {
        Criterion::Param { values, .. } => {
            for v in values {
                let SearchValue::ReferenceUrl(url) = v else { continue };
                let Some(rest) = url.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else { continue };
                let rest = rest.split("/_history/").next().unwrap_or(rest);
                if let Some((t, id)) = rest.split_once('/') {
                    if lantern_r4::is_resource_type(t) && !id.is_empty() && !id.contains('/') {
                        *v = SearchValue::Reference { rtype: Some(t.to_string()), id: id.to_string() };
                    }
                }
            }
        }
        Criterion::Missing { .. } | Criterion::Compartment { .. } => {}
        Criterion::Chain { inner, .. } | Criterion::Has { inner, .. } => localise_references(inner, base),
        Criterion::Any(groups) => groups.iter_mut().flatten().for_each(|c| localise_references(c, base)),
        Criterion::Not(all) => all.iter_mut().for_each(|c| localise_references(c, base)),
    }
}

/// The resource as the client asked to see it.
pub(crate) fn render(s: &Stored, req: &SearchRequest) -> Option<String> {
    let body = s.body.as_ref()?;
    let trim = !req.elements.is_empty()
        || matches!(req.summary, Some(Summary::True | Summary::Text | Summary::Data));
    if !trim {
        return Some(body.clone());
    }
    let mut v: serde_json::Value = serde_json::from_str(body).ok()?;
    if let Some(m) = req.summary {
        elements::apply_summary(&mut v, m);
    } else {
        elements::apply_elements(&mut v, &req.elements);
    }
    Some(v.to_string())
}

impl Fhir {
    /// Parses a search on `rtype` (None: the whole system) from query pairs.
    pub fn parse_search(
        &self,
        ctx: &Ctx,
        rtype: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<SearchRequest, Error> {
        if let Some(t) = rtype {
            crate::prepare::check_type(t)?;
        }
        let mut req = search::parse(rtype, pairs, ctx.handling).map_err(Error::BadRequest)?;
        for c in &mut req.criteria {
            localise_references(c, &ctx.base);
        }
        Ok(req)
    }

    /// Search in a compartment (R4 §3.1.0.8): `GET Patient/123/Observation?code=...` is the
    /// search on `rtype` with the resources of `compartment/id`'s compartment only. The
    /// compartment's owner need not exist (the answer is then empty), as on HAPI.
    pub async fn search_compartment(
        &self,
        ctx: &Ctx,
        compartment: &str,
        id: &str,
        rtype: &str,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        if !matches!(compartment, "Patient" | "Encounter" | "RelatedPerson" | "Practitioner" | "Device") {
            return Err(Error::UnknownType(format!(
                "{compartment} is not a compartment (Patient, Encounter, RelatedPerson, Practitioner, Device)"
            )));
        }
        if rtype == "*" {
            return self.search_whole_compartment(ctx, compartment, id, pairs).await;
        }
        let mut req = self.parse_search(ctx, Some(rtype), pairs)?;
        let c = search::compartment(compartment, id, rtype).ok_or_else(|| {
            Error::bad(
                "not-supported",
                None,
                format!("{rtype} resources are never in a {compartment}'s compartment"),
            )
        })?;
        req.criteria.push(c);
        self.search_parsed(ctx, req).await
    }

    /// `Patient/1/*` (R4 §3.1.0.8): every type of the compartment, searched with the parameters
    /// common to all resources (`_type` narrows the types; `_lastUpdated`, `_tag`, `_sort`...).
    /// The compartment alone, unlike `$everything`: no referenced resources, no linked records.
    async fn search_whole_compartment(
        &self,
        ctx: &Ctx,
        compartment: &str,
        id: &str,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let mut req = self.parse_search(ctx, None, pairs)?;
        let members: Vec<String> = lantern_r4::resource_types()
            .iter()
            .filter(|t| **t == compartment || !lantern_r4::compartment_params(compartment, t).is_empty())
            .map(|t| t.to_string())
            .collect();
        req.types = if req.types.is_empty() {
            members
        } else {
            let outside: Vec<&String> = req.types.iter().filter(|t| !members.contains(t)).collect();
            if let Some(t) = outside.first() {
                return Err(Error::bad(
                    "not-supported",
                    Some("_type"),
                    format!("{t} resources are never in a {compartment}'s compartment"),
                ));
            }
            req.types
        };
        let membership = match req.types.as_slice() {
            [one] => search::compartment(compartment, id, one),
            // Each type's own linking parameters are found by the store, which searches them
            // all in one union (see `compartment_across` there).
            _ => Some(Criterion::Compartment {
                compartment: compartment.to_string(),
                id: id.to_string(),
                params: Vec::new(),
                itself: false,
            }),
        };
        req.criteria.extend(membership);
        self.search_parsed(ctx, req).await
    }

    /// Runs a search and returns the searchset Bundle as JSON text.
    pub async fn search(
        &self,
        ctx: &Ctx,
        rtype: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let req = self.parse_search(ctx, rtype, pairs)?;
        self.search_parsed(ctx, req).await
    }

    pub async fn search_parsed(&self, ctx: &Ctx, req: SearchRequest) -> Result<String, Error> {
        let mut page = self.store.search(req.clone(), ctx.access.clone()).await?;
        self.render_person_links(ctx, &mut page.matches).await?;
        self.render_person_links(ctx, &mut page.included).await?;
        let within = req.criteria.iter().find_map(|c| match c {
            Criterion::Compartment { compartment, id, .. } => Some(format!("{compartment}/{id}/")),
            _ => None,
        });
        let path = match (&req.rtype, within) {
            (Some(t), within) => format!("{}/{}{t}", ctx.base, within.unwrap_or_default()),
            (None, Some(within)) => format!("{}/{within}*", ctx.base),
            (None, None) => ctx.base.clone(),
        };
        let mut used = req.used.clone();
        used.retain(|(k, _)| k != "_count");
        used.push(("_count".into(), req.count.to_string()));
        let mut links = vec![("self", format!("{path}?{}", encode_pairs(&used)))];
        if let Some(n) = &page.next {
            let mut p = used.clone();
            p.push(("_page".into(), n.clone()));
            links.push(("next", format!("{path}?{}", encode_pairs(&p))));
        }
        let mut b = BundleText::new("searchset", self.store.now_micros(), page.total, &links);
        ctx.saw(page.matches.iter().chain(page.included.iter()));
        for s in &page.matches {
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                render(s, &req).as_deref(),
                json!({"search": {"mode": "match"}}),
            );
        }
        for s in &page.included {
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                render(s, &req).as_deref(),
                json!({"search": {"mode": "include"}}),
            );
        }
        if !req.ignored.is_empty() {
            let issues: Vec<Issue> = req
                .ignored
                .iter()
                .map(|p| {
                    Issue::warning(
                        "not-supported",
                        Some(p.clone()),
                        format!("parameter '{p}' is not supported and was ignored"),
                    )
                })
                .collect();
            b.entry(
                None,
                Some(&operation_outcome(&issues).to_string()),
                json!({"search": {"mode": "outcome"}}),
            );
        }
        Ok(b.finish())
    }
}
