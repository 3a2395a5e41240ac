//! The policy, compiled: from a requester to the store's [`AccessFilter`].
use crate::categories;
use crate::config::{Agreement, PolicyConfig};
use crate::facts::{self, OrgKinds};
use crate::labels::Labels;
use crate::requester::{Purpose, Requester, RequesterKind, TypeSet};
use crate::{user_subject, EVERYONE};
use lantern_store::{AccessFilter, Fact};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The organisation tag written on every resource (see lantern-fhir's index constants).
pub const ORG_TAG_SYSTEM: &str = "https://lantern.health/organisation";

#[derive(Debug, Clone)]
pub struct Policy {
    cfg: PolicyConfig,
    agreements: Vec<Agreement>,
    labels: Labels,
    org_kinds: HashMap<String, String>,
    categories: HashMap<String, BTreeSet<String>>,
}

/// One agreement as it applies to a requester: who shares (None: anyone) which types (None:
/// all).
#[derive(Debug, Clone)]
pub struct Applicable<'a> {
    pub agreement: &'a Agreement,
    pub sharers: Option<BTreeSet<String>>,
    pub types: Option<BTreeSet<String>>,
}

impl OrgKinds for Policy {
    fn kind_of(&self, ods: &str) -> &str {
        self.org_kinds.get(ods).map_or("other", String::as_str)
    }
}

