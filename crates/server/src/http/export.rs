//! Bulk export over HTTP (FHIR Bulk Data Access, the asynchronous request pattern):
//! `GET /fhir/$export` (system), `GET /fhir/Patient/$export` or `GET /fhir/Group/{id}/$export`
//! (or `POST` with the parameters in a Parameters body, where `patient` may name patients)
//! starts a job and answers 202 with a status URL; the status URL answers 202 with
//! `X-Progress` until the job is done, then the manifest (200), whose files are fetched with
//! the same token; `DELETE` on it cancels the job or removes its files. With `_since` the
//! manifest's `deleted` lists the resources deleted since then (see `lantern_service::export`).
//!
//! The job reads through the access filter of the caller who started it, fixed at the kick-off
//! (so an export holds exactly what a search by that caller could show), and is recorded in the
//! audit log before its files are offered: one `export` record per 1,000 patients it holds, so
//! each patient's "who looked" list shows it. If the record cannot be written the job fails and
//! its files are removed. Only the caller who started a job may see its status and files.
//!
//! Jobs are kept for a day. `lantern serve` keeps each one in `DATA/exports/ID/`: its files
//! and `job.json`, its state, rewritten (write aside, then rename) whenever the state changes,
//! so a finished export is still offered after a restart: a client polling through a restart
//! loses nothing. A job that was running when the server stopped cannot be resumed (it ran as
//! its starter, whose access filter is not kept), so at start-up it becomes a failed job whose
//! status says to start again, and its partial files are removed. Without a directory (tests,
//! benches) jobs live in memory and their files in the system's temporary directory.
use super::request::{decode, json_body, query_pairs};
use super::respond::{Fail, Result};
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lantern_audit::{Action, Entry};
use lantern_service::primitive_value;
use lantern_service::{ExportFiles, ExportRequest, DELETED_FILE};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Patients named by one audit record of an export.
const PATIENTS_PER_RECORD: usize = 1000;

/// How long a job and its files are kept (the Bulk Data specification leaves it to the
/// server); older ones are removed when the next export starts.
const KEEP_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Why a job found running at start-up failed.
const RESTARTED: &str = "the server restarted while this export was running; start the export again";

/// The file in a job's directory that holds its state.
const JOB_FILE: &str = "job.json";

