//! The notifier: reads the change feed past its cursor, keeps the set of active
//! Subscriptions up to date from the same feed, and sends each matching resource to each
//! subscriber allowed to see it.
//!
//! # Matching under the owner's access
//!
//! For each batch of changes and each active Subscription on that type, one search runs: the
//! criteria, plus `_id` naming the batch's changed resources, under the access filter compiled
//! from the Subscription's owner. So a notification never shows more than that owner could
//! read by searching at that moment (agreements, care relationships, opt-outs, labels), and
//! a GP practice subscribed to `Encounter?class=IMP` hears of admissions of its own patients
//! only. The search sees each resource as it is now: a resource changed twice in a batch is
//! sent once, at its latest version.
//!
//! # Delivery
//!
//! At least once: each active Subscription has its own place in the change feed (its
//! resource type's versions, `notify_sub`), moved past a batch only after the batch's
//! notifications were sent. A notification whose attempts all fail puts its Subscription in
//! `error`, with the reason in `error` (R4), and it receives nothing more until its owner sets
//! it back to `requested` (from then on; the client can catch up from `_history?_since`).
//! Every notification is recorded in the audit log as a disclosure to the owner (action
//! `notification`) before it is sent, as every read is before its response, so the patient's
//! "who looked at my record" lists it; one that could not be delivered gets a second record
//! saying so.
//!
//! Each Subscription's notifications go out in order, in a task of its own that outlives the
//! pass if it must: a pass waits for its tasks up to [`SETTLE`], then goes on, and later
//! passes skip a Subscription whose task is still running. So an endpoint that does not answer
//! holds up its own Subscription only (for its timeouts and retries, tens of seconds, once:
//! then it is in error), never another's notifications, of this pass or any later one.
use crate::changes;
use crate::deliver;
use crate::owner::{self, Owner};
use crate::subscription::{Plan, Status};
use lantern_audit::{Action, Audit, Entry, Outcome};
use lantern_policy::Policy;
use lantern_service::{Ctx, Error, Fhir, Handling};
use lantern_store::{StoreError, Stored};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Changes read per pass.
const BATCH: usize = 500;

/// Resources named per matching search (`_id=a,b,...`).
const IDS_PER_SEARCH: usize = 100;

/// Waits between attempts at one notification before its Subscription is put in error.
const RETRY: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];

/// How long a pass waits for its delivery tasks before it returns and leaves the slow ones
/// running: long enough that a pass normally ends with its notifications delivered, short
/// enough that a dead endpoint does not delay the next pass.
pub const SETTLE: Duration = Duration::from_secs(1);

struct Active {
    plan: Plan,
    owner: Owner,
}

/// What one Subscription is to be sent in a pass, in order, and how far in the feed that
/// takes it.
struct Outbox {
    sub: String,
    plan: Plan,
    owner: Owner,
    matches: Vec<Stored>,
    upto: i64,
}

/// What sending an [`Outbox`] came to: how many were delivered, and why the next was not.
struct Sent {
    sent: usize,
    failed: Option<String>,
}

/// What a delivery task needs (cheap clones of the notifier's parts).
#[derive(Clone)]
struct Sender {
    fhir: Fhir,
    audit: Option<Audit>,
    client: reqwest::Client,
    retry: Vec<Duration>,
}

/// Sends notifications for the Subscriptions in one store.
pub struct Notifier {
    fhir: Fhir,
    policy: Option<Arc<Policy>>,
    audit: Option<Audit>,
    client: reqwest::Client,
    ctx: Ctx,
    active: BTreeMap<String, Active>,
    loaded: bool,
    retry: Vec<Duration>,
    /// URL prefixes endpoints must start with; empty allows any http(s) endpoint.
    allowed: Vec<String>,
    /// Delivery tasks still running, one per Subscription at most, and which is whose.
    tasks: tokio::task::JoinSet<(String, Result<Sent, Error>)>,
    busy: BTreeMap<String, tokio::task::Id>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Versions read from the change feed.
    pub changes: usize,
    /// Notifications sent.
    pub sent: usize,
    /// Notifications given up on (their Subscriptions are now in error).
    pub failed: usize,
    /// Subscriptions whose delivery was still under way when the pass returned.
    pub pending: usize,
}