impl Policy {
    pub fn new(cfg: PolicyConfig) -> Result<Policy, String> {
        let mut cats: HashMap<String, BTreeSet<String>> = categories::DEFAULTS
            .iter()
            .map(|(n, ts)| (n.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect();
        for c in &cfg.categories {
            cats.entry(c.name.clone()).or_default().extend(c.types.iter().cloned());
        }
        let agreements = if cfg.agreements.is_empty() {
            vec![Agreement::regional_default()]
        } else {
            cfg.agreements.clone()
        };
        for a in &agreements {
            for c in &a.categories {
                if c != "*" && !cats.contains_key(c) {
                    let mut known: Vec<_> = cats.keys().cloned().collect();
                    known.sort();
                    return Err(format!(
                        "agreement '{}': unknown category '{c}' (known: {})",
                        a.id,
                        known.join(", ")
                    ));
                }
            }
            for p in &a.purposes {
                Purpose::parse(p)
                    .ok_or_else(|| format!("agreement '{}': unknown purpose of use '{p}'", a.id))?;
            }
            if a.from.is_empty() || a.to.is_empty() {
                return Err(format!(
                    "agreement '{}': 'from' and 'to' must each name at least one organisation",
                    a.id
                ));
            }
        }
        let labels = Labels::new(&cfg.labels, cfg.replace_default_labels)?;
        let org_kinds = cfg.organisations.iter().map(|o| (o.ods.clone(), o.kind.clone())).collect();
        Ok(Policy { cfg, agreements, labels, org_kinds, categories: cats })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn agreements(&self) -> &[Agreement] {
        &self.agreements
    }

    /// Labels a resource on its way into the store and derives the facts it asserts. Writes
    /// the labels into `meta.security`; returns the `sec` bits and the facts.
    pub fn label(&self, rtype: &str, id: &str, body: &mut Value, now: i64) -> (i64, Vec<Fact>) {
        let bits = self.labels.bits(body);
        self.labels.stamp(body, bits);
        let owner = owner_of(body);
        let facts = facts::derive(&self.cfg.relationships, self, rtype, id, body, owner.as_deref(), now);
        (bits, facts)
    }

    fn matches_org(&self, pattern: &str, ods: &str) -> bool {
        pattern == "*"
            || pattern == ods
            || pattern.strip_prefix("kind:").is_some_and(|k| k == self.kind_of(ods))
    }

    /// Expands a list of ODS codes / `kind:` patterns to ODS codes; None means anyone.
    fn expand(&self, patterns: &[String]) -> Option<BTreeSet<String>> {
        if patterns.iter().any(|p| p == "*") {
            return None;
        }
        let mut out = BTreeSet::new();
        for p in patterns {
            match p.strip_prefix("kind:") {
                Some(k) => out.extend(self.org_kinds.iter().filter(|(_, v)| *v == k).map(|(o, _)| o.clone())),
                None => {
                    out.insert(p.clone());
                }
            }
        }
        Some(out)
    }

    fn types_of(&self, cats: &[String]) -> Option<BTreeSet<String>> {
        if cats.iter().any(|c| c == "*") {
            return None;
        }
        Some(cats.iter().filter_map(|c| self.categories.get(c)).flatten().cloned().collect())
    }

    /// The agreements under which others share with `org` for `purpose`.
    pub fn applicable(&self, org: &str, purpose: Purpose) -> Vec<Applicable<'_>> {
        self.agreements
            .iter()
            .filter(|a| a.to.iter().any(|t| self.matches_org(t, org)))
            .filter(|a| a.purposes.iter().any(|p| Purpose::parse(p) == Some(purpose)))
            .map(|a| Applicable {
                agreement: a,
                sharers: self.expand(&a.from),
                types: self.types_of(&a.categories),
            })
            .collect()
    }

    /// Whether an opt-out does not bind `org`.
    pub fn exempt_from_opt_out(&self, org: &str) -> bool {
        self.cfg.consent.exempt_organisations.iter().any(|p| self.matches_org(p, org))
    }

    /// Whether `r` may break the glass at all.
    pub fn may_break_glass(&self, r: &Requester) -> Result<(), String> {
        if r.kind != RequesterKind::User || r.org.is_none() {
            return Err("only a user acting for an organisation can break the glass".into());
        }
        let roles = &self.cfg.break_glass.roles;
        if !roles.is_empty() && !r.role.as_ref().is_some_and(|x| roles.contains(x)) {
            return Err(format!(
                "the role '{}' may not break the glass (allowed: {})",
                r.role.as_deref().unwrap_or("none"),
                roles.join(", ")
            ));
        }
        Ok(())
    }

    /// The filter the store applies to every resource row this requester's request touches.
    /// `type_id` maps a resource type name to the store's id.
    pub fn compile(&self, r: &Requester, type_id: &dyn Fn(&str) -> Option<i64>, now: i64) -> AccessFilter {
        let types = match &r.readable {
            TypeSet::All => AccessFilter::All,
            TypeSet::Only(s) => AccessFilter::TypeIn(s.iter().filter_map(|t| type_id(t)).collect()),
        };
        let public = public(type_id);
        let rest = match r.kind {
            RequesterKind::System => AccessFilter::All,
            RequesterKind::Patient => or(vec![AccessFilter::PatientIn(r.patients.clone()), public]),
            RequesterKind::Feed => match &r.org {
                Some(o) => or(vec![AccessFilter::OrgIn(vec![o.clone()]), public]),
                None => public,
            },
            RequesterKind::User => match &r.org {
                None => public,
                Some(org) => self.compile_user(r, org, type_id, now, public),
            },
        };
        and(vec![types, rest])
    }

    fn compile_user(
        &self,
        r: &Requester,
        org: &str,
        type_id: &dyn Fn(&str) -> Option<i64>,
        now: i64,
        public: AccessFilter,
    ) -> AccessFilter {
        let sharing = |purpose: Purpose| {
            or(self
                .applicable(org, purpose)
                .into_iter()
                .map(|a| {
                    and(vec![
                        a.sharers.map_or(AccessFilter::All, |s| AccessFilter::OrgIn(s.into_iter().collect())),
                        a.types.map_or(AccessFilter::All, |t| {
                            AccessFilter::TypeIn(t.iter().filter_map(|x| type_id(x)).collect())
                        }),
                    ])
                })
                .collect())
        };
        // Subjects are disjoint by kind (an ODS code only ever holds relationships, `user:ID`
        // only break-glass, `*` only opt-outs), so the probes need not name the kinds: fewer
        // parameters in every statement.
        let relationship =
            AccessFilter::PatientFact { subjects: vec![org.to_string()], kinds: Vec::new(), at: now };
        let broken_glass =
            AccessFilter::PatientFact { subjects: vec![user_subject(&r.user)], kinds: Vec::new(), at: now };
        let opted_out =
            AccessFilter::PatientFact { subjects: vec![EVERYONE.into()], kinds: Vec::new(), at: now };
        let (usual, emergency) = (sharing(r.purpose), sharing(Purpose::Emergency));
        let shared = if usual == emergency {
            // The same agreements cover both (the usual case): one probe per row for "a care
            // relationship or a broken glass" instead of two.
            let either = AccessFilter::PatientFact {
                subjects: vec![org.to_string(), user_subject(&r.user)],
                kinds: Vec::new(),
                at: now,
            };
            and(vec![usual, either])
        } else {
            or(vec![and(vec![usual, relationship]), and(vec![emergency, broken_glass.clone()])])
        };
        let consent = if self.exempt_from_opt_out(org) {
            AccessFilter::All
        } else if self.cfg.consent.break_glass_overrides_opt_out {
            or(vec![AccessFilter::Not(Box::new(opted_out)), broken_glass])
        } else {
            AccessFilter::Not(Box::new(opted_out))
        };
        or(vec![
            AccessFilter::OrgIn(vec![org.to_string()]),
            public,
            and(vec![shared, consent, AccessFilter::LabelsNone(self.labels.all_bits())]),
        ])
    }
}

/// Resources about no patient that only the organisation holding them may see, whatever the
/// agreements: a Subscription names its owner's endpoint and the credentials it is called
/// with (`channel.header`).
pub const ORGANISATION_PRIVATE_TYPES: [&str; 1] = ["Subscription"];

/// What anyone may see: resources about no patient (practitioners, organisations, code
/// systems...), except the [`ORGANISATION_PRIVATE_TYPES`].
fn public(type_id: &dyn Fn(&str) -> Option<i64>) -> AccessFilter {
    let private: Vec<i64> = ORGANISATION_PRIVATE_TYPES.iter().filter_map(|t| type_id(t)).collect();
    and(vec![AccessFilter::NoPatient, AccessFilter::Not(Box::new(AccessFilter::TypeIn(private)))])
}

/// The organisation that holds a resource, from its Lantern tag.
pub fn owner_of(body: &Value) -> Option<String> {
    body.pointer("/meta/tag")?
        .as_array()?
        .iter()
        .find(|t| t.get("system").and_then(Value::as_str) == Some(ORG_TAG_SYSTEM))
        .and_then(|t| t.get("code")?.as_str().map(str::to_string))
}

/// AND, dropping terms that allow everything and collapsing when one allows nothing.
pub(crate) fn and(v: Vec<AccessFilter>) -> AccessFilter {
    let mut out: Vec<AccessFilter> = Vec::new();
    for f in v {
        match f {
            AccessFilter::All => {}
            AccessFilter::None => return AccessFilter::None,
            AccessFilter::And(inner) => out.extend(inner),
            f => out.push(f),
        }
    }
    match out.len() {
        0 => AccessFilter::All,
        1 => out.pop().unwrap_or(AccessFilter::All),
        _ => AccessFilter::And(out),
    }
}

/// OR, dropping terms that allow nothing and collapsing when one allows everything.
pub(crate) fn or(v: Vec<AccessFilter>) -> AccessFilter {
    let mut out: Vec<AccessFilter> = Vec::new();
    for f in v {
        match f {
            AccessFilter::None => {}
            AccessFilter::All => return AccessFilter::All,
            AccessFilter::Or(inner) => out.extend(inner),
            f => out.push(f),
        }
    }
    match out.len() {
        0 => AccessFilter::None,
        1 => out.pop().unwrap_or(AccessFilter::None),
        _ => AccessFilter::Or(out),
    }
}
