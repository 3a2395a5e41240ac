//! What a requester would see of a patient, and why: the privacy officer's view.
//!
//! The same rules as [`crate::Policy::compile`], evaluated in Rust one row at a time so each
//! decision can be given a reason in words. The store enforces the compiled filter; this module
//! only explains it, and the policy test matrix checks that the two never disagree.
use crate::compile::Policy;
use crate::kinds;
use crate::requester::{Purpose, Requester, RequesterKind};
use serde::Serialize;

/// A fact about the patient (or a record linked to the same person), as stored.
#[derive(Debug, Clone, Serialize)]
pub struct FactRow {
    pub patient: String,
    pub subject: String,
    pub kind: String,
    pub source: String,
    pub until: Option<i64>,
}

/// A resource as the filter sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub rtype: String,
    pub id: String,
    pub org: Option<String>,
    pub sec: i64,
    /// In some patient's compartment (else reference data).
    pub patient: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub visible: bool,
    pub reason: String,
}

fn current(f: &FactRow, now: i64) -> bool {
    f.until.is_none_or(|u| u > now)
}

pub fn decide(p: &Policy, r: &Requester, facts: &[FactRow], row: &Row, now: i64) -> Decision {
    let yes = |reason: String| Decision { visible: true, reason };
    let no = |reason: String| Decision { visible: false, reason };
    if !r.readable.contains(&row.rtype) {
        return no(format!("the token's scopes do not allow reading {}", row.rtype));
    }
    match r.kind {
        RequesterKind::System => return yes("system access".into()),
        RequesterKind::Patient => {
            return match &row.patient {
                None => yes("reference data, not about any patient".into()),
                Some(pt) if r.patients.contains(pt) => yes("it is the patient's own record".into()),
                Some(_) => no("it is about another patient".into()),
            }
        }
        RequesterKind::Feed => {
            return match (&row.patient, &row.org, &r.org) {
                (None, _, _) => yes("reference data, not about any patient".into()),
                (_, Some(o), Some(mine)) if o == mine => {
                    yes(format!("{o} holds it and the feed belongs to {o}"))
                }
                _ => no("feeds read only their own organisation's data".into()),
            }
        }
        RequesterKind::User => {}
    }
    let Some(org) = r.org.as_deref() else {
        return no("the user acts for no organisation".into());
    };
    if row.org.as_deref() == Some(org) {
        return yes(format!("{org} holds this record (it is the data controller)"));
    }
    if row.patient.is_none() {
        return yes("reference data, not about any patient".into());
    }
    let holder = row.org.as_deref().unwrap_or("an unknown organisation");
    if row.sec & p.labels().all_bits() != 0 {
        let names = p.labels().names_of(row.sec).join(", ");
        return no(format!("legally restricted ({names}): only {holder}, which recorded it, may see it"));
    }
    let rel: Vec<&FactRow> = facts
        .iter()
        .filter(|f| f.subject == org && kinds::RELATIONSHIPS.contains(&f.kind.as_str()) && current(f, now))
        .collect();
    let glass = facts.iter().find(|f| {
        f.subject == crate::user_subject(&r.user) && f.kind == kinds::BREAK_GLASS && current(f, now)
    });
    let opted_out =
        facts.iter().any(|f| f.kind == kinds::OPT_OUT && f.subject == crate::EVERYONE && current(f, now));
    let allowed_by = |purpose: Purpose| {
        p.applicable(org, purpose).into_iter().find(|a| {
            a.sharers.as_ref().is_none_or(|s| row.org.as_ref().is_some_and(|o| s.contains(o)))
                && a.types.as_ref().is_none_or(|t| t.contains(&row.rtype))
        })
    };
    let via_relationship = rel.first().and_then(|f| allowed_by(r.purpose).map(|a| (a, *f)));
    let via_glass = glass.and_then(|g| allowed_by(Purpose::Emergency).map(|a| (a, g)));
    let (agreement, basis) = match (via_relationship, via_glass) {
        (Some((a, f)), _) => {
            (a.agreement.id.clone(), format!("{org} has a care relationship ({} from {})", f.kind, f.source))
        }
        (None, Some((a, g))) => {
            (a.agreement.id.clone(), format!("{} broke the glass ({})", r.user, g.source))
        }
        (None, None) => {
            return no(if rel.is_empty() && glass.is_none() {
                format!("{org} has no current care relationship with the patient and the glass is not broken")
            } else {
                format!(
                    "no data-sharing agreement lets {holder} share {} with {org} for purpose {}",
                    row.rtype,
                    r.purpose.code()
                )
            })
        }
    };
    if opted_out && !p.exempt_from_opt_out(org) {
        let overridden = p.config().consent.break_glass_overrides_opt_out && glass.is_some();
        if !overridden {
            return no(format!("the patient has opted out of sharing, so only {holder} may see it"));
        }
    }
    yes(format!("shared by {holder} under agreement '{agreement}'; {basis}"))
}
