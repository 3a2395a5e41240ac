//! Trust in the main path of every request: authentication, the access policy compiled into
//! the request's context, and the audit record written before the response leaves.
//!
//! A request passes [`guard`]: its bearer token is verified (401 otherwise), the caller's
//! [`Requester`] is compiled by the policy into the store's access filter, and the handler runs
//! with that caller in a task-local ([`current`]), from which `http::request::decode` builds
//! the service context. What the handler showed is collected on the way; the audit record is
//! committed before the response is returned, so no data leaves without its record (if the
//! record cannot be written, the response is replaced by a 503).
mod caller;
pub mod ops;
pub mod routes;
mod tokens;

pub use caller::Caller;

use crate::http::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, Method, StatusCode};
use lantern_audit::{Action, Agent, Audit, Entry, Outcome};
use lantern_auth::Verifier;
use lantern_policy::Policy;
use lantern_service::{AuditedWrite, Fhir, Seen, WriteAudit};
use lantern_store::{StoreError, WriteTx};
use std::sync::{Arc, Mutex};

/// Authentication, policy and audit, shared by every request.
pub struct Trust {
    pub verifier: Verifier,
    pub policy: Arc<Policy>,
    pub audit: Audit,
    pub fhir: Fhir,
    /// Token ids already seen: the first request with a token is recorded as a login.
    logins: Mutex<std::collections::HashSet<String>>,
    /// Each user's current break-glass patients, briefly cached: they only flag audit records
    /// (the access filter itself reads the grants in the query), and creating a break-glass
    /// clears the user's entry.
    glass: Mutex<GlassCache>,
    /// Tokens verified in the last second (see [`tokens`]).
    tokens: tokens::Tokens,
    audit_reads: bool,
}

type GlassCache =
    std::collections::HashMap<String, (std::time::Instant, Arc<std::collections::BTreeSet<String>>)>;

/// How long a user's break-glass list is reused for audit flags.
const GLASS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Trust {
    pub fn new(verifier: Verifier, policy: Arc<Policy>, fhir: Fhir) -> Trust {
        Trust {
            verifier,
            policy,
            audit: Audit::new(fhir.store.clone()),
            fhir,
            logins: Mutex::default(),
            glass: Mutex::default(),
            tokens: tokens::Tokens::default(),
            audit_reads: true,
        }
    }

    /// Stops recording reads. Only `lantern bench trust` uses it, to separate what the audit
    /// costs from what the policy costs; `lantern serve` always records every look.
    pub fn without_read_audit(mut self) -> Trust {
        self.audit_reads = false;
        self
    }

    pub(crate) fn cached_glass(&self, user: &str) -> Option<Arc<std::collections::BTreeSet<String>>> {
        let g = self.glass.lock().ok()?;
        g.get(user).filter(|(at, _)| at.elapsed() < GLASS_TTL).map(|(_, s)| s.clone())
    }

    pub(crate) fn cache_glass(&self, user: &str, set: Arc<std::collections::BTreeSet<String>>) {
        if let Ok(mut g) = self.glass.lock() {
            if g.len() > 100_000 {
                g.clear();
            }
            g.insert(user.to_string(), (std::time::Instant::now(), set));
        }
    }

    pub(crate) fn forget_glass(&self, user: &str) {
        if let Ok(mut g) = self.glass.lock() {
            g.remove(user);
        }
        self.tokens.forget_callers_of(user);
    }

    /// Whether this is the first request seen with this token (bounded memory: the set is
    /// cleared when large, which at worst records a login twice).
    fn first_use(&self, token_id: &str) -> bool {
        let Ok(mut seen) = self.logins.lock() else { return false };
        if seen.contains(token_id) {
            return false;
        }
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(token_id.to_string())
    }
}

/// Whether the server enforces trust. `Disabled` exists for tests of other layers and for
/// embedding; `lantern serve` always enforces.
#[derive(Clone)]
pub enum Security {
    Enforced(Arc<Trust>),
    Disabled,
}

