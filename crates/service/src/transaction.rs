//! Batch and transaction bundles (R4 §3.1.0.11). A transaction runs as one store job, so it is
//! all or nothing on both backends and its conditional lookups see a consistent state.
//!
//! Processing order follows the specification: DELETE, then POST, then PUT/PATCH, then GET.
//! The reads of a transaction are part of its all-or-nothing: each read of something it does
//! not write is tried before the job, and one that fails fails the transaction unwritten.
//! Identity resolution is split so that the expensive part runs outside the single writer:
//! before the job, every entry that creates a resource gets an id, every fullUrl (`urn:uuid:`,
//! or an absolute `base/Type/id`, against which the entry's relative references resolve) and
//! every conditional reference (`Patient?identifier=...`) becomes a provisional `Type/<id>`,
//! and the index entries are extracted. Inside the job, conditional creates,
//! updates and references are resolved against the store; where one resolves to an existing
//! resource, its provisional id is swapped for the real one in the JSON and the index entries
//! (a cheap substitution, no second FHIRPath evaluation).
use crate::bundle::BundleText;
use crate::error::Error;
use crate::patch::{patch_document, Edit};
use crate::prepare::{self, check, check_type, new_id, valid_id};
use crate::{AuditedWrite, Ctx, Fhir};
use lantern_fhir::index::IndexValue;
use lantern_fhir::search::{self, SearchRequest};
use lantern_fhir::Issue;
use lantern_store::clock::format_instant;
use lantern_store::{HistoryScope, Put, StoreError, Stored, WriteTx};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Delete,
    Post,
    Put,
    Patch,
    Get,
}

/// One entry, ready for the writer.
struct Entry {
    index: usize,
    method: Method,
    rtype: String,
    /// The target id for Type/id URLs, or the provisional id for creates.
    id: Option<String>,
    /// Search criteria for conditional update/delete/create.
    condition: Option<SearchRequest>,
    if_match: Option<i64>,
    put: Option<Put>,
    /// For PATCH: the patch, applied to the current resource before the job.
    edit: Option<Edit>,
    url: String,
}

/// A step run inside a transaction's store job (see [`Fhir::transaction_with`]).
type Extra = Box<dyn FnOnce(&mut WriteTx<'_>) -> Result<(), StoreError> + Send>;

/// What happened to one entry.
enum Done {
    Written { stored: Stored, created: bool },
    Existing(Stored),
    Deleted,
    NotFound,
}

fn entry_issue(i: usize, code: &'static str, msg: impl Into<String>) -> Error {
    Error::BadRequest(vec![Issue::error(code, Some(format!("Bundle.entry[{i}]")), msg)])
}

fn with_entry(i: usize, e: StoreError) -> StoreError {
    let prefix = |m: &str| format!("Bundle.entry[{i}]: {m}");
    match e {
        StoreError::Invalid(mut v) => {
            for x in &mut v {
                x.diagnostics = prefix(&x.diagnostics);
            }
            StoreError::Invalid(v)
        }
        StoreError::Unprocessable(mut v) => {
            for x in &mut v {
                x.diagnostics = prefix(&x.diagnostics);
            }
            StoreError::Unprocessable(v)
        }
        StoreError::PreconditionFailed(m) => StoreError::PreconditionFailed(prefix(&m)),
        StoreError::Conflict(m) => StoreError::Conflict(prefix(&m)),
        StoreError::NotFound(m) => StoreError::NotFound(prefix(&m)),
        StoreError::VersionConflict { what, expected, current } => {
            StoreError::VersionConflict { what: prefix(&what), expected, current }
        }
        other => other,
    }
}

/// Replaces every `reference` string found in `map`; returns whether anything changed.
fn rewrite_refs(v: &mut Value, map: &HashMap<String, String>) -> bool {
    rewrite_refs_from(v, map, None)
}

/// As [`rewrite_refs`], for a resource whose entry's fullUrl is the RESTful URL `base/Type/id`:
/// a relative reference `Patient/34` in it means `base/Patient/34` (R4 §2.36.4.1, resolving
/// references in Bundles), so it is looked up in that form too. Document bundles (the
/// International Patient Summary's, for one) are written this way: absolute fullUrls,
/// relative references between their entries.
fn rewrite_refs_from(v: &mut Value, map: &HashMap<String, String>, base: Option<&str>) -> bool {
    let mut changed = false;
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if k == "reference" {
                    if let Value::String(s) = child {
                        let found = map.get(s.as_str()).or_else(|| {
                            let base = base?;
                            is_relative(s).then(|| map.get(&format!("{base}/{s}")))?
                        });
                        if let Some(n) = found {
                            *s = n.clone();
                            changed = true;
                        }
                    }
                } else {
                    changed |= rewrite_refs_from(child, map, base);
                }
            }
        }
        Value::Array(a) => {
            for c in a {
                changed |= rewrite_refs_from(c, map, base);
            }
        }
        _ => {}
    }
    changed
}

