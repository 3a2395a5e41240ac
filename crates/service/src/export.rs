//! Bulk export (FHIR Bulk Data Access, `$export`): what a system or a patient-level export
//! holds, type by type, read through the caller's access filter exactly as a search is, so an
//! export cannot hold what the caller may not see. The asynchronous request pattern (kick-off,
//! status, files) belongs to the HTTP layer; this is the part every transport would share.
//!
//! With `_since`, the resources deleted since then are listed too (Bulk Data 2.0, "deleted"):
//! `deleted.ndjson`, one transaction Bundle per page of a type, each entry a `DELETE` of
//! `Type/id`. Without them a client that keeps a copy up to date by `_since` exports would
//! keep what the source removed. Deletions pass the same filter as the resources they were.
//!
//! With `includeAssociatedData=RelevantProvenanceResources` (or `LatestProvenanceResources`)
//! the Provenance resources that target what the export holds come too (all of them, or each
//! resource's most recent), in `Provenance.ndjson`, found by searching `Provenance?target=`
//! as the caller: where a record came from is part of a shared record, and a Provenance the
//! caller may not see stays out like any other resource.
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::Stored;
use std::collections::{BTreeSet, HashSet};
use std::io::Write as _;
use std::path::Path;

/// Resources read per store round trip.
const PAGE: usize = 1000;

/// What an export asks for: its types (every type the scope covers if none are named) and the
/// `_since` instant in microseconds.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    pub types: Vec<String>,
    pub since: Option<i64>,
    /// `Patient/$export`: only resources in some patient's compartment, and Patients.
    pub patients_only: bool,
    /// `Group/[id]/$export`: only these patients' compartments (see [`Fhir::group_members`]);
    /// a Group of no patients exports nothing.
    pub patients: Option<Vec<String>>,
    /// `_typeFilter`: per type, the searches (as query pairs) whose matches it holds, any
    /// of them; a type without one holds everything the other parameters allow.
    pub type_filters: Vec<(String, Vec<(String, String)>)>,
    /// `_elements`: the elements each resource keeps (`Type.element` for one type, a bare
    /// name for all), besides the mandatory ones; trimmed resources are marked SUBSETTED.
    pub elements: Vec<String>,
    /// `includeAssociatedData`: the Provenance of what is exported.
    pub provenance: Option<Associated>,
}

/// Which Provenance `includeAssociatedData` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Associated {
    /// `LatestProvenanceResources`: each exported resource's most recent one.
    Latest,
    /// `RelevantProvenanceResources`: every one that targets an exported resource.
    Relevant,
}

/// Exported resources whose Provenance one search asks for.
const TARGETS_PER_SEARCH: usize = 100;

/// Patients named per store query of a Group export.
const PATIENTS_PER_QUERY: usize = 500;

