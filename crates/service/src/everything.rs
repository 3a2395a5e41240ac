//! `Patient/$everything` (R4 §6.1.0.14.1): every resource in the compartment of the patient
//! asked about and of every source record the patient index links to the same person
//! (`person_link`), paged by key with no cap. `_since` and `_count` are honoured; the paging
//! cursor is the last key served.
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
        let mut after = None;
        for (k, v) in pairs {
            match k.as_str() {
                "_count" => {
                    count = v
                        .parse::<usize>()
                        .map_err(|_| Error::bad("invalid", Some("_count"), "_count must be a whole number"))?
                        .clamp(1, 10_000)
                }
                "_since" => {
                    since = Some(
                        lantern_fhir::datetime::range(v)
                            .ok_or_else(|| {
                                Error::bad("invalid", Some("_since"), "_since must be an instant")
                            })?
                            .0,
                    )
                }
                "_page" => {
                    after = Some(v.parse::<i64>().map_err(|_| {
                        Error::bad("invalid", Some("_page"), "the paging cursor is not valid")
                    })?)
                }
                _ => {}
            }
        }
        let page = self.store.everything(patients, ctx.access.clone(), since, after, count).await?;
        let (mut resources, total, next) = (page.resources, page.total, page.next);
        self.render_person_links(ctx, &mut resources).await?;
        let path = format!("{}/Patient/{first}/$everything", ctx.base);
        let mut links = vec![("self", format!("{path}?_count={count}"))];
        if let Some(n) = next {
            links.push(("next", format!("{path}?_count={count}&_page={n}")));
        }
        let mut b = BundleText::new("searchset", self.store.now_micros(), total, &links);
        ctx.saw(&resources);
        for s in &resources {
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                s.body.as_deref(),
                json!({"search": {"mode": "match"}}),
            );
        }
        Ok(b.finish())
    }
}
