//! Create, read, vread, update, delete and their conditional forms (R4 §3.1.0.1-3.1.0.5,
//! §3.1.0.8 conditional create, §3.1.0.4.3 conditional update, §3.1.0.7.1 conditional delete).
use crate::error::Error;
use crate::prepare::{self, check, check_type, new_id, valid_id};
use crate::{AuditedWrite, Ctx, Fhir};
use lantern_fhir::search::{self, SearchRequest};
use lantern_store::{StoreError, Stored, Written};
use serde_json::Value;

/// The result of a create: either a new resource, or (conditional create) the existing one.
#[derive(Debug, Clone)]
pub enum Created {
    New(Written),
    Existing(Stored),
}

fn withheld(rtype: &str, id: &str) -> Error {
    Error::Forbidden(format!(
        "{rtype}/{id} is not shared with you under the access policy (no care relationship, \
         no data-sharing agreement for it, the patient's opt-out, or a legal restriction)"
    ))
}

pub(crate) fn parse_query(rtype: &str, query: &str) -> Result<SearchRequest, Error> {
    // `If-None-Exist: Type?query` is taken as well as the bare query R4 asks for.
    let query = query.strip_prefix(&format!("{rtype}?")).unwrap_or(query).trim_start_matches('?');
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // Conditional operations must not silently drop criteria: unknown parameters are errors,
    // and one whose criteria are all empty (ignored, as search ignores them) matches nothing.
    let req = search::parse(Some(rtype), &pairs, search::Handling::Strict).map_err(Error::BadRequest)?;
    if req.criteria.is_empty() {
        return Err(Error::bad("invalid", None, "a conditional operation needs search criteria"));
    }
    Ok(req)
}

impl Fhir {
    pub async fn read(&self, ctx: &Ctx, rtype: &str, id: &str) -> Result<Stored, Error> {
        check_type(rtype)?;
        let what = format!("{rtype}/{id}");
        match self.store.read_as(rtype, id, ctx.access.clone()).await? {
            None => Err(StoreError::NotFound(what).into()),
            Some((s, _)) if s.deleted => Err(StoreError::Gone(what).into()),
            Some((_, false)) => Err(withheld(rtype, id)),
            Some((s, true)) => {
                ctx.saw([&s]);
                let mut one = [s];
                self.render_person_links(ctx, &mut one).await?;
                let [s] = one;
                Ok(s)
            }
        }
    }

    pub async fn vread(&self, ctx: &Ctx, rtype: &str, id: &str, version: &str) -> Result<Stored, Error> {
        check_type(rtype)?;
        let what = format!("{rtype}/{id}/_history/{version}");
        let v: i64 = version.parse().map_err(|_| StoreError::NotFound(what.clone()))?;
        match self.store.vread(rtype, id, v).await? {
            None => Err(StoreError::NotFound(what).into()),
            Some(s) if s.deleted => Err(StoreError::Gone(what).into()),
            Some(s) => {
                self.check_visible(ctx, rtype, id).await?;
                ctx.saw([&s]);
                Ok(s)
            }
        }
    }

    /// Refuses (403) a resource the caller's access filter withholds. The decision is the
    /// store's, on the same filter searches use, so a read cannot see what a search would not.
    pub(crate) async fn check_visible(&self, ctx: &Ctx, rtype: &str, id: &str) -> Result<(), Error> {
        if ctx.access.is_all() || self.store.is_visible(rtype, id, ctx.access.clone()).await? {
            return Ok(());
        }
        Err(withheld(rtype, id))
    }

    /// Create with a server-assigned id; with `if_none_exist`, only if nothing matches.
    pub async fn create(
        &self,
        ctx: &Ctx,
        rtype: &str,
        body: Value,
        if_none_exist: Option<&str>,
    ) -> Result<Created, Error> {
        check_type(rtype)?;
        check(rtype, &body)?;
        let mut body = body;
        prepare::localise_refs(&mut body, &ctx.base);
        let put = prepare::put(self, ctx, rtype, &new_id(), body, None, true);
        let cond = if_none_exist.map(|q| parse_query(rtype, q)).transpose()?;
        let rt = rtype.to_string();
        let ctx = ctx.clone();
        Ok(self
            .store
            .write(move |tx| {
                ctx.begin(tx);
                if let Some(q) = &cond {
                    let ids = tx.search_ids(q, 2)?;
                    match ids.len() {
                        0 => {}
                        1 => {
                            let s =
                                tx.read(&rt, &ids[0])?.ok_or_else(|| StoreError::NotFound(ids[0].clone()))?;
                            return Ok(Created::Existing(s));
                        }
                        _ => {
                            return Err(StoreError::PreconditionFailed(
                                "If-None-Exist matched more than one resource".into(),
                            ))
                        }
                    }
                }
                let w = tx.put(put)?;
                ctx.audit(tx, "create", &[AuditedWrite::of(&w.stored)])?;
                Ok(Created::New(w))
            })
            .await?)
    }