impl ExportRequest {
    /// Parses the kick-off's parameters. Everything the specification defines but Lantern
    /// does not do (a custom `includeAssociatedData`, and `patient` outside a POST body) is refused by name,
    /// whatever the handling: an export silently wider than asked would be a leak of its own
    /// kind, and one silently narrower a loss. So is a `_typeFilter` Lantern cannot apply
    /// exactly (an unknown parameter, a result parameter, a type the export does not hold).
    pub fn parse(pairs: &[(String, String)], patients_only: bool) -> Result<ExportRequest, Error> {
        let mut req = ExportRequest { patients_only, ..ExportRequest::default() };
        for (k, v) in pairs {
            match k.as_str() {
                "_outputFormat" => {
                    let v = v.replace(' ', "+");
                    if !matches!(v.as_str(), "application/fhir+ndjson" | "application/ndjson" | "ndjson") {
                        return Err(Error::bad(
                            "not-supported",
                            Some("_outputFormat"),
                            format!("_outputFormat '{v}' is not supported; Lantern writes application/fhir+ndjson"),
                        ));
                    }
                }
                "_type" => {
                    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        crate::prepare::check_type(t)
                            .map_err(|e| Error::bad("invalid", Some("_type"), e.to_string()))?;
                        if patients_only && t != "Patient" && !in_patient_compartment(t) {
                            return Err(Error::bad(
                                "invalid",
                                Some("_type"),
                                format!(
                                    "{t} is not in the Patient compartment, so a Patient/$export holds none"
                                ),
                            ));
                        }
                        if !req.types.iter().any(|x| x == t) {
                            req.types.push(t.to_string());
                        }
                    }
                }
                "_elements" => {
                    for e in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                        if let Some((t, _)) = e.split_once('.') {
                            crate::prepare::check_type(t)
                                .map_err(|err| Error::bad("invalid", Some("_elements"), err.to_string()))?;
                        }
                        req.elements.push(e.to_string());
                    }
                }
                "_typeFilter" => {
                    for q in split_filters(v) {
                        req.type_filters.push(parse_filter(q)?);
                    }
                }
                "includeAssociatedData" => {
                    for a in v.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                        let this = match a {
                            "LatestProvenanceResources" => Associated::Latest,
                            "RelevantProvenanceResources" => Associated::Relevant,
                            other => {
                                return Err(Error::bad(
                                    "not-supported",
                                    Some("includeAssociatedData"),
                                    format!(
                                        "includeAssociatedData '{other}' is not supported; Lantern offers \
                                         LatestProvenanceResources and RelevantProvenanceResources"
                                    ),
                                ))
                            }
                        };
                        // All of them include the latest.
                        if req.provenance != Some(Associated::Relevant) {
                            req.provenance = Some(this);
                        }
                    }
                }
                "_since" => {
                    req.since = Some(
                        lantern_fhir::datetime::query_range(v)
                            .ok_or_else(|| {
                                Error::bad("invalid", Some("_since"), "_since must be an instant")
                            })?
                            .0,
                    )
                }
                other => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(other),
                        format!("$export does not support the parameter '{other}'"),
                    ))
                }
            }
        }
        if req.types.is_empty() {
            req.types = if patients_only {
                let mut t: Vec<String> = lantern_r4::compartment_resource_types("Patient")
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                if !t.iter().any(|x| x == "Patient") {
                    t.insert(0, "Patient".into());
                }
                t
            } else {
                lantern_r4::resource_types().iter().map(|t| t.to_string()).collect()
            };
        }
        // Provenance asked for as a type goes first, so that what it held is known when its
        // associated ones are added to the same file.
        if req.provenance.is_some() {
            if let Some(i) = req.types.iter().position(|t| t == "Provenance") {
                let p = req.types.remove(i);
                req.types.insert(0, p);
            }
        }
        for (t, _) in &req.type_filters {
            if !req.types.contains(t) {
                return Err(Error::bad(
                    "invalid",
                    Some("_typeFilter"),
                    format!("_typeFilter names {t}, which this export does not hold (see _type)"),
                ));
            }
        }
        Ok(req)
    }

    /// The `_elements` that apply to `rtype`: bare names and its own `Type.element`s. None:
    /// its resources are exported whole (a list naming only other types does not trim it).
    fn elements_for(&self, rtype: &str) -> Vec<String> {
        self.elements.iter().filter(|e| e.split_once('.').is_none_or(|(t, _)| t == rtype)).cloned().collect()
    }

    /// The searches `_typeFilter` gives for `rtype` (none: the type is not filtered).
    fn filters_for(&self, rtype: &str) -> Vec<&[(String, String)]> {
        self.type_filters.iter().filter(|(t, _)| t == rtype).map(|(_, q)| q.as_slice()).collect()
    }
}

/// The queries of one `_typeFilter` value: `Type?query` items joined by commas. A comma is
/// also how a search ORs values (`code=a,b`), so only one followed by `Type?` starts a query.
fn split_filters(v: &str) -> Vec<&str> {
    let starts_query =
        |rest: &str| rest.split_once('?').is_some_and(|(t, _)| lantern_r4::is_resource_type(t));
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in v.match_indices(',') {
        if starts_query(&v[i + 1..]) {
            out.push(&v[start..i]);
            start = i + 1;
        }
    }
    out.push(&v[start..]);
    out.into_iter().map(str::trim).filter(|q| !q.is_empty()).collect()
}

/// One `_typeFilter` query, checked as a strict search of its type would be: unknown
/// parameters refused, and result parameters (`_sort`, `_include`, `_count`...) too, which
/// the specification does not allow there.
fn parse_filter(q: &str) -> Result<(String, Vec<(String, String)>), Error> {
    let bad = |why: String| Error::bad("invalid", Some("_typeFilter"), why);
    let (t, query) = q.split_once('?').ok_or_else(|| bad(format!("'{q}' is not Type?query")))?;
    crate::prepare::check_type(t).map_err(|e| bad(e.to_string()))?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| {
        let name = k.split(':').next().unwrap_or(k);
        matches!(
            name,
            "_sort"
                | "_include"
                | "_revinclude"
                | "_count"
                | "_total"
                | "_summary"
                | "_elements"
                | "_contained"
                | "_containedType"
                | "_page"
                | "_format"
                | "_pretty"
        )
    }) {
        return Err(bad(format!("_typeFilter may hold search criteria only, not '{k}'")));
    }
    let req = lantern_fhir::search::parse(Some(t), &pairs, lantern_fhir::search::Handling::Strict)
        .map_err(Error::BadRequest)?;
    if req.criteria.is_empty() {
        return Err(bad(format!("'{q}' has no criteria")));
    }
    Ok((t.to_string(), pairs))
}