/// `Type/id`: a relative reference (not a URL, a URN, a fragment or a conditional reference).
fn is_relative(r: &str) -> bool {
    r.split_once('/')
        .is_some_and(|(t, id)| lantern_r4::is_resource_type(t) && !id.is_empty() && !id.contains(['/', '?']))
}

/// The service base of a fullUrl of the form `http(s)://.../Type/id`, if it is one.
fn rest_base(full_url: &str) -> Option<&str> {
    if !(full_url.starts_with("http://") || full_url.starts_with("https://")) {
        return None;
    }
    let (rest, id) = full_url.rsplit_once('/')?;
    let (base, t) = rest.rsplit_once('/')?;
    (lantern_r4::is_resource_type(t) && !id.is_empty() && base.contains("://")).then_some(base)
}

/// Collects conditional references (`Type?criteria`) in a resource.
fn conditional_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                if k == "reference" {
                    if let Some(s) = c.as_str() {
                        if let Some((t, _)) = s.split_once('?') {
                            if lantern_r4::is_resource_type(t) {
                                out.push(s.to_string());
                            }
                        }
                    }
                } else {
                    conditional_refs(c, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| conditional_refs(c, out)),
        _ => {}
    }
}

fn parse_condition(rtype: &str, query: &str) -> Result<SearchRequest, Vec<Issue>> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let req = search::parse(Some(rtype), &pairs, search::Handling::Strict)?;
    // Empty parameters are ignored, as search ignores them; criteria must be left.
    if req.criteria.is_empty() {
        return Err(vec![Issue::error(
            "invalid",
            None,
            "a conditional reference or request needs search criteria",
        )]);
    }
    Ok(req)
}