    /// Update, or create with the client's id (R4 update-as-create).
    pub async fn update(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        body: Value,
        if_match: Option<i64>,
    ) -> Result<Written, Error> {
        check_type(rtype)?;
        if !valid_id(id) {
            return Err(Error::bad("invalid", Some("id"), format!("'{id}' is not a valid resource id")));
        }
        check(rtype, &body)?;
        let mut body = body;
        prepare::localise_refs(&mut body, &ctx.base);
        match body.get("id").and_then(Value::as_str) {
            None => {
                return Err(Error::bad(
                    "required",
                    Some("id"),
                    "an update must carry the resource's id in the body",
                ))
            }
            Some(b) if b != id => {
                return Err(Error::bad(
                    "invalid",
                    Some("id"),
                    format!("the body's id '{b}' does not match the URL's id '{id}'"),
                ))
            }
            _ => {}
        }
        let put = prepare::put(self, ctx, rtype, id, body, if_match, false);
        let ctx = ctx.clone();
        Ok(self
            .store
            .write(move |tx| {
                ctx.begin(tx);
                let w = tx.put(put)?;
                ctx.audit(tx, "update", &[AuditedWrite::of(&w.stored)])?;
                Ok(w)
            })
            .await?)
    }

    /// Conditional update: `PUT Type?criteria`.
    pub async fn conditional_update(
        &self,
        ctx: &Ctx,
        rtype: &str,
        query: &str,
        body: Value,
        if_match: Option<i64>,
    ) -> Result<Written, Error> {
        check_type(rtype)?;
        check(rtype, &body)?;
        let mut body = body;
        prepare::localise_refs(&mut body, &ctx.base);
        let cond = parse_query(rtype, query)?;
        let body_id = body.get("id").and_then(Value::as_str).map(str::to_string);
        if let Some(b) = &body_id {
            if !valid_id(b) {
                return Err(Error::bad("invalid", Some("id"), format!("'{b}' is not a valid resource id")));
            }
        }
        let fhir = self.clone();
        let rt = rtype.to_string();
        let ctx = ctx.clone();
        // Index extraction needs the final id; it runs inside the job only for this rare path.
        Ok(self
            .store
            .write(move |tx| {
                ctx.begin(tx);
                let ids = tx.search_ids(&cond, 2)?;
                let id = match ids.len() {
                    0 => body_id.unwrap_or_else(new_id),
                    1 => {
                        if body_id.as_ref().is_some_and(|b| *b != ids[0]) {
                            return Err(StoreError::Invalid(vec![lantern_fhir::Issue::error(
                                "invalid",
                                Some("id".into()),
                                format!(
                                    "the body's id does not match the resource the criteria found ({})",
                                    ids[0]
                                ),
                            )]));
                        }
                        ids[0].clone()
                    }
                    _ => {
                        return Err(StoreError::PreconditionFailed(
                            "the conditional update's criteria matched more than one resource".into(),
                        ))
                    }
                };
                let put = prepare::put(&fhir, &ctx, &rt, &id, body, if_match, false);
                let w = tx.put(put)?;
                ctx.audit(tx, "update", &[AuditedWrite::of(&w.stored)])?;
                Ok(w)
            })
            .await?)
    }

    /// Delete (idempotent). Returns the deletion version, or None if there was nothing to delete.
    pub async fn delete(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<Option<Stored>, Error> {
        check_type(rtype)?;
        let (t, i) = (rtype.to_string(), id.to_string());
        let ctx = ctx.clone();
        Ok(self
            .store
            .write(move |tx| {
                ctx.begin(tx);
                let d = tx.delete(&t, &i, if_match)?;
                ctx.audit(tx, "delete", &d.iter().map(AuditedWrite::of).collect::<Vec<_>>())?;
                Ok(d)
            })
            .await?)
    }

    /// Conditional delete: `DELETE Type?criteria`; more than one match is refused (412).
    pub async fn conditional_delete(
        &self,
        ctx: &Ctx,
        rtype: &str,
        query: &str,
    ) -> Result<Option<Stored>, Error> {
        check_type(rtype)?;
        let cond = parse_query(rtype, query)?;
        let t = rtype.to_string();
        let ctx = ctx.clone();
        Ok(self
            .store
            .write(move |tx| {
                ctx.begin(tx);
                let ids = tx.search_ids(&cond, 2)?;
                match ids.len() {
                    0 => Ok(None),
                    1 => {
                        let d = tx.delete(&t, &ids[0], None)?;
                        ctx.audit(tx, "delete", &d.iter().map(AuditedWrite::of).collect::<Vec<_>>())?;
                        Ok(d)
                    }
                    _ => Err(StoreError::PreconditionFailed(
                        "the conditional delete's criteria matched more than one resource".into(),
                    )),
                }
            })
            .await?)
    }
}

/// A stored version's resource as JSON (`{}` for a deletion, which has none).
pub(crate) fn resource_of(st: &Stored) -> Result<Value, Error> {
    serde_json::from_str(st.body.as_deref().unwrap_or("{}")).map_err(|e| Error::Store(StoreError::db(e)))
}