fn in_patient_compartment(rtype: &str) -> bool {
    lantern_r4::compartment_resource_types("Patient").contains(&rtype)
}

/// The file of deletions an export with `_since` writes beside the types' files.
pub const DELETED_FILE: &str = "deleted.ndjson";

/// What [`Fhir::export_to_dir`] wrote.
#[derive(Debug, Default)]
pub struct ExportFiles {
    /// `TYPE.ndjson` for each type that had resources, with how many, in the request's order.
    pub files: Vec<(String, u64)>,
    /// Bundles in [`DELETED_FILE`] (none, and no file, without `_since` or deletions), and
    /// the deletions they list.
    pub deleted_bundles: u64,
    pub deleted: u64,
    /// The patients whose data the files hold (a Patient's own id, or a resource's patient).
    pub patients: BTreeSet<String>,
    pub bytes: u64,
}

impl Fhir {
    /// Writes the export `req` asks for into `dir`, one NDJSON file per type that has
    /// resources (none for a type without). After each type `go_on` is told how many types are
    /// done; if it answers false the export stops with an error (a cancelled job).
    pub async fn export_to_dir(
        &self,
        ctx: &Ctx,
        req: &ExportRequest,
        dir: &Path,
        mut go_on: impl FnMut(usize) -> bool,
    ) -> Result<ExportFiles, Error> {
        let mut done = ExportFiles::default();
        let mut deleted_out: Option<std::io::BufWriter<std::fs::File>> = None;
        // With `includeAssociatedData`: the Provenance ids written, and the exported resources
        // whose Provenance is looked for after each type (kept in a file: a type may hold
        // millions).
        let mut provenance_seen: HashSet<String> = HashSet::new();
        let targets_path = dir.join(".targets");
        for (i, t) in req.types.iter().enumerate() {
            let path = dir.join(format!("{t}.ndjson"));
            let mut out: Option<std::io::BufWriter<std::fs::File>> = None;
            let (patients, bytes) = (&mut done.patients, &mut done.bytes);
            let elements = req.elements_for(t);
            let mut targets = match req.provenance.is_some() && t != "Provenance" {
                true => Some(create(&targets_path)?),
                false => None,
            };
            let seen = &mut provenance_seen;
            let n = self
                .export_type(ctx, t, req, false, |page| {
                    for st in page {
                        let Some(body) = st.body.as_deref() else { continue };
                        if let Some(w) = &mut targets {
                            writeln!(w, "{}/{}", st.rtype, st.id).map_err(io)?;
                        } else if req.provenance.is_some() {
                            seen.insert(st.id.clone());
                        }
                        let w = match &mut out {
                            Some(w) => w,
                            None => out.insert(create(&path)?),
                        };
                        let line = ndjson_line(body, &elements)?;
                        writeln!(w, "{line}").map_err(io)?;
                        *bytes += line.len() as u64 + 1;
                        patients.extend(patient_of(st));
                    }
                    Ok(())
                })
                .await?;
            if let Some(mut w) = out {
                w.flush().map_err(io)?;
            }
            if n > 0 {
                done.files.push((t.clone(), n));
            }
            if let Some(mut w) = targets {
                w.flush().map_err(io)?;
                drop(w);
                self.export_associated(ctx, req, &targets_path, dir, &mut provenance_seen, &mut done).await?;
                let _ = std::fs::remove_file(&targets_path);
            }
            // A type with `_typeFilter` lists every deletion of the type the caller could see:
            // a deleted resource has no index rows left to search, and a deletion the client
            // never held is harmless to apply.
            if req.since.is_some() {
                let deleted_path = dir.join(DELETED_FILE);
                let (patients, bytes, bundles) =
                    (&mut done.patients, &mut done.bytes, &mut done.deleted_bundles);
                done.deleted += self
                    .export_type(ctx, t, req, true, |page| {
                        if page.is_empty() {
                            return Ok(());
                        }
                        let entries: Vec<serde_json::Value> = page
                            .iter()
                            .map(|st| {
                                serde_json::json!({"request": {"method": "DELETE", "url": format!("{}/{}", st.rtype, st.id)}})
                            })
                            .collect();
                        let line = serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
                            .to_string();
                        let w = match &mut deleted_out {
                            Some(w) => w,
                            None => deleted_out.insert(create(&deleted_path)?),
                        };
                        writeln!(w, "{line}").map_err(io)?;
                        *bytes += line.len() as u64 + 1;
                        *bundles += 1;
                        // Saying a patient's resource was deleted is telling something of them.
                        patients.extend(page.iter().filter_map(patient_of));
                        Ok(())
                    })
                    .await?;
            }
            if !go_on(i + 1) {
                return Err(Error::Store(lantern_store::StoreError::Unavailable(
                    "the export was cancelled".into(),
                )));
            }
        }
        if let Some(mut w) = deleted_out {
            w.flush().map_err(io)?;
        }
        Ok(done)
    }