impl Fhir {
    /// Processes a `transaction` or `batch` Bundle and returns the response Bundle as JSON text.
    /// `representation`: include each written resource in the response (Prefer: return=representation).
    pub async fn bundle(&self, ctx: &Ctx, bundle: Value, representation: bool) -> Result<String, Error> {
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(Error::bad("invalid", Some("resourceType"), "expected a Bundle"));
        }
        match bundle.get("type").and_then(Value::as_str) {
            Some("transaction") => self.transaction(ctx, bundle, representation, None).await,
            Some("batch") => self.batch(ctx, bundle, representation).await,
            Some(t) => Err(Error::bad(
                "invalid",
                Some("Bundle.type"),
                format!("a Bundle of type '{t}' cannot be processed; send a transaction or a batch"),
            )),
            None => Err(Error::bad("required", Some("Bundle.type"), "the Bundle has no type")),
        }
    }

    /// Processes a transaction Bundle and runs `extra` inside the same store job, after its
    /// writes (so it sees them): both commit or neither does. Feeds use it to record the inbox
    /// row of the message the bundle came from, which makes "stored and applied" one atomic
    /// step, and to apply an A40's merge to the patient index.
    pub async fn transaction_with<F>(&self, ctx: &Ctx, bundle: Value, extra: F) -> Result<String, Error>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<(), StoreError> + Send + 'static,
    {
        self.transaction(ctx, bundle, false, Some(Box::new(extra))).await
    }

    async fn transaction(
        &self,
        ctx: &Ctx,
        bundle: Value,
        representation: bool,
        extra: Option<Extra>,
    ) -> Result<String, Error> {
        let raw_entries = bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        // 1. Read every entry and give every created resource an id.
        let mut urls: HashMap<String, String> = HashMap::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(raw_entries.len());
        let mut resources: Vec<Option<Value>> = Vec::with_capacity(raw_entries.len());
        let mut targets: HashMap<String, usize> = HashMap::new();
        for (i, e) in raw_entries.iter().enumerate() {
            let req =
                e.get("request").ok_or_else(|| entry_issue(i, "required", "the entry has no request"))?;
            let mut method = match req.get("method").and_then(Value::as_str) {
                Some("GET") | Some("HEAD") => Method::Get,
                Some("POST") => Method::Post,
                Some("PUT") => Method::Put,
                Some("PATCH") => Method::Patch,
                Some("DELETE") => Method::Delete,
                m => {
                    return Err(entry_issue(
                        i,
                        "invalid",
                        format!("request.method {m:?} is not one of GET, HEAD, POST, PUT, PATCH, DELETE"),
                    ))
                }
            };
            let url = req
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| entry_issue(i, "required", "the entry's request has no url"))?;
            let mut url = url
                .strip_prefix(&format!("{}/", ctx.base))
                .unwrap_or(url)
                .trim_start_matches('/')
                .to_string();
            // An operation that changes nothing, POSTed with a Parameters resource, is answered as
            // the same operation by GET with those parameters in its query.
            if method == Method::Post {
                let path = url.split('?').next().unwrap_or("");
                let (rtype, op) =
                    (path.split('/').next().unwrap_or(""), path.rsplit('/').next().unwrap_or(""));
                if READ_ONLY_OPERATIONS.contains(&(rtype, op)) {
                    url = query_with_parameters(&url, op, e.get("resource"))
                        .map_err(|err| prefix_err(i, err))?;
                    method = Method::Get;
                }
            }
            if url.split(['?', '/']).next().is_some_and(|s| s.ends_with(':')) {
                return Err(entry_issue(
                    i,
                    "not-supported",
                    format!(
                        "request.url '{url}' is an absolute URL on another server (this one is {}); \
                         give it relative, as Type, Type/id or Type?query",
                        ctx.base
                    ),
                ));
            }
            let (path, query) = match url.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q.to_string())),
                None => (url.clone(), None),
            };
            let mut segs = path.split('/');
            let rtype = segs.next().unwrap_or_default().to_string();
            let id = segs.next().map(str::to_string);
            if method != Method::Get {
                check_type(&rtype).map_err(|e| entry_issue(i, "not-supported", e.to_string()))?;
                // An operation or a POST search in a Bundle (the specification's own transaction
                // example posts `ValueSet/$lookup`) would otherwise be taken for a create.
                if let Some(op) = path.split('/').find(|s| s.starts_with('$') || *s == "_search") {
                    return Err(entry_issue(
                        i,
                        "not-supported",
                        format!(
                            "{op} is not supported inside a Bundle (request.url '{url}'): call it on its own"
                        ),
                    ));
                }
            }
            let if_match = req.get("ifMatch").and_then(Value::as_str).and_then(crate::parse_etag);
            let resource = e.get("resource").cloned();
            let mut entry = Entry {
                index: i,
                method,
                rtype: rtype.clone(),
                id: id.clone(),
                condition: None,
                if_match,
                put: None,
                edit: None,
                url: url.clone(),
            };
            match method {
                Method::Post => {
                    if id.is_some() {
                        return Err(entry_issue(
                            i,
                            "invalid",
                            format!("a POST entry creates: its request.url is a resource type ('{rtype}'), not '{url}' (use PUT to give the id)"),
                        ));
                    }
                    let r = resource
                        .as_ref()
                        .ok_or_else(|| entry_issue(i, "required", "a POST entry needs a resource"))?;
                    check(&rtype, r).map_err(|err| prefix_err(i, err))?;
                    let new = new_id();
                    if let Some(q) = req.get("ifNoneExist").and_then(Value::as_str) {
                        // The query alone, as R4 has it; `Type?query` too, as some senders
                        // (and the specification's own XDS example) write it.
                        let q = q.strip_prefix(&format!("{rtype}?")).unwrap_or(q).trim_start_matches('?');
                        entry.condition = Some(
                            parse_condition(&rtype, q).map_err(|v| prefix_err(i, Error::BadRequest(v)))?,
                        );
                        // Keyed like a conditional update, so references with the same criteria find it.
                        entry.url = format!("{rtype}?{q}");
                    }
                    if let Some(f) = e.get("fullUrl").and_then(Value::as_str) {
                        urls.insert(f.to_string(), format!("{rtype}/{new}"));
                    }
                    entry.id = Some(new);
                }
                Method::Put => {
                    let r = resource
                        .as_ref()
                        .ok_or_else(|| entry_issue(i, "required", "a PUT entry needs a resource"))?;
                    check(&rtype, r).map_err(|err| prefix_err(i, err))?;
                    match (&id, &query) {
                        (Some(id), None) => {
                            if !valid_id(id) {
                                return Err(entry_issue(i, "invalid", format!("'{id}' is not a valid id")));
                            }
                            if r.get("id").and_then(Value::as_str).is_some_and(|b| b != id) {
                                return Err(entry_issue(
                                    i,
                                    "invalid",
                                    "the resource's id does not match request.url",
                                ));
                            }
                        }
                        (None, Some(q)) => {
                            entry.condition = Some(
                                parse_condition(&rtype, q)
                                    .map_err(|v| prefix_err(i, Error::BadRequest(v)))?,
                            );
                            entry.id = Some(
                                r.get("id")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                                    .unwrap_or_else(new_id),
                            );
                        }
                        _ => {
                            return Err(entry_issue(
                                i,
                                "invalid",
                                format!("'{url}' is not Type/id or Type?criteria"),
                            ))
                        }
                    }
                    if let (Some(f), Some(id)) = (e.get("fullUrl").and_then(Value::as_str), &entry.id) {
                        urls.insert(f.to_string(), format!("{rtype}/{id}"));
                    }
                }
                Method::Delete => {
                    if let (None, Some(q)) = (&id, &query) {
                        entry.condition = Some(
                            parse_condition(&rtype, q).map_err(|v| prefix_err(i, Error::BadRequest(v)))?,
                        );
                    } else if id.is_none() {
                        return Err(entry_issue(i, "invalid", "DELETE needs Type/id or Type?criteria"));
                    }
                }
                Method::Patch => {
                    if id.is_none() || query.is_some() {
                        return Err(entry_issue(
                            i,
                            "not-supported",
                            format!("a PATCH entry's request.url is Type/id, not '{url}' (a conditional patch is not supported in a Bundle)"),
                        ));
                    }
                    let r = resource.as_ref().ok_or_else(|| {
                        entry_issue(
                            i,
                            "required",
                            "a PATCH entry needs a resource: a FHIRPath Patch (Parameters) or a Binary holding a JSON Patch",
                        )
                    })?;
                    let body = patch_document(r).map_err(|m| entry_issue(i, "invalid", m))?;
                    entry.edit = Some(Edit::parse(&body).map_err(|err| prefix_err(i, err))?);
                }
                Method::Get => {}
            }
            if matches!(method, Method::Put | Method::Patch | Method::Delete) && entry.condition.is_none() {
                let key = format!("{rtype}/{}", entry.id.clone().unwrap_or_default());
                if let Some(j) = targets.insert(key.clone(), i) {
                    return Err(entry_issue(i, "invalid", format!("entries {j} and {i} both act on {key}")));
                }
            }
            resources.push(resource);
            entries.push(entry);
        }
        // 2. Conditional references become provisional ids, resolved in the job.
        let mut cond_refs: HashMap<String, (String, String)> = HashMap::new(); // query -> (type, provisional id)
        for r in resources.iter().flatten() {
            let mut found = Vec::new();
            conditional_refs(r, &mut found);
            for q in found {
                let t = q.split_once('?').map(|(t, _)| t.to_string()).unwrap_or_default();
                cond_refs.entry(q).or_insert_with(|| (t, new_id()));
            }
        }
        for (q, (t, prov)) in &cond_refs {
            urls.insert(q.clone(), format!("{t}/{prov}"));
        }
        let mut cond_ref_reqs = Vec::new();
        for (q, (t, prov)) in &cond_refs {
            let (_, query) = q.split_once('?').unwrap_or_default();
            let req = parse_condition(t, query).map_err(Error::BadRequest)?;
            cond_ref_reqs.push((t.clone(), prov.clone(), req, q.clone()));
        }
        // 3. Rewrite references and extract index entries, in parallel with other requests. A
        // patch is applied here to the version read now, and written only if that version is
        // still current when the job runs (as a PATCH on its own is).
        for ((entry, res), raw) in entries.iter_mut().zip(resources.iter_mut()).zip(&raw_entries) {
            if let (Some(edit), Some(id)) = (entry.edit.take(), entry.id.clone()) {
                res.take();
                let i = entry.index;
                let r =
                    self.patched(ctx, &entry.rtype, &id, &edit, entry.if_match).await.map_err(
                        |err| match err {
                            Error::Store(se) => Error::Store(with_entry(i, se)),
                            other => prefix_err(i, other),
                        },
                    )?;
                let (mut r, version) = r;
                // What the patch made is checked as a PUT's body is.
                check(&entry.rtype, &r).map_err(|err| prefix_err(i, err))?;
                rewrite_refs(&mut r, &urls);
                let mut put = prepare::put(self, ctx, &entry.rtype, &id, r, Some(version), false);
                put.wants_body = representation;
                entry.put = Some(put);
                continue;
            }
            if let (Some(r), Some(id)) = (res.take(), entry.id.clone()) {
                if matches!(entry.method, Method::Post | Method::Put) {
                    let mut r = r;
                    crate::prepare::localise_refs(&mut r, &ctx.base);
                    let base = raw.get("fullUrl").and_then(Value::as_str).and_then(rest_base);
                    rewrite_refs_from(&mut r, &urls, base);
                    let mut put = prepare::put(
                        self,
                        ctx,
                        &entry.rtype,
                        &id,
                        r,
                        entry.if_match,
                        entry.method == Method::Post,
                    );
                    put.wants_body = representation;
                    entry.put = Some(put);
                }
            }
        }
        let order = {
            let mut o: Vec<usize> = (0..entries.len()).collect();
            o.sort_by_key(|i| (entries[*i].method, *i));
            o
        };
        let n = entries.len();
        let gets: Vec<(usize, String)> =
            entries.iter().filter(|e| e.method == Method::Get).map(|e| (e.index, e.url.clone())).collect();
        // R4: a transaction succeeds or fails whole, its reads included. The reads are answered
        // after the writes (which they may need to see), so each read of something this
        // transaction does not write is tried first: one that fails fails the transaction with
        // nothing written. (Not recorded as a look: the answer given after the writes is.)
        let written: HashSet<String> = entries
            .iter()
            .filter(|e| e.method != Method::Get)
            .filter_map(|e| e.id.as_ref().map(|id| format!("{}/{id}", e.rtype)))
            .collect();
        let mut quiet = ctx.clone();
        quiet.seen = None;
        for (i, url) in &gets {
            let path = url.split('?').next().unwrap_or("");
            let target: String = path.split('/').take(2).collect::<Vec<_>>().join("/");
            if written.contains(&target) {
                continue;
            }
            if let Err(e) = self.get_result(&quiet, url).await {
                return Err(match e {
                    Error::Store(s) => Error::Store(with_entry(*i, s)),
                    other => prefix_err(*i, other),
                });
            }
        }
        // 4. The job: deletes; then resolve conditional creates/updates and conditional
        // references; then write, swapping provisional ids for real ones.
        let job_ctx = ctx.clone();
        let results = self
            .store
            .write(move |tx| {
                job_ctx.begin(tx);
                let mut done: Vec<Option<Done>> = (0..n).map(|_| None).collect();
                let mut audited: Vec<AuditedWrite> = Vec::new();
                for &i in order.iter().filter(|i| entries[**i].method == Method::Delete) {
                    done[i] = run_delete(tx, &entries[i], &mut audited).map_err(|err| with_entry(i, err))?;
                }
                let mut swap: HashMap<String, String> = HashMap::new(); // "Type/prov" -> "Type/real"
                let mut by_condition: HashMap<(String, String), String> = HashMap::new();
                for &i in &order {
                    let e = &mut entries[i];
                    if !matches!(e.method, Method::Post | Method::Put) {
                        continue;
                    }
                    if let Some(d) = resolve_condition(tx, e, &mut swap, &mut by_condition)
                        .map_err(|err| with_entry(i, err))?
                    {
                        done[i] = Some(d);
                    }
                }
                for (t, prov, req, q) in &cond_ref_reqs {
                    let (_, query) = q.split_once('?').unwrap_or_default();
                    let real = match by_condition.get(&(t.clone(), query.to_string())) {
                        Some(id) => id.clone(),
                        None => {
                            let ids = tx.search_ids(req, 2)?;
                            match ids.len() {
                                1 => ids[0].clone(),
                                0 => {
                                    return Err(StoreError::PreconditionFailed(format!(
                                        "the conditional reference '{q}' matched no resource"
                                    )))
                                }
                                _ => {
                                    return Err(StoreError::PreconditionFailed(format!(
                                        "the conditional reference '{q}' matched more than one resource"
                                    )))
                                }
                            }
                        }
                    };
                    swap.insert(format!("{t}/{prov}"), format!("{t}/{real}"));
                }
                for &i in &order {
                    let e = &mut entries[i];
                    if done[i].is_some() || !matches!(e.method, Method::Post | Method::Put | Method::Patch) {
                        continue;
                    }
                    let Some(mut put) = e.put.take() else { continue };
                    apply_swap(&mut put, &swap);
                    let w = tx.put(put).map_err(|err| with_entry(i, err))?;
                    audited.push(AuditedWrite::of(&w.stored));
                    done[i] = Some(Done::Written { created: w.created, stored: w.stored });
                }
                if let Some(f) = extra {
                    f(tx)?;
                }
                job_ctx.audit(tx, "transaction", &audited)?;
                Ok(done)
            })
            .await?;
        // 5. Reads run after the commit and see its effects.
        let mut b = BundleText::new("transaction-response", self.store.now_micros(), None, &[]);
        let mut get_results: HashMap<usize, (String, Option<String>)> = HashMap::new();
        for (i, url) in gets {
            get_results.insert(i, self.get_entry(ctx, &url).await);
        }
        for (i, d) in results.into_iter().enumerate() {
            if let Some((status, body)) = get_results.remove(&i) {
                b.entry(None, body.as_deref(), json!({"response": {"status": status}}));
                continue;
            }
            write_response(&mut b, ctx, d, representation);
        }
        Ok(b.finish())
    }

    async fn batch(&self, ctx: &Ctx, bundle: Value, representation: bool) -> Result<String, Error> {
        let raw_entries = bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut b = BundleText::new("batch-response", self.store.now_micros(), None, &[]);
        for e in raw_entries {
            // Each entry is its own one-entry transaction: it succeeds or fails alone.
            let mut one = json!({"resourceType": "Bundle", "type": "transaction", "entry": [e.clone()]});
            if let Some(f) = one.pointer_mut("/entry/0/fullUrl") {
                *f = Value::Null;
            }
            let method = e.pointer("/request/method").and_then(Value::as_str).unwrap_or("");
            if method == "GET" || method == "HEAD" {
                let url = e.pointer("/request/url").and_then(Value::as_str).unwrap_or("");
                let (status, body) = self.get_entry(ctx, url).await;
                b.entry(None, body.as_deref(), json!({"response": {"status": status}}));
                continue;
            }
            match Box::pin(self.transaction(ctx, one, representation, None)).await {
                Ok(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let entry = v.pointer("/entry/0").cloned().unwrap_or(json!({}));
                    let res = entry.get("resource").map(|r| r.to_string());
                    let mut extra = entry.as_object().cloned().unwrap_or_default();
                    extra.remove("resource");
                    extra.remove("fullUrl");
                    b.entry(
                        entry.get("fullUrl").and_then(Value::as_str),
                        res.as_deref(),
                        Value::Object(extra),
                    );
                }
                Err(err) => {
                    let status = crate::error_status(&err);
                    let oo = lantern_fhir::operation_outcome(&err.issues()).to_string();
                    b.entry(None, None, json!({"response": {"status": status.to_string(), "outcome": serde_json::from_str::<Value>(&oo).unwrap_or(Value::Null)}}));
                }
            }
        }
        Ok(b.finish())
    }

    /// A GET inside a bundle: what a GET of the same URL on its own answers — a read, vread,
    /// search (also in a compartment), history, or an operation that changes nothing
    /// (`$everything`, `$summary`, `$document` without `persist`, `$lastn`, `$stats`, `$meta`, the
    /// terminology operations). Returns the status line and body.
    async fn get_entry(&self, ctx: &Ctx, url: &str) -> (String, Option<String>) {
        match self.get_result(ctx, url).await {
            Ok(body) => ("200 OK".into(), body),
            Err(e) => (
                crate::error_status(&e).to_string(),
                Some(lantern_fhir::operation_outcome(&e.issues()).to_string()),
            ),
        }
    }

    /// What a GET inside a bundle answers: the body, or the error.
    async fn get_result(&self, ctx: &Ctx, url: &str) -> Result<Option<String>, Error> {
        let url = url.strip_prefix(&format!("{}/", ctx.base)).unwrap_or(url).trim_start_matches('/');
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let segs: Vec<&str> = path.split('/').collect();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        match segs.as_slice() {
            [""] => self.search(ctx, None, &pairs).await.map(Some),
            ["_history"] => self.history(ctx, HistoryScope::System, &pairs).await.map(Some),
            [t, "_history"] => self.history(ctx, HistoryScope::Type(t.to_string()), &pairs).await.map(Some),
            ["Observation", "$lastn"] => self.lastn(ctx, &pairs).await.map(Some),
            ["Observation", "$stats"] => self.stats(ctx, &pairs).await.map(Some),
            ["Patient", "$summary"] => self.summary_by_identifier(ctx, &pairs).await.map(Some),
            ["ValueSet", "$expand"] => self.expand(ctx, None, None, &pairs).await.map(Some),
            ["ValueSet", "$validate-code"] => self.validate_code(ctx, None, None, &pairs).await.map(Some),
            ["CodeSystem", "$lookup"] => self.lookup(ctx, &pairs).await.map(Some),
            ["CodeSystem", "$subsumes"] => self.subsumes(ctx, None, &pairs).await.map(Some),
            ["ConceptMap", "$translate"] => self.translate(ctx, None, &pairs).await.map(Some),
            [t] => self.search(ctx, Some(t), &pairs).await.map(Some),
            [t, id] => self.read(ctx, t, id).await.map(|s| s.body),
            [t, id, "_history"] => self
                .history(ctx, HistoryScope::Instance(t.to_string(), id.to_string()), &pairs)
                .await
                .map(Some),
            ["Patient", id, "$everything"] => {
                self.everything(ctx, vec![id.to_string()], &pairs).await.map(Some)
            }
            ["Patient", id, "$summary"] => self.summary(ctx, id, &pairs).await.map(Some),
            ["Composition", id, "$document"] if !pairs.iter().any(|(k, v)| k == "persist" && v == "true") => {
                self.document(ctx, id, &pairs).await.map(Some)
            }
            ["ValueSet", id, "$expand"] => self.expand(ctx, Some(*id), None, &pairs).await.map(Some),
            ["ValueSet", id, "$validate-code"] => {
                self.validate_code(ctx, Some(*id), None, &pairs).await.map(Some)
            }
            ["CodeSystem", id, "$subsumes"] => self.subsumes(ctx, Some(*id), &pairs).await.map(Some),
            ["ConceptMap", id, "$translate"] => self.translate(ctx, Some(*id), &pairs).await.map(Some),
            [t, id, "$meta"] => self.meta(ctx, t, id, None).await.map(|v| Some(v.to_string())),
            [t, id, c] if *c == "*" || c.starts_with(|x: char| x.is_ascii_uppercase()) => {
                self.search_compartment(ctx, t, id, c, &pairs).await.map(Some)
            }
            [t, id, "_history", v] => self.vread(ctx, t, id, v).await.map(|s| s.body),
            _ => Err(Error::bad("not-supported", None, format!("cannot GET '{url}' inside a bundle"))),
        }
    }
}

