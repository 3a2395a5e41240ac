//! The authenticated caller, as the policy and the audit see it.
use super::Trust;
use lantern_audit::{Action, Agent, Entry};
use lantern_auth::{Kind, Op, Principal};
use lantern_policy::{Purpose, Requester, RequesterKind, TypeSet};
use lantern_service::{AccessFilter, MayWrite, WriteKind};
use lantern_store::StoreError;
use std::collections::BTreeSet;
use std::sync::Arc;

pub(super) const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

pub struct Caller {
    pub principal: Principal,
    pub requester: Requester,
    pub access: AccessFilter,
    /// Patients this user currently has broken the glass for.
    pub glass: Arc<BTreeSet<String>>,
}

impl Caller {
    pub(crate) async fn resolve(trust: &Trust, principal: Principal) -> Result<Caller, StoreError> {
        let now = trust.fhir.store.now_micros();
        let kind = match principal.kind {
            Kind::System => RequesterKind::System,
            Kind::User => RequesterKind::User,
            Kind::Patient => RequesterKind::Patient,
            Kind::Feed => RequesterKind::Feed,
        };
        let readable = match principal.scopes.readable_types() {
            lantern_auth::TypeSet::All => TypeSet::All,
            lantern_auth::TypeSet::Only(s) => TypeSet::Only(s),
        };
        let purpose = principal.purpose.and_then(|p| Purpose::parse(p.code())).unwrap_or(match kind {
            RequesterKind::Patient => Purpose::PatientRequest,
            RequesterKind::System => Purpose::Operations,
            _ => Purpose::Treatment,
        });
        let patients = match (&principal.nhs_number, kind) {
            (Some(nhs), RequesterKind::Patient) => patients_of(trust, nhs).await?,
            _ => Vec::new(),
        };
        let requester = Requester {
            kind,
            user: principal.subject.clone(),
            org: principal.org.clone(),
            role: principal.role.clone(),
            purpose,
            patients,
            readable,
        };
        let glass = if kind != RequesterKind::User {
            Arc::default()
        } else if let Some(g) = trust.cached_glass(&requester.user) {
            g
        } else {
            let g = Arc::new(glass_of(trust, &requester.user, now).await?);
            trust.cache_glass(&requester.user, g.clone());
            g
        };
        let store = trust.fhir.store.clone();
        let access = trust.policy.compile(&requester, &|t| store.catalog().type_id(t), now);
        Ok(Caller { principal, requester, access, glass })
    }

    /// Why this caller may not use a path at all, if it may not.
    pub(crate) fn refuse_path(&self, path: &str) -> Option<String> {
        let k = self.requester.kind;
        let role = self.requester.role.as_deref().unwrap_or("");
        if path.starts_with("/admin") && !(k == RequesterKind::System || role == "admin") {
            return Some("the administration routes need a system token or the admin role".into());
        }
        if path.starts_with("/identity")
            && !(k == RequesterKind::System || matches!(role, "admin" | "data-quality"))
        {
            return Some("the patient index routes need the data-quality or admin role".into());
        }
        None
    }

    pub(crate) fn is_privacy_officer(&self) -> bool {
        self.requester.kind == RequesterKind::System
            || matches!(self.requester.role.as_deref(), Some("privacy-officer") | Some("admin"))
    }

    /// The organisation writes are made for (None: system callers keep the tag they send).
    pub(crate) fn writes_for(&self) -> Option<String> {
        match self.requester.kind {
            RequesterKind::User | RequesterKind::Feed => self.requester.org.clone(),
            _ => None,
        }
    }

    pub(crate) fn may_write(self: &Arc<Self>) -> MayWrite {
        let me = self.clone();
        Arc::new(move |rtype: &str, kind: WriteKind| {
            let op = match kind {
                WriteKind::Create => Op::Create,
                WriteKind::Update => Op::Update,
                WriteKind::Delete => Op::Delete,
            };
            if me.principal.scopes.allows(rtype, op) {
                Ok(())
            } else {
                Err(format!(
                    "the token's scopes do not allow {} of {rtype}",
                    format!("{kind:?}").to_lowercase()
                ))
            }
        })
    }

    pub(crate) fn agent(&self) -> Agent {
        let p = &self.principal;
        let mut a = match p.kind {
            Kind::System => Agent::system(p.subject.clone()),
            Kind::User => Agent::user(p.subject.clone(), p.role.clone(), p.org.clone()),
            Kind::Patient => Agent::patient(self.requester.patients.first().map_or("", String::as_str)),
            Kind::Feed => Agent::feed(p.feed.clone().unwrap_or_else(|| p.subject.clone()), p.org.clone()),
        };
        if p.kind == Kind::Patient {
            a.user = Some(p.subject.clone());
        }
        if p.user != p.subject {
            a = a.with_name(p.user.clone());
        }
        a = a.with_purpose(self.requester.purpose.code());
        if let Some(t) = &p.token_id {
            a = a.with_token(t.clone());
        }
        a
    }

    pub(crate) fn entry(&self, action: Action, at: i64) -> Entry {
        Entry::new(action, self.agent()).at(at)
    }

    pub(crate) fn broke_glass_for<'a>(&self, mut patients: impl Iterator<Item = &'a String>) -> bool {
        !self.glass.is_empty() && patients.any(|p| self.glass.contains(p))
    }
}

/// A patient's Patient records: those carrying the NHS number, and every record linked to the
/// same person.
async fn patients_of(trust: &Trust, nhs: &str) -> Result<Vec<String>, StoreError> {
    let nhs = nhs.to_string();
    let now = trust.fhir.store.now_micros();
    trust
        .fhir
        .store
        .with_reader(move |c, cat| {
            let mut out: BTreeSet<String> = BTreeSet::new();
            let pairs = vec![("identifier".to_string(), format!("{NHS_NUMBER_SYSTEM}|{nhs}"))];
            let mut req =
                lantern_fhir::search::parse(Some("Patient"), &pairs, lantern_fhir::search::Handling::Strict)
                    .map_err(StoreError::Invalid)?;
            req.count = 100;
            req.total = lantern_fhir::search::TotalMode::None;
            for id in lantern_store::search::search_ids(c, cat, &req, &AccessFilter::All, now)? {
                out.insert(id);
            }
            let direct: Vec<String> = out.iter().cloned().collect();
            for id in direct {
                c.query(
                    "SELECT l2.patient FROM person_link l1 JOIN person_link l2 ON l2.person = l1.person \
                     WHERE l1.patient = ?",
                    &[id.as_str().into()],
                    &mut |r| {
                        if let Some(p) = r.text(0)? {
                            out.insert(p);
                        }
                        Ok(())
                    },
                )?;
            }
            Ok(out.into_iter().collect())
        })
        .await
}

/// The patients a user has a current break-glass for.
async fn glass_of(trust: &Trust, user: &str, now: i64) -> Result<BTreeSet<String>, StoreError> {
    let subject = lantern_policy::user_subject(user);
    trust
        .fhir
        .store
        .with_reader(move |c, _| {
            let mut out = BTreeSet::new();
            c.query(
                "SELECT patient FROM patient_grant WHERE subject = ? AND kind = ? AND until > ?",
                &[subject.as_str().into(), lantern_policy::kinds::BREAK_GLASS.into(), now.into()],
                &mut |r| {
                    if let Some(p) = r.text(0)? {
                        out.insert(p);
                    }
                    Ok(())
                },
            )?;
            Ok(out)
        })
        .await
}