/// The export jobs of this server (see the module comment).
#[derive(Clone, Default)]
pub struct Exports {
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    /// Where jobs are kept across restarts; None: in memory, files in the temporary directory.
    dir: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
struct Job {
    /// Who started it (`issuer|subject`); None when trust is off.
    owner: Option<String>,
    request: String,
    /// When the kick-off was accepted (the manifest's `transactionTime`), microseconds.
    started: i64,
    #[serde(skip)]
    dir: PathBuf,
    state: JobState,
}

#[derive(Serialize, Deserialize)]
enum JobState {
    Running {
        done: usize,
        of: usize,
    },
    /// Each type's file and count; the Bundles of deletions (`_since` only; 0: no file).
    Done {
        files: Vec<(String, u64)>,
        deleted: u64,
    },
    Failed(String),
}

impl Exports {
    /// The jobs kept in `dir` (created if missing), as a restart finds them: those older than a
    /// day are removed, and those that were running become failed (see the module comment).
    /// `now` is the store's clock, in microseconds.
    pub fn open(dir: &std::path::Path, now: i64) -> std::io::Result<Exports> {
        std::fs::create_dir_all(dir)?;
        let mut jobs = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let (path, id) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let job = std::fs::read(path.join(JOB_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
                .filter(|j| now - j.started <= KEEP_MICROS);
            // No readable state: a kick-off cut short before its 202, or an expired job.
            let Some(mut job) = job else {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            };
            job.dir = path;
            if matches!(job.state, JobState::Running { .. }) {
                tracing::warn!(job = %id, "an export was running when the server stopped; it has failed");
                remove_files(&job.dir);
                job.state = JobState::Failed(RESTARTED.into());
                persist(&job)?;
            }
            jobs.insert(id, job);
        }
        Ok(Exports { jobs: Arc::new(Mutex::new(jobs)), dir: Some(dir.to_path_buf()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn job_dir(&self, id: &str) -> PathBuf {
        match &self.dir {
            Some(d) => d.join(id),
            None => std::env::temp_dir().join(format!("lantern-export-{id}")),
        }
    }
}

/// Writes a job's state beside its files (aside, then renamed over the old one, so a crash
/// leaves the old state or the new, never half of one).
fn persist(job: &Job) -> std::io::Result<()> {
    let tmp = job.dir.join(format!("{JOB_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(job).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, job.dir.join(JOB_FILE))
}

/// Removes a job's files, keeping its state.
fn remove_files(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name() != JOB_FILE {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn owner() -> Option<String> {
    crate::trust::current().map(|s| format!("{}|{}", s.caller.principal.issuer, s.caller.principal.subject))
}

fn not_found(id: &str) -> Fail {
    Fail::new(StatusCode::NOT_FOUND, "not-found", format!("there is no export job '{id}' of yours"))
}

/// `GET` or `POST /fhir/$export`.
pub(crate) async fn kick_off_system(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (pairs, patients) = request_parameters(&method, &headers, &uri, &body, false)?;
    kick_off(s, headers, uri, Level::System, pairs, patients).await
}

/// `GET` or `POST /fhir/Patient/$export`; a POST's `patient` names the patients to export
/// (each with the records the patient index links to it).
pub(crate) async fn kick_off_patients(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (pairs, patients) = request_parameters(&method, &headers, &uri, &body, true)?;
    kick_off(s, headers, uri, Level::Patients, pairs, patients).await
}

/// `GET` or `POST /fhir/Group/{id}/$export`: the Group's member patients (and their linked
/// records); a POST's `patient` narrows them to those named.
pub(crate) async fn kick_off_group(
    State(s): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let (pairs, patients) = request_parameters(&method, &headers, &uri, &body, true)?;
    kick_off(s, headers, uri, Level::Group(id), pairs, patients).await
}

/// The kick-off's parameters: the query string of a GET, the Parameters body of a POST.
fn request_parameters(
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    patient_allowed: bool,
) -> Result<KickOff> {
    match *method {
        Method::POST => parameters(headers, body, patient_allowed),
        _ => Ok((query_pairs(uri), None)),
    }
}

/// A kick-off's parameters as query pairs, and the patients `patient` names (POST only).
type KickOff = (Vec<(String, String)>, Option<Vec<String>>);

/// A kick-off's Parameters body as query pairs, and the `patient` references (where
/// `patient_allowed`). A parameter of an unexpected shape is refused, never skipped.
fn parameters(headers: &HeaderMap, body: &[u8], patient_allowed: bool) -> Result<KickOff> {
    let bad = |why: String| Fail::new(StatusCode::BAD_REQUEST, "invalid", why);
    let v = json_body(headers, body, false)?;
    if v["resourceType"] != "Parameters" {
        return Err(bad("the body of a $export kick-off must be a Parameters resource".into()));
    }
    let mut pairs = Vec::new();
    let mut patients: Option<Vec<String>> = None;
    for p in v["parameter"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().ok_or_else(|| bad("a parameter has no name".into()))?;
        if name == "patient" {
            if !patient_allowed {
                return Err(bad("'patient' applies to Patient/$export and Group/[id]/$export only".into()));
            }
            let id = p["valueReference"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Patient/"))
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .ok_or_else(|| bad("'patient' must be a valueReference to Patient/[id]".into()))?;
            patients.get_or_insert_with(Vec::new).push(id.to_string());
            continue;
        }
        let value = primitive_value(p)
            .ok_or_else(|| bad(format!("parameter '{name}' has no value Lantern can read")))?;
        pairs.push((name.to_string(), value));
    }
    Ok((pairs, patients))
}

enum Level {
    System,
    Patients,
    Group(String),
}

async fn kick_off(
    s: AppState,
    headers: HeaderMap,
    uri: Uri,
    level: Level,
    pairs: Vec<(String, String)>,
    patients: Option<Vec<String>>,
) -> Result<Response> {
    let (ctx, _) = decode(&headers, &uri)?;
    let mut req = ExportRequest::parse(&pairs, !matches!(level, Level::System)).map_err(Fail::from)?;
    // `patient`: each named patient with the records linked to the same person, as a Group's
    // members are; a Group export keeps only those of its members.
    let named = match patients {
        Some(ids) => Some(s.fhir.patients_and_links(&ids).await.map_err(Fail::from)?),
        None => None,
    };
    req.patients = match (&level, named) {
        (Level::Group(g), named) => {
            let members = s.fhir.group_members(&ctx, g).await.map_err(Fail::from)?;
            Some(match named {
                Some(n) => {
                    let n: std::collections::HashSet<String> = n.into_iter().collect();
                    members.into_iter().filter(|m| n.contains(m)).collect()
                }
                None => members,
            })
        }
        (_, named) => named,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let dir = s.exports.job_dir(&id);
    let request = format!("{}{}", ctx.base, uri.path_and_query().map_or("", |p| p.as_str()));
    let job = Job {
        owner: owner(),
        request: request.clone(),
        started: s.fhir.store.now_micros(),
        dir: dir.clone(),
        state: JobState::Running { done: 0, of: req.types.len() },
    };
    // Kept before the 202, so that the status URL answers (if only "failed") after a restart.
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| persist(&job)) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(Fail::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            format!("cannot keep the export job in {}: {e}", dir.display()),
        ));
    }
    {
        let mut jobs = s.exports.lock();
        let old: Vec<String> = jobs
            .iter()
            .filter(|(_, j)| job.started - j.started > KEEP_MICROS)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            if let Some(j) = jobs.remove(&k) {
                let _ = std::fs::remove_dir_all(&j.dir);
            }
        }
        jobs.insert(id.clone(), job);
    }
    let scope = crate::trust::current();
    let status_url = format!("{}/$export-status/{id}", ctx.base);
    let (exports, fhir, job_id) = (s.exports.clone(), s.fhir.clone(), id.clone());
    tokio::spawn(async move {
        let of = req.types.len();
        let outcome = fhir
            .export_to_dir(&ctx, &req, &dir, |done| match exports.lock().get_mut(&job_id) {
                Some(job) => {
                    job.state = JobState::Running { done, of };
                    true
                }
                None => false, // cancelled
            })
            .await
            .map_err(|e| {
                // Internal details stay in the server's log, as for any request.
                tracing::error!(job = %job_id, error = %e, "bulk export failed");
                "the export failed; the server's log says why".to_string()
            });
        let outcome = match (outcome, scope) {
            (Ok(out), Some(scope)) => record(&scope, &request, &job_id, &out).await.map(|_| out),
            (other, _) => other,
        };
        let mut jobs = exports.lock();
        let Some(job) = jobs.get_mut(&job_id) else {
            let _ = std::fs::remove_dir_all(&dir); // cancelled meanwhile
            return;
        };
        job.state = match outcome {
            Ok(out) => JobState::Done { files: out.files, deleted: out.deleted_bundles },
            Err(why) => {
                remove_files(&dir);
                JobState::Failed(why)
            }
        };
        // Under the lock, so a cancel cannot remove the directory half-way. If the state cannot
        // be kept, the job is still served until a restart, which then reports it failed.
        if let Err(e) = persist(job) {
            tracing::warn!(job = %job_id, error = %e, "cannot keep the export job's state");
        }
    });
    let mut r = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&status_url) {
        r.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(r)
}

/// The export's audit records: who exported which patients' data, by what request.
async fn record(
    scope: &crate::trust::Scope,
    request: &str,
    id: &str,
    out: &ExportFiles,
) -> std::result::Result<(), String> {
    let total: u64 = out.files.iter().map(|(_, n)| n).sum();
    let mut detail = format!("bulk export {id}: {total} resources in {} files", out.files.len());
    if out.deleted > 0 {
        detail.push_str(&format!(", {} deletions", out.deleted));
    }
    let patients: Vec<&String> = out.patients.iter().collect();
    let now = scope.trust.fhir.store.now_micros();
    let entry = |chunk: &[&String]| {
        scope
            .caller
            .entry(Action::Export, now)
            .with_query(format!("GET {request}"))
            .with_detail(detail.clone())
            .patients(chunk)
    };
    let entries: Vec<Entry> = match patients.is_empty() {
        true => vec![entry(&[])],
        false => patients.chunks(PATIENTS_PER_RECORD).map(entry).collect(),
    };
    scope
        .trust
        .audit
        .record(entries)
        .await
        .map(|_| ())
        .map_err(|e| format!("the export could not be recorded in the audit log, so it is not offered: {e}"))
}

/// `GET /fhir/$export-status/{id}`.
pub(crate) async fn status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let (ctx, _) = decode(&headers, &uri)?;
    let jobs = s.exports.lock();
    let job = jobs.get(&id).filter(|j| j.owner == owner()).ok_or_else(|| not_found(&id))?;
    match &job.state {
        JobState::Running { done, of } => {
            let mut r = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{done} of {of} resource types")) {
                r.headers_mut().insert("x-progress", v);
            }
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            Ok(r)
        }
        JobState::Failed(why) => Err(Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", why.clone())),
        JobState::Done { files, deleted } => {
            let output: Vec<_> = files
                .iter()
                .map(|(t, n)| json!({"type": t, "url": format!("{}/$export-file/{id}/{t}.ndjson", ctx.base), "count": n}))
                .collect();
            let mut manifest = json!({
                "transactionTime": lantern_store::clock::format_instant(job.started),
                "request": job.request,
                "requiresAccessToken": true,
                "output": output,
                "error": [],
            });
            if *deleted > 0 {
                manifest["deleted"] = json!([{
                    "type": "Bundle",
                    "url": format!("{}/$export-file/{id}/{DELETED_FILE}", ctx.base),
                    "count": deleted,
                }]);
            }
            Ok(([(header::CONTENT_TYPE, "application/json")], manifest.to_string()).into_response())
        }
    }
}

/// `DELETE /fhir/$export-status/{id}`: cancels the job or removes its files.
pub(crate) async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let job = {
        let mut jobs = s.exports.lock();
        match jobs.get(&id) {
            Some(j) if j.owner == owner() => jobs.remove(&id),
            _ => None,
        }
    };
    let job = job.ok_or_else(|| not_found(&id))?;
    let _ = std::fs::remove_dir_all(&job.dir);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /fhir/$export-file/{id}/{Type}.ndjson` (and `deleted.ndjson`).
pub(crate) async fn file(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response> {
    let path = {
        let jobs = s.exports.lock();
        let job = jobs.get(&id).filter(|j| j.owner == owner()).ok_or_else(|| not_found(&id))?;
        // Only the names the manifest lists: never a path the client made up.
        match &job.state {
            JobState::Done { files, deleted }
                if files.iter().any(|(t, _)| format!("{t}.ndjson") == name)
                    || (*deleted > 0 && name == DELETED_FILE) =>
            {
                job.dir.join(&name)
            }
            _ => {
                return Err(Fail::new(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    format!("export {id} has no file '{name}'"),
                ))
            }
        }
    };
    let f = tokio::fs::File::open(&path).await.map_err(|e| {
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", format!("cannot open the export file: {e}"))
    })?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f));
    Ok(([(header::CONTENT_TYPE, "application/fhir+ndjson")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(root: &std::path::Path, id: &str, started: i64, state: JobState, files: &[&str]) {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "{}\n").unwrap();
        }
        let job = Job {
            owner: Some("iss|dr-a".into()),
            request: format!("GET /fhir/$export?{id}"),
            started,
            dir,
            state,
        };
        persist(&job).unwrap();
    }

    /// What a restart finds: finished and failed jobs as they were, a running job failed with
    /// its partial files gone, expired jobs and kick-offs without a state removed.
    #[test]
    fn a_restart_keeps_finished_jobs_and_fails_running_ones() {
        let root = tempfile::tempdir().unwrap();
        let now = 10 * KEEP_MICROS;
        let done = JobState::Done { files: vec![("Patient".into(), 1)], deleted: 0 };
        keep(root.path(), "done", now - 1000, done, &["Patient.ndjson"]);
        keep(root.path(), "running", now - 1000, JobState::Running { done: 1, of: 3 }, &["Patient.ndjson"]);
        keep(root.path(), "failed", now - 1000, JobState::Failed("no".into()), &[]);
        let old = JobState::Done { files: vec![("Patient".into(), 1)], deleted: 0 };
        keep(root.path(), "expired", now - KEEP_MICROS - 1, old, &["Patient.ndjson"]);
        std::fs::create_dir_all(root.path().join("cut-short")).unwrap();

        let exports = Exports::open(root.path(), now).unwrap();
        let jobs = exports.lock();
        let mut ids: Vec<&str> = jobs.keys().map(String::as_str).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["done", "failed", "running"]);
        assert!(!root.path().join("expired").exists() && !root.path().join("cut-short").exists());

        let done = &jobs["done"];
        assert!(
            matches!(&done.state, JobState::Done { files, .. } if files[0] == ("Patient".to_string(), 1))
        );
        assert_eq!(done.owner.as_deref(), Some("iss|dr-a"));
        assert_eq!(done.request, "GET /fhir/$export?done");
        assert!(done.dir.join("Patient.ndjson").exists());

        assert!(matches!(&jobs["running"].state, JobState::Failed(why) if why == RESTARTED));
        assert!(!root.path().join("running/Patient.ndjson").exists(), "partial files removed");
        assert!(matches!(&jobs["failed"].state, JobState::Failed(why) if why == "no"));
        drop(jobs);

        // The failure is kept too: a second restart says the same.
        let again = Exports::open(root.path(), now).unwrap();
        assert!(matches!(&again.lock()["running"].state, JobState::Failed(why) if why == RESTARTED));
    }
}
