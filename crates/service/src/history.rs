//! History (R4 §3.1.0.9): instance, type and system, newest first, `_since`, `_at`, `_count`,
//! paged by change sequence so a page boundary never moves.
use crate::bundle::BundleText;
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::clock::format_instant;
use lantern_store::{HistoryQuery, HistoryScope, Op};
use serde_json::json;

impl Fhir {
    pub async fn history(
        &self,
        ctx: &Ctx,
        scope: HistoryScope,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let mut q =
            HistoryQuery { scope: scope.clone(), since: None, before: None, below_seq: None, count: 50 };
        let mut used = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "_since" | "_at" => {
                    let (lo, hi) = lantern_fhir::datetime::query_range(v).ok_or_else(|| {
                        Error::bad("invalid", Some(k), format!("{k} must be an instant, not '{v}'"))
                    })?;
                    if k == "_since" {
                        q.since = Some(lo);
                    } else {
                        q.before = Some(hi);
                    }
                    used.push((k.clone(), v.clone()));
                }
                "_count" => {
                    q.count = v
                        .parse::<usize>()
                        .map_err(|_| {
                            Error::bad(
                                "invalid",
                                Some("_count"),
                                format!("_count must be a whole number, not '{v}'"),
                            )
                        })?
                        .min(lantern_fhir::search::MAX_COUNT);
                }
                "_page" => {
                    q.below_seq = Some(v.parse().map_err(|_| {
                        Error::bad("invalid", Some("_page"), "the paging cursor is not valid")
                    })?)
                }
                "_format" | "_pretty" => {}
                _ => {
                    if ctx.handling == lantern_fhir::search::Handling::Strict {
                        return Err(Error::bad(
                            "not-supported",
                            Some(k),
                            format!("history does not support parameter '{k}'"),
                        ));
                    }
                }
            }
        }
        match &scope {
            HistoryScope::Type(t) | HistoryScope::Instance(t, _) => crate::prepare::check_type(t)?,
            HistoryScope::System => {}
        }
        if let HistoryScope::Instance(t, id) = &scope {
            if self.store.read(t, id).await?.is_none() {
                return Err(lantern_store::StoreError::NotFound(format!("{t}/{id}")).into());
            }
            self.check_visible(ctx, t, id).await?;
        }
        let count = q.count;
        let (entries, total) = self.store.history(q, ctx.access.clone()).await?;
        let path = match &scope {
            HistoryScope::System => format!("{}/_history", ctx.base),
            HistoryScope::Type(t) => format!("{}/{t}/_history", ctx.base),
            HistoryScope::Instance(t, id) => format!("{}/{t}/{id}/_history", ctx.base),
        };
        let qs = |extra: Option<String>| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &used {
                s.append_pair(k, v);
            }
            s.append_pair("_count", &count.to_string());
            if let Some(p) = extra {
                s.append_pair("_page", &p);
            }
            s.finish()
        };
        let mut links = vec![("self", format!("{path}?{}", qs(None)))];
        if entries.len() == count {
            if let Some(last) = entries.last() {
                links.push(("next", format!("{path}?{}", qs(Some(last.seq.to_string())))));
            }
        }
        let mut b = BundleText::new("history", self.store.now_micros(), total, &links);
        ctx.saw(entries.iter().map(|e| &e.stored));
        for e in &entries {
            let s = &e.stored;
            let (method, url, status) = match e.op {
                Op::Create => ("POST", s.rtype.clone(), "201 Created"),
                Op::Update => ("PUT", format!("{}/{}", s.rtype, s.id), "200 OK"),
                Op::Delete => ("DELETE", format!("{}/{}", s.rtype, s.id), "204 No Content"),
            };
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                s.body.as_deref(),
                json!({
                    "request": {"method": method, "url": url},
                    "response": {
                        "status": status,
                        "etag": format!("W/\"{}\"", s.version),
                        "lastModified": format_instant(s.updated),
                    }
                }),
            );
        }
        Ok(b.finish())
    }
}