    /// Appends to `Provenance.ndjson` the Provenance (as `ctx`'s caller may see them) of the
    /// resources listed in `targets` (`Type/id` lines), each once (`seen`: the ids written).
    async fn export_associated(
        &self,
        ctx: &Ctx,
        req: &ExportRequest,
        targets: &Path,
        dir: &Path,
        seen: &mut HashSet<String>,
        done: &mut ExportFiles,
    ) -> Result<(), Error> {
        use std::io::BufRead as _;
        let Some(which) = req.provenance else { return Ok(()) };
        let elements = req.elements_for("Provenance");
        let lines = std::io::BufReader::new(std::fs::File::open(targets).map_err(io)?).lines();
        let mut out: Option<std::io::BufWriter<std::fs::File>> = None;
        let mut added = 0u64;
        let mut chunk: Vec<String> = Vec::with_capacity(TARGETS_PER_SEARCH);
        let mut lines = lines.peekable();
        while let Some(line) = lines.next() {
            chunk.push(line.map_err(io)?);
            if chunk.len() < TARGETS_PER_SEARCH && lines.peek().is_some() {
                continue;
            }
            let found = self.provenance_of(ctx, &chunk, which).await?;
            chunk.clear();
            for st in found {
                let Some(body) = st.body.as_deref() else { continue };
                if !seen.insert(st.id.clone()) {
                    continue;
                }
                let w = match &mut out {
                    Some(w) => w,
                    None => out.insert(std::io::BufWriter::new(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(dir.join("Provenance.ndjson"))
                            .map_err(io)?,
                    )),
                };
                let line = ndjson_line(body, &elements)?;
                writeln!(w, "{line}").map_err(io)?;
                done.bytes += line.len() as u64 + 1;
                done.patients.extend(patient_of(&st));
                added += 1;
            }
        }
        if let Some(mut w) = out {
            w.flush().map_err(io)?;
        }
        if added > 0 {
            match done.files.iter_mut().find(|(t, _)| t == "Provenance") {
                Some((_, n)) => *n += added,
                None => done.files.push(("Provenance".into(), added)),
            }
        }
        Ok(())
    }