/// The operations a bundle entry may POST with a Parameters resource (answered as by GET, see
/// `get_entry`), by type: those that change nothing and take only primitive and coded
/// parameters. Any other operation is refused by name, never taken for a create.
const READ_ONLY_OPERATIONS: &[(&str, &str)] = &[
    ("Patient", "$everything"),
    ("Patient", "$summary"),
    ("Observation", "$lastn"),
    ("Observation", "$stats"),
    ("ConceptMap", "$translate"),
    ("CodeSystem", "$lookup"),
    ("CodeSystem", "$subsumes"),
    ("ValueSet", "$expand"),
    ("ValueSet", "$validate-code"),
];

/// `url` with the Parameters resource's parameters added to its query.
fn query_with_parameters(url: &str, op: &str, params: Option<&Value>) -> Result<String, Error> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if let Some(p) = params {
        if crate::read_parameters(op, p, &mut pairs)?.is_some() {
            return Err(Error::bad(
                "not-supported",
                None,
                format!("{op} inside a bundle takes no resource parameter: name the value set by url"),
            ));
        }
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    Ok(if query.is_empty() { path.to_string() } else { format!("{path}?{query}") })
}

fn prefix_err(i: usize, e: Error) -> Error {
    match e {
        Error::BadRequest(mut v) => {
            for x in &mut v {
                x.expression = Some(format!(
                    "Bundle.entry[{i}].resource{}",
                    x.expression
                        .as_deref()
                        .map(|p| { p.find('.').map(|d| p[d..].to_string()).unwrap_or_default() })
                        .unwrap_or_default()
                ));
            }
            Error::BadRequest(v)
        }
        other => other,
    }
}