/// The caller of the request being handled, and what it has been shown so far.
#[derive(Clone)]
pub struct Scope {
    pub caller: Arc<Caller>,
    pub seen: Arc<Mutex<Seen>>,
    pub trust: Arc<Trust>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The current request's caller, when trust is enforced.
pub fn current() -> Option<Scope> {
    SCOPE.try_with(|s| s.clone()).ok()
}

/// Paths anyone may call: liveness, the CapabilityStatement and SMART's discovery document
/// (a client reads both before it has a token).
fn is_public(path: &str) -> bool {
    path == "/health" || path == "/fhir/metadata" || path == crate::http::smart::PATH
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Security::Enforced(trust) = &state.security else { return next.run(req).await };
    if is_public(req.uri().path()) || crate::viewer::is_public(req.uri().path()) {
        return next.run(req).await;
    }
    // Viewer pages carry their token in the session cookie (a browser cannot add a header);
    // everything else uses the Authorization header. A page without a valid session goes back
    // to the sign-in page instead of showing a JSON OperationOutcome.
    let page = crate::viewer::is_page(req.uri().path());
    let cookie = if page { crate::viewer::session_token(req.headers()) } else { None };
    let header = match &cookie {
        Some(t) => Some(format!("Bearer {t}")),
        None => req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).map(str::to_string),
    };
    let remembered = header.as_deref().and_then(|h| trust.tokens.remembered(h, tokens::unix_now()));
    let verified = match remembered {
        Some(r) => Ok(r),
        None => trust.verifier.verify_header(header.as_deref()).map(|p| {
            if let Some(h) = &header {
                trust.tokens.put(h, &p);
            }
            tokens::Remembered::Principal(Box::new(p))
        }),
    };
    let remembered = match verified {
        Ok(r) => r,
        Err(_) if page => return crate::viewer::to_sign_in(req.uri()),
        Err(e) => {
            // A failed login is worth recording (repeated failures are an attack signal), but
            // the token's claims are not trusted, so only the address and reason are kept.
            let entry = Entry::new(Action::LoginFailed, Agent::anonymous(None))
                .at(trust.fhir.store.now_micros())
                .with_outcome(Outcome::refused(401, e.diagnostic()))
                .with_query(format!("{} {}", req.method(), req.uri().path()));
            let _ = trust.audit.record(vec![entry]).await;
            let mut resp = crate::http::outcome(StatusCode::UNAUTHORIZED, e.code(), &e.diagnostic());
            if let Ok(v) = e.www_authenticate().parse() {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            return resp;
        }
    };
    let caller = match remembered {
        tokens::Remembered::Caller(c) => c,
        tokens::Remembered::Principal(principal) => match Caller::resolve(trust, *principal).await {
            Ok(c) => {
                let c = Arc::new(c);
                if let Some(h) = &header {
                    trust.tokens.put_caller(h, &c);
                }
                c
            }
            Err(e) => {
                return crate::http::outcome(StatusCode::SERVICE_UNAVAILABLE, "exception", &e.to_string())
            }
        },
    };
    let path = req.uri().path().to_string();
    let token_key = match &caller.principal.token_id {
        Some(id) => std::borrow::Cow::Borrowed(id.as_str()),
        None => std::borrow::Cow::Owned(format!(
            "{}:{}:{}",
            caller.principal.issuer, caller.principal.subject, caller.principal.expires
        )),
    };
    if trust.first_use(&token_key) {
        let entry = caller.entry(Action::Login, trust.fhir.store.now_micros());
        if trust.audit.record(vec![entry]).await.is_err() {
            return unaudited();
        }
    }
    if let Some(why) = caller.refuse_path(&path) {
        let entry = caller
            .entry(Action::Refusal, trust.fhir.store.now_micros())
            .with_outcome(Outcome::refused(403, why.clone()))
            .with_query(format!("{} {path}", req.method()));
        if trust.audit.record(vec![entry]).await.is_err() {
            return unaudited();
        }
        return crate::http::outcome(StatusCode::FORBIDDEN, "forbidden", &why);
    }
    let method = req.method().clone();
    let query = match req.uri().query() {
        Some(q) => format!("{method} {path}?{q}"),
        None => format!("{method} {path}"),
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let scope = Scope { caller: caller.clone(), seen: seen.clone(), trust: trust.clone() };
    let resp = SCOPE.scope(scope, next.run(req)).await;
    let seen = seen.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
    if seen.writes_audited && resp.status().is_success() {
        return resp;
    }
    // Own routes (break-glass, explain, audit reads) write their own records.
    if path.starts_with("/access/") || path.starts_with("/policy") || path.starts_with("/audit/") {
        return resp;
    }
    // So do the viewer's pages that call trust's operations (break-glass, its review, who looked).
    let viewer_own = (method == Method::POST
        && (path.ends_with("/break-glass") || path.starts_with("/privacy/")))
        || path == "/my-record/who-looked";
    if viewer_own && !resp.status().is_server_error() {
        return resp;
    }
    if !trust.audit_reads {
        return resp;
    }
    let action = action_of(&method, &path);
    let status = resp.status();
    let outcome = if status.is_success() || status.is_redirection() {
        Outcome::success()
    } else if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
        Outcome::refused(status.as_u16(), "refused by the access policy")
    } else {
        Outcome::failed(status.as_u16(), status.canonical_reason().unwrap_or("failed"))
    };
    let broke_glass = caller.broke_glass_for(seen.patients.iter());
    let mut entry = caller
        .entry(action, trust.fhir.store.now_micros())
        .with_outcome(outcome)
        .with_query(query)
        .patients(seen.patients.iter())
        .entities(seen.entities)
        .with_break_glass(broke_glass);
    entry.more_entities = (seen.count.saturating_sub(entry.entities.len())) as u64;
    if trust.audit.record(vec![entry]).await.is_err() {
        return unaudited();
    }
    resp
}

fn unaudited() -> Response {
    crate::http::outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "exception",
        "the access could not be recorded in the audit log, so nothing is returned; try again",
    )
}