impl Notifier {
    /// `policy` and `audit` are those of the server's trust layer (`None` where trust is off:
    /// every subscriber then sees everything, as every caller does).
    pub fn new(fhir: Fhir, policy: Option<Arc<Policy>>, audit: Option<Audit>) -> Result<Notifier, String> {
        Ok(Notifier {
            ctx: Ctx::system("urn:lantern:notifier"),
            fhir,
            policy,
            audit,
            client: deliver::client()?,
            active: BTreeMap::new(),
            loaded: false,
            retry: RETRY.to_vec(),
            allowed: Vec::new(),
            tasks: tokio::task::JoinSet::new(),
            busy: Default::default(),
        })
    }

    /// Other waits between attempts (tests use short ones).
    pub fn with_retry(mut self, retry: Vec<Duration>) -> Notifier {
        self.retry = retry;
        self
    }

    /// Only endpoints starting with one of these URL prefixes (e.g. `https://gp.example.nhs.uk/`)
    /// are accepted; a Subscription naming another is put in error. Without any, any http or
    /// https endpoint is, which lets whoever may write a Subscription make this server call any
    /// address it can reach: set them in production.
    pub fn with_allowed_endpoints(mut self, prefixes: Vec<String>) -> Notifier {
        self.allowed = prefixes;
        self
    }

    /// The ids of the Subscriptions being delivered.
    pub fn active(&self) -> Vec<String> {
        self.active.keys().cloned().collect()
    }