/// Swaps provisional ids in a write's JSON and index entries.
fn apply_swap(put: &mut Put, swap: &HashMap<String, String>) {
    if swap.is_empty() {
        return;
    }
    if !rewrite_refs(&mut put.body, swap) {
        return;
    }
    put.prepared = None;
    for e in &mut put.index {
        if let IndexValue::Reference { target_type, target_id } = &mut e.value {
            if let Some(real) = swap.get(&format!("{target_type}/{target_id}")) {
                if let Some((_, id)) = real.split_once('/') {
                    *target_id = id.to_string();
                }
            }
        }
    }
}

fn run_delete(
    tx: &mut WriteTx<'_>,
    e: &Entry,
    audited: &mut Vec<AuditedWrite>,
) -> Result<Option<Done>, StoreError> {
    let id = match (&e.condition, &e.id) {
        (Some(c), _) => {
            let ids = tx.search_ids(c, 2)?;
            match ids.len() {
                0 => return Ok(Some(Done::NotFound)),
                1 => ids[0].clone(),
                _ => {
                    return Err(StoreError::PreconditionFailed(
                        "the conditional delete matched more than one resource".into(),
                    ))
                }
            }
        }
        (None, Some(id)) => id.clone(),
        _ => return Ok(None),
    };
    if let Some(d) = tx.delete(&e.rtype, &id, e.if_match)? {
        audited.push(AuditedWrite::of(&d));
    }
    Ok(Some(Done::Deleted))
}

