//! Search as a service (R4 §3.1.1): parse, run under the access filter, and build the
//! searchset Bundle with self/next links and `_summary`/`_elements` applied.
use crate::bundle::BundleText;
use crate::error::Error;
use crate::{elements, Ctx, Fhir};
use lantern_fhir::search::{self, SearchRequest, Summary};
use lantern_fhir::{operation_outcome, Issue};
use lantern_store::Stored;
use serde_json::json;

fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
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
        search::parse(rtype, pairs, ctx.handling).map_err(Error::BadRequest)
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
        let page = self.store.search(req.clone(), ctx.access.clone()).await?;
        let path = match &req.rtype {
            Some(t) => format!("{}/{t}", ctx.base),
            None => ctx.base.clone(),
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