/// The audit action of a FHIR request, from its method and path.
fn action_of(method: &Method, path: &str) -> Action {
    let parts: Vec<&str> = path.trim_start_matches("/fhir").split('/').filter(|s| !s.is_empty()).collect();
    let op = parts.iter().find(|p| p.starts_with('$')).copied();
    match (method.as_str(), parts.as_slice(), op) {
        (_, _, Some("$everything")) => Action::Everything,
        (_, _, Some("$export")) => Action::Export,
        (_, _, Some(_)) => Action::Operation,
        (_, [.., "_history", _], _) if parts.len() == 4 => Action::Vread,
        (_, [.., "_history"], _) => Action::History,
        ("GET", [_, _], _) => Action::Read,
        ("GET", _, _) => Action::Search,
        ("POST", [.., "_search"], _) => Action::Search,
        ("POST", [], _) => Action::Transaction,
        ("POST", _, _) => Action::Create,
        ("PUT", _, _) => Action::Update,
        ("PATCH", _, _) => Action::Patch,
        ("DELETE", _, _) => Action::Delete,
        _ => Action::Operation,
    }
}

/// Writes the audit record of a request's writes inside their job (see
/// [`lantern_service::WriteAudit`]).
pub struct JobAudit {
    pub caller: Arc<Caller>,
}

impl WriteAudit for JobAudit {
    fn record(&self, tx: &mut WriteTx<'_>, action: &str, writes: &[AuditedWrite]) -> Result<(), StoreError> {
        let action = match action {
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "transaction" => Action::Transaction,
            _ => Action::Operation,
        };
        let mut patients: Vec<&str> = writes.iter().filter_map(|w| w.patient.as_deref()).collect();
        patients.sort_unstable();
        patients.dedup();
        let mut entry = self
            .caller
            .entry(action, tx.now_micros())
            .patients(patients.iter())
            .entities(writes.iter().take(lantern_audit::MAX_ENTITIES).map(|w| w.reference.clone()));
        entry.more_entities = writes.len().saturating_sub(lantern_audit::MAX_ENTITIES) as u64;
        lantern_audit::append(tx, &[entry])?;
        // A Subscription acts for whoever wrote it last: its notifications are filtered by
        // what that caller may see (see `lantern_notify::owner`).
        for w in writes {
            if let Some(id) = w.reference.strip_prefix("Subscription/").and_then(|r| r.split('/').next()) {
                lantern_notify::owner::record(
                    tx,
                    id,
                    &lantern_notify::Owner::from_requester(&self.caller.requester),
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_from_requests() {
        let get = Method::GET;
        assert_eq!(action_of(&get, "/fhir/Patient/1"), Action::Read);
        assert_eq!(action_of(&get, "/fhir/Patient/1/_history/2"), Action::Vread);
        assert_eq!(action_of(&get, "/fhir/Patient/1/_history"), Action::History);
        assert_eq!(action_of(&get, "/fhir/Observation"), Action::Search);
        assert_eq!(action_of(&get, "/fhir/Patient/1/$everything"), Action::Everything);
        assert_eq!(action_of(&Method::POST, "/fhir/Observation/_search"), Action::Search);
        assert_eq!(action_of(&Method::POST, "/fhir"), Action::Transaction);
        assert_eq!(action_of(&Method::DELETE, "/fhir/Patient/1"), Action::Delete);
    }
}