/// Resolves a conditional create (ifNoneExist) or conditional update against the store. A
/// create that finds its match is done (the existing resource stands); an update that finds
/// one takes over its id. Either way the provisional id is swapped for the real one.
fn resolve_condition(
    tx: &mut WriteTx<'_>,
    e: &mut Entry,
    swap: &mut HashMap<String, String>,
    by_condition: &mut HashMap<(String, String), String>,
) -> Result<Option<Done>, StoreError> {
    let Some(c) = &e.condition else { return Ok(None) };
    let Some(put) = e.put.as_mut() else { return Ok(None) };
    let prov = put.id.clone();
    let key = (e.rtype.clone(), e.url.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default());
    let ids = tx.search_ids(c, 2)?;
    match (e.method, ids.len()) {
        (_, 0) => {
            by_condition.insert(key, prov);
            Ok(None)
        }
        (Method::Post, 1) => {
            swap.insert(format!("{}/{prov}", e.rtype), format!("{}/{}", e.rtype, ids[0]));
            by_condition.insert(key, ids[0].clone());
            let s = tx.read(&e.rtype, &ids[0])?.ok_or_else(|| StoreError::NotFound(ids[0].clone()))?;
            Ok(Some(Done::Existing(s)))
        }
        (_, 1) => {
            if put.body.get("id").and_then(Value::as_str).is_some_and(|b| b != ids[0] && b != prov) {
                return Err(StoreError::Invalid(vec![Issue::error(
                    "invalid",
                    None,
                    format!("the resource's id does not match the resource its criteria found ({})", ids[0]),
                )]));
            }
            swap.insert(format!("{}/{prov}", e.rtype), format!("{}/{}", e.rtype, ids[0]));
            by_condition.insert(key, ids[0].clone());
            put.id = ids[0].clone();
            put.create_only = false;
            put.prepared = None;
            if let Some(o) = put.body.as_object_mut() {
                o.insert("id".into(), Value::String(ids[0].clone()));
            }
            Ok(None)
        }
        _ => Err(StoreError::PreconditionFailed(
            "the conditional request matched more than one resource".into(),
        )),
    }
}