    /// The Provenance that target any of `targets` (`Type/id`), searched as `ctx`'s caller:
    /// all of them, or for each target only its most recent (by `recorded`, then by when the
    /// server stored it).
    async fn provenance_of(
        &self,
        ctx: &Ctx,
        targets: &[String],
        which: Associated,
    ) -> Result<Vec<Stored>, Error> {
        let pairs = vec![
            ("target".to_string(), targets.join(",")),
            ("_count".to_string(), PAGE.to_string()),
            ("_total".to_string(), "none".to_string()),
        ];
        let mut search = self.parse_search(ctx, Some("Provenance"), &pairs)?;
        let mut all = Vec::new();
        loop {
            let page = self.store.search(search.clone(), ctx.access.clone()).await?;
            all.extend(page.matches);
            match page.next {
                Some(c) => search.cursor = Some(c),
                None => break,
            }
        }
        if which == Associated::Relevant {
            return Ok(all);
        }
        let wanted: HashSet<&str> = targets.iter().map(String::as_str).collect();
        // For each target, the index in `all` of its most recent Provenance.
        let mut latest: std::collections::HashMap<String, ((i64, i64), usize)> = Default::default();
        for (i, st) in all.iter().enumerate() {
            let Some(body) = st.body.as_deref() else { continue };
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            // `recorded` is required (and validated) in R4; the instant it names, as a number.
            let recorded =
                v["recorded"].as_str().and_then(lantern_fhir::datetime::range).map_or(i64::MIN, |r| r.0);
            let when = (recorded, st.updated);
            for t in v["target"].as_array().into_iter().flatten() {
                let Some(r) = t["reference"].as_str() else { continue };
                // `Type/id` or `Type/id/_history/n`, absolute or not: the target's `Type/id`.
                let parts: Vec<&str> = r.split('/').collect();
                let at = parts
                    .iter()
                    .rposition(|p| lantern_r4::is_resource_type(p))
                    .filter(|i| i + 1 < parts.len());
                let Some(key) = at.map(|i| format!("{}/{}", parts[i], parts[i + 1])) else { continue };
                if !wanted.contains(key.as_str()) {
                    continue;
                }
                if latest.get(&key).is_none_or(|(w, _)| when > *w) {
                    latest.insert(key, (when, i));
                }
            }
        }
        let keep: HashSet<usize> = latest.values().map(|(_, i)| *i).collect();
        Ok(all.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, st)| st).collect())
    }

    /// Reads every resource of `rtype` that `req` covers and `ctx`'s caller may see (or, with
    /// `deleted`, every one deleted since `req.since`), a page at a time in key order, handing
    /// each page to `out`; returns how many there were.
    pub async fn export_type(
        &self,
        ctx: &Ctx,
        rtype: &str,
        req: &ExportRequest,
        deleted: bool,
        mut out: impl FnMut(&[Stored]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let filters = req.filters_for(rtype);
        if !deleted && !filters.is_empty() {
            return self.export_filtered(ctx, rtype, req, &filters, out).await;
        }
        let mut n = 0u64;
        let chunks: Vec<Vec<String>> = match &req.patients {
            None => vec![Vec::new()],
            Some(p) => p.chunks(PATIENTS_PER_QUERY).map(<[String]>::to_vec).collect(),
        };
        for patients in chunks {
            let mut after = None;
            loop {
                let window = lantern_store::search::ExportWindow {
                    since: req.since,
                    deleted,
                    patients_only: req.patients_only,
                    patients: patients.clone(),
                    after,
                    count: PAGE,
                };
                let (page, next) =
                    self.store.export_page(rtype.to_string(), ctx.access.clone(), window).await?;
                out(&page)?;
                n += page.len() as u64;
                match next {
                    Some(k) => after = Some(k),
                    None => break,
                }
            }
        }
        Ok(n)
    }

    /// [`Fhir::export_type`] for a type with `_typeFilter`: each filter's matches, searched as
    /// the caller (so under the same access filter), paged by key, each resource once, then
    /// held to what the rest of the request allows (`_since`, the patients of a patient-level
    /// or Group export).
    async fn export_filtered(
        &self,
        ctx: &Ctx,
        rtype: &str,
        req: &ExportRequest,
        filters: &[&[(String, String)]],
        mut out: impl FnMut(&[Stored]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let group: Option<HashSet<&str>> =
            req.patients.as_ref().map(|p| p.iter().map(String::as_str).collect());
        // Several filters may match one resource; one search never repeats one, so the ids
        // are only kept (in memory, for the whole type) when there are several.
        let mut seen: Option<HashSet<String>> = (filters.len() > 1).then(HashSet::new);
        let mut n = 0u64;
        for filter in filters {
            let mut pairs = filter.to_vec();
            if let Some(since) = req.since {
                let at = lantern_store::clock::format_instant(since);
                pairs.push(("_lastUpdated".into(), format!("ge{at}")));
            }
            pairs.push(("_count".into(), PAGE.to_string()));
            pairs.push(("_total".into(), "none".into()));
            let mut search = self.parse_search(ctx, Some(rtype), &pairs)?;
            loop {
                let page = self.store.search(search.clone(), ctx.access.clone()).await?;
                let keep: Vec<Stored> = page
                    .matches
                    .into_iter()
                    .filter(|st| req.since.is_none_or(|s| st.updated >= s))
                    .filter(|st| !req.patients_only || st.patient.is_some())
                    .filter(|st| {
                        group.as_ref().is_none_or(|g| st.patient.as_deref().is_some_and(|p| g.contains(p)))
                    })
                    .filter(|st| seen.as_mut().is_none_or(|seen| seen.insert(st.id.clone())))
                    .collect();
                out(&keep)?;
                n += keep.len() as u64;
                match page.next {
                    Some(c) => search.cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(n)
    }

    /// `ids` (logical ids of Patients) each with every source record the patient index links
    /// to the same person, in order, once each.
    pub async fn patients_and_links(&self, ids: &[String]) -> Result<Vec<String>, Error> {
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            for p in self.store.person_members(id).await? {
                if seen.insert(p.clone()) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    /// The patients a `Group/[id]/$export` covers: the Group's `member.entity` Patients (the
    /// Group read as the caller may: refused or not found like any read), each with every
    /// source record the patient index links to the same person, as `$everything` does.
    pub async fn group_members(&self, ctx: &Ctx, group: &str) -> Result<Vec<String>, Error> {
        let g = self.read(ctx, "Group", group).await?;
        let body: serde_json::Value = serde_json::from_str(g.body.as_deref().unwrap_or("{}"))
            .map_err(|e| Error::Store(lantern_store::StoreError::Database(format!("stored Group: {e}"))))?;
        let ids: Vec<String> = body["member"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["entity"]["reference"].as_str()?.strip_prefix("Patient/").map(str::to_string))
            .collect();
        self.patients_and_links(&ids).await
    }
}

/// A stored body as one NDJSON line. Stored bodies are compact JSON; one with a line break,
/// or to be trimmed by `_elements`, is re-encoded.
fn ndjson_line(body: &str, elements: &[String]) -> Result<String, Error> {
    if !body.contains('\n') && elements.is_empty() {
        return Ok(body.to_string());
    }
    let mut v = serde_json::from_str::<serde_json::Value>(body).map_err(|e| io(std::io::Error::other(e)))?;
    if !elements.is_empty() {
        crate::elements::apply_elements(&mut v, elements);
    }
    Ok(v.to_string())
}

/// The patient a resource tells of: a Patient's own id, or the compartment's patient.
fn patient_of(st: &Stored) -> Option<String> {
    st.patient.clone().or_else(|| (st.rtype == "Patient").then(|| st.id.clone()))
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, Error> {
    Ok(std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?))
}

fn io(e: std::io::Error) -> Error {
    Error::Store(lantern_store::StoreError::Database(format!("writing the export: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_split_where_a_query_starts() {
        assert_eq!(
            split_filters("Observation?code=a,b&status=final,Condition?code=c"),
            vec!["Observation?code=a,b&status=final", "Condition?code=c"]
        );
        assert_eq!(split_filters("Condition?code=x,y"), vec!["Condition?code=x,y"]);
    }

    #[test]
    fn type_filters_are_checked_at_kick_off() {
        let pairs = |v: &str| {
            vec![("_type".to_string(), "Condition".to_string()), ("_typeFilter".to_string(), v.to_string())]
        };
        let req = ExportRequest::parse(&pairs("Condition?code=http://snomed.info/sct|1,2"), false).unwrap();
        assert_eq!(req.filters_for("Condition").len(), 1);
        assert!(req.filters_for("Observation").is_empty());
        for bad in [
            "Condition?_include=Condition:subject",
            "Condition?nope=1",
            "Nope?code=1",
            "Condition",
            "Observation?code=1",
        ] {
            assert!(ExportRequest::parse(&pairs(bad), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn associated_provenance_is_parsed_and_provenance_goes_first() {
        let parse = |v: &str, types: &str| {
            let mut pairs = vec![("includeAssociatedData".to_string(), v.to_string())];
            if !types.is_empty() {
                pairs.push(("_type".to_string(), types.to_string()));
            }
            ExportRequest::parse(&pairs, false)
        };
        assert_eq!(parse("LatestProvenanceResources", "").unwrap().provenance, Some(Associated::Latest));
        // Relevant holds the latest too, in either order.
        for v in [
            "LatestProvenanceResources,RelevantProvenanceResources",
            "RelevantProvenanceResources,LatestProvenanceResources",
        ] {
            assert_eq!(parse(v, "").unwrap().provenance, Some(Associated::Relevant), "{v}");
        }
        assert!(parse("_custom", "").is_err());
        assert!(parse("LatestProvenanceResources,_custom", "").is_err());
        assert_eq!(
            parse("RelevantProvenanceResources", "Condition,Provenance").unwrap().types,
            ["Provenance", "Condition"]
        );
        assert_eq!(
            ExportRequest::parse(&[("_type".into(), "Condition,Provenance".into())], false).unwrap().types,
            ["Condition", "Provenance"]
        );
    }
}