    /// Runs until the process ends: a pass, then another at once while passes find changes,
    /// else after `idle`. A pass that fails (the store unreachable) is logged and retried.
    pub async fn run(mut self, idle: Duration) {
        loop {
            match self.pass().await {
                Ok(p) if p.changes > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "notifications: a pass failed; trying again"),
            }
            tokio::time::sleep(idle).await;
        }
    }

    /// One pass: the Subscriptions written since the last, then for each active Subscription
    /// not still busy with an earlier batch, the changes of its type past its own place (at
    /// most [`BATCH`]), matched and handed to a delivery task. Waits for the tasks up to
    /// [`SETTLE`]; what finished is counted in this pass, the rest in a later one.
    pub async fn pass(&mut self) -> Result<Pass, Error> {
        let mut pass = Pass::default();
        if !self.loaded {
            self.load().await?;
            self.loaded = true;
        }
        let reaped = self.reap(&mut pass, None).await;
        let after = self.fhir.store.with_reader(|c, _| changes::cursor(c)).await?;
        let subs = self
            .fhir
            .store
            .with_reader(move |c, _| changes::of_type(c, "Subscription", after, BATCH))
            .await?;
        for c in &subs {
            self.refresh(&c.id, c.seq).await?;
        }
        if let Some(last) = subs.last().map(|c| c.seq) {
            self.fhir.store.write(move |tx| changes::set_cursor(tx.conn(), last)).await?;
        }
        pass.changes += subs.len();
        let places: BTreeMap<String, i64> =
            self.fhir.store.with_reader(|c, _| changes::sub_cursors(c)).await?.into_iter().collect();
        let ready: Vec<(String, String)> = self
            .active
            .iter()
            .filter(|(id, _)| !self.busy.contains_key(*id))
            .map(|(id, a)| (id.clone(), a.plan.rtype.clone()))
            .collect();
        // Subscriptions whose batch matched nothing move on together, in one write.
        let mut nothing_to_send: Vec<(String, i64)> = Vec::new();
        for (sub, rtype) in ready {
            let from = places.get(&sub).copied().unwrap_or(after);
            let batch =
                self.fhir.store.with_reader(move |c, _| changes::of_type(c, &rtype, from, BATCH)).await?;
            let Some(upto) = batch.last().map(|c| c.seq) else { continue };
            pass.changes += batch.len();
            let mut ids: Vec<&str> = batch.iter().filter(|c| !c.deleted).map(|c| c.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut outbox = None;
            for chunk in ids.chunks(IDS_PER_SEARCH) {
                let Some((plan, owner, matches)) = self.matches(&sub, chunk).await? else { break };
                let o = outbox.get_or_insert_with(|| Outbox {
                    sub: sub.clone(),
                    plan,
                    owner,
                    matches: Vec::new(),
                    upto,
                });
                o.matches.extend(matches);
            }
            match outbox.filter(|o| !o.matches.is_empty()) {
                Some(o) => {
                    let sender = Sender {
                        fhir: self.fhir.clone(),
                        audit: self.audit.clone(),
                        client: self.client.clone(),
                        retry: self.retry.clone(),
                    };
                    let name = sub.clone();
                    let task = self.tasks.spawn(async move { (name, sender.send_all(o).await) });
                    self.busy.insert(sub, task.id());
                }
                None if self.active.contains_key(&sub) => nothing_to_send.push((sub, upto)),
                None => {}
            }
        }
        if !nothing_to_send.is_empty() {
            self.fhir
                .store
                .write(move |tx| {
                    for (sub, upto) in &nothing_to_send {
                        changes::set_sub_cursor(tx.conn(), sub, *upto)?;
                    }
                    Ok(())
                })
                .await?;
        }
        let settled = self.reap(&mut pass, Some(SETTLE)).await;
        pass.pending = self.busy.len();
        reaped.and(settled).map(|_| pass)
    }

    /// Takes the delivery tasks that have finished (waiting for the rest up to `wait`):
    /// counts what they sent, and puts a Subscription whose notification could not be
    /// delivered in error. A task that failed (an audit record not written) leaves its
    /// Subscription's place where it was, so its batch is sent again; its error is returned
    /// once every finished task has been taken.
    async fn reap(&mut self, pass: &mut Pass, wait: Option<Duration>) -> Result<(), Error> {
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        let mut first_error = None;
        loop {
            let done = match deadline {
                _ if self.tasks.is_empty() => break,
                None => match self.tasks.try_join_next() {
                    Some(d) => d,
                    None => break,
                },
                Some(at) => match tokio::time::timeout_at(at, self.tasks.join_next()).await {
                    Ok(Some(d)) => d,
                    Ok(None) | Err(_) => break,
                },
            };
            let (sub, result) = match done {
                Ok(d) => d,
                Err(e) => {
                    // A task that panicked: its Subscription's place did not move, so its batch
                    // is read again by a later pass (at least once).
                    self.busy.retain(|_, id| *id != e.id());
                    first_error.get_or_insert(Error::Store(StoreError::Database(format!(
                        "a notification task stopped: {e}"
                    ))));
                    continue;
                }
            };
            self.busy.remove(&sub);
            match result {
                Ok(sent) => {
                    pass.sent += sent.sent;
                    if let Some(why) = sent.failed {
                        pass.failed += 1;
                        if self.active.contains_key(&sub) {
                            self.fail(&sub, &why).await?;
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every stored Subscription, at start-up.
    async fn load(&mut self) -> Result<(), Error> {
        let ids = self
            .fhir
            .store
            .with_reader(|c, cat| {
                let Some(t) = cat.type_id("Subscription") else { return Ok(Vec::new()) };
                let mut ids = Vec::new();
                c.query("SELECT id FROM resource WHERE type = ? AND deleted = 0", &[t.into()], &mut |r| {
                    ids.extend(r.text(0)?);
                    Ok(())
                })?;
                Ok::<_, StoreError>(ids)
            })
            .await?;
        let from = self.fhir.store.with_reader(|c, _| changes::cursor(c)).await?;
        for id in ids {
            self.refresh(&id, from).await?;
        }
        Ok(())
    }

    /// Brings one Subscription's place in the active set up to date with its current version,
    /// activating a `requested` one (or putting it in error with the reason). `seq` is where in
    /// the feed it starts hearing from if it is activated now (the version that asked for it),
    /// or, for one already active that has no place yet, where it starts.
    async fn refresh(&mut self, id: &str, seq: i64) -> Result<(), Error> {
        self.active.remove(id);
        let current = match self.fhir.store.read("Subscription", id).await? {
            Some(stored) if !stored.deleted && stored.body.is_some() => {
                let body = stored.body.as_deref().unwrap_or_default();
                let resource: Value =
                    serde_json::from_str(body).map_err(|e| StoreError::Database(e.to_string()))?;
                Some((stored, resource))
            }
            _ => None,
        };
        let status = current.as_ref().and_then(|(_, r)| Status::of(r));
        let Some((stored, resource)) =
            current.filter(|_| matches!(status, Some(Status::Requested | Status::Active)))
        else {
            let sub = id.to_string();
            self.fhir.store.write(move |tx| changes::drop_sub_cursor(tx.conn(), &sub)).await?;
            return Ok(());
        };
        let id_owned = id.to_string();
        let owner = self
            .fhir
            .store
            .with_reader(move |c, _| owner::load(c, &id_owned))
            .await?
            .unwrap_or_else(Owner::system);
        let plan = Plan::of(&resource).and_then(|p| {
            // The criteria must be a search this server runs, parsed as strictly as a client's.
            let strict = Ctx { handling: Handling::Strict, ..self.ctx.clone() };
            self.fhir.parse_search(&strict, Some(&p.rtype), &p.criteria).map_err(|e| e.to_string())?;
            if !self.allowed.is_empty()
                && !self.allowed.iter().any(|a| p.endpoint.as_str().starts_with(a.as_str()))
            {
                return Err(format!(
                    "the endpoint {} is not one this server may notify (ask its administrator)",
                    p.endpoint
                ));
            }
            Ok(p)
        });
        let now = self.fhir.store.now_micros();
        match plan {
            Err(why) => self.set_status(&stored, resource, "error", Some(&why)).await,
            Ok(p) if p.end.is_some_and(|end| end < now) => {
                self.set_status(&stored, resource, "off", None).await
            }
            Ok(p) => {
                let sub = id.to_string();
                if status == Some(Status::Requested) {
                    // Activated now: it hears of what follows the version that asked for it.
                    self.fhir.store.write(move |tx| changes::set_sub_cursor(tx.conn(), &sub, seq)).await?;
                    self.set_status(&stored, resource, "active", None).await?;
                } else {
                    self.fhir.store.write(move |tx| changes::init_sub_cursor(tx.conn(), &sub, seq)).await?;
                }
                self.active.insert(id.to_string(), Active { plan: p, owner });
                Ok(())
            }
        }
    }

    /// Writes a new status (and `error`) into a Subscription, unless it changed meanwhile.
    async fn set_status(
        &self,
        stored: &Stored,
        mut resource: Value,
        status: &str,
        why: Option<&str>,
    ) -> Result<(), Error> {
        resource["status"] = Value::from(status);
        match why {
            Some(w) => resource["error"] = Value::from(w),
            None => {
                if let Some(o) = resource.as_object_mut() {
                    o.remove("error");
                }
            }
        }
        if let Some(why) = why {
            tracing::warn!(subscription = %stored.id, reason = why, "notifications: subscription in error");
        }
        match self.fhir.update(&self.ctx, "Subscription", &stored.id, resource, Some(stored.version)).await {
            // Changed by its owner meanwhile: the feed brings the new version to `refresh`.
            Err(Error::Store(StoreError::VersionConflict { .. })) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// The resources among `ids` that match Subscription `sub`'s criteria and that its owner
    /// may see, with its plan and owner; `None` if it is no longer active (its end passed).
    async fn matches(
        &mut self,
        sub: &str,
        ids: &[&str],
    ) -> Result<Option<(Plan, Owner, Vec<Stored>)>, Error> {
        let Some(a) = self.active.get(sub) else { return Ok(None) };
        let now = self.fhir.store.now_micros();
        if a.plan.end.is_some_and(|end| end < now) {
            return self.refresh(sub, 0).await.map(|_| None);
        }
        let mut pairs = a.plan.criteria.clone();
        pairs.push(("_id".into(), ids.join(",")));
        pairs.push(("_count".into(), ids.len().to_string()));
        pairs.push(("_total".into(), "none".into()));
        let cat = self.fhir.store.catalog();
        let access = a.owner.access(self.policy.as_deref(), &|t| cat.type_id(t), now);
        let ctx = Ctx { access: access.clone(), ..self.ctx.clone() };
        let req = self.fhir.parse_search(&ctx, Some(&a.plan.rtype), &pairs)?;
        let page = self.fhir.store.search(req, access).await?;
        Ok(Some((a.plan.clone(), a.owner.clone(), page.matches)))
    }
}

impl Sender {
    /// Sends one Subscription its notifications in order, stopping at the first that cannot be
    /// delivered (the caller then puts the Subscription in error); once all are sent, moves its
    /// place in the feed past the batch.
    async fn send_all(self, o: Outbox) -> Result<Sent, Error> {
        for (n, s) in o.matches.iter().enumerate() {
            // Recorded before the data leaves, as every other disclosure is.
            self.record(&o.plan, &o.owner, s, None).await?;
            let body = s.body.as_deref();
            if let Err(why) =
                deliver::with_retries(&self.client, &o.plan, &s.rtype, &s.id, body, &self.retry).await
            {
                self.record(&o.plan, &o.owner, s, Some(&why)).await?;
                return Ok(Sent { sent: n, failed: Some(why) });
            }
        }
        let (sub, upto) = (o.sub.clone(), o.upto);
        self.fhir.store.write(move |tx| changes::set_sub_cursor(tx.conn(), &sub, upto)).await?;
        Ok(Sent { sent: o.matches.len(), failed: None })
    }

    /// Audits a notification to the owner, naming the resource and its patient: before it is
    /// sent, and again with the reason if it could not be delivered.
    async fn record(
        &self,
        plan: &Plan,
        owner: &Owner,
        s: &Stored,
        failed: Option<&str>,
    ) -> Result<(), Error> {
        let Some(audit) = &self.audit else { return Ok(()) };
        let mut e = Entry::new(Action::Notification, owner.agent())
            .at(self.fhir.store.now_micros())
            .entities([format!("{}/{}/_history/{}", s.rtype, s.id, s.version)]);
        if let Some(p) = s.patient.clone().or_else(|| (s.rtype == "Patient").then(|| s.id.clone())) {
            e = e.patients([p]);
        }
        e.query = Some(format!("Subscription/{}: {}", plan.id, criteria_text(plan)));
        if let Some(why) = failed {
            e.outcome = Outcome::failed(502, format!("not delivered: {why}"));
        }
        audit.record_one(e).await?;
        Ok(())
    }
}

impl Notifier {
    /// Puts a Subscription in error after a notification could not be delivered.
    async fn fail(&mut self, sub: &str, why: &str) -> Result<(), Error> {
        self.active.remove(sub);
        let Some(stored) = self.fhir.store.read("Subscription", sub).await? else { return Ok(()) };
        let Some(body) = stored.body.as_deref() else { return Ok(()) };
        let resource: Value = serde_json::from_str(body).map_err(|e| StoreError::Database(e.to_string()))?;
        let why = format!("a notification could not be delivered: {why}");
        self.set_status(&stored, resource, "error", Some(&why)).await
    }
}

/// The criteria as written, for the audit record (never the endpoint or its headers).
fn criteria_text(plan: &Plan) -> String {
    if plan.criteria.is_empty() {
        return plan.rtype.clone();
    }
    let q: String =
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&plan.criteria).finish();
    format!("{}?{q}", plan.rtype)
}