fn write_response(b: &mut BundleText, ctx: &Ctx, d: Option<Done>, representation: bool) {
    match d {
        Some(Done::Written { stored, created }) => {
            let loc = format!("{}/{}/_history/{}", stored.rtype, stored.id, stored.version);
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, stored.rtype, stored.id)),
                if representation { stored.body.as_deref() } else { None },
                json!({"response": {
                    "status": if created { "201 Created" } else { "200 OK" },
                    "location": loc,
                    "etag": format!("W/\"{}\"", stored.version),
                    "lastModified": format_instant(stored.updated),
                }}),
            );
        }
        Some(Done::Existing(stored)) => {
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, stored.rtype, stored.id)),
                if representation { stored.body.as_deref() } else { None },
                json!({"response": {
                    "status": "200 OK",
                    "location": format!("{}/{}/_history/{}", stored.rtype, stored.id, stored.version),
                    "etag": format!("W/\"{}\"", stored.version),
                    "lastModified": format_instant(stored.updated),
                }}),
            );
        }
        Some(Done::Deleted) => b.entry(None, None, json!({"response": {"status": "204 No Content"}})),
        Some(Done::NotFound) => b.entry(None, None, json!({"response": {"status": "404 Not Found"}})),
        None => b.entry(None, None, json!({"response": {"status": "200 OK"}})),
    }
}
