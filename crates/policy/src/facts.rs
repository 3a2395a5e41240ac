//! Facts about patients derived from the resources written: care relationships and opt-outs.
//!
//! Each fact names the resource that asserted it, and a new version replaces what the old one
//! said, so a discharge shortens the hospital's relationship and a withdrawn opt-out lifts it.
//! Windows are applied when the fact is derived; changing a window applies to facts derived
//! afterwards (re-derive by re-sending, or `lantern policy rederive` once it exists).
use crate::config::RelationshipConfig;
use crate::kinds;
use crate::EVERYONE;
use lantern_store::Fact;
use serde_json::Value;

pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const DAY: i64 = 86_400_000_000;

/// What the derivation needs to know about organisations.
pub trait OrgKinds {
    /// The configured kind of an organisation ("gp", "acute", ...), "other" if unknown.
    fn kind_of(&self, ods: &str) -> &str;
}

pub(crate) fn derive(
    cfg: &RelationshipConfig,
    orgs: &dyn OrgKinds,
    rtype: &str,
    id: &str,
    body: &Value,
    owner: Option<&str>,
    now: i64,
) -> Vec<Fact> {
    let status = body.get("status").and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    let mut add =
        |patient: Option<String>, org: Option<&str>, kind: &str, since: Option<i64>, until: Option<i64>| {
            if let (Some(p), Some(o)) = (patient, org) {
                if !o.is_empty() {
                    out.push(Fact { patient: p, subject: o.to_string(), kind: kind.into(), since, until });
                }
            }
        };
    match rtype {
        "Patient" => {
            let active = body.get("active").and_then(Value::as_bool) != Some(false);
            let deceased = body.get("deceasedBoolean").and_then(Value::as_bool) == Some(true)
                || body.get("deceasedDateTime").is_some();
            if active && !deceased {
                if let Some(o) = owner.filter(|o| cfg.registering_kinds.iter().any(|k| k == orgs.kind_of(o)))
                {
                    add(Some(id.to_string()), Some(o), kinds::REGISTRATION, None, None);
                }
                for gp in arr(body, "generalPractitioner") {
                    add(Some(id.to_string()), ods(gp).as_deref(), kinds::REGISTRATION, None, None);
                }
            }
        }
        "Encounter" => {
            if matches!(status, "cancelled" | "entered-in-error") {
                return out;
            }
            let (start, end) = period(body.get("period"));
            let until = match status {
                "finished" => Some(end.or(start).unwrap_or(now) + cfg.encounter_window_days * DAY),
                _ => None,
            };
            let p = patient_ref(body.get("subject"));
            add(p.clone(), owner, kinds::ENCOUNTER, start, until);
            add(p, ods_of(body.get("serviceProvider")).as_deref(), kinds::ENCOUNTER, start, until);
        }
        "EpisodeOfCare" => {
            if matches!(status, "cancelled" | "entered-in-error") {
                return out;
            }
            let (start, end) = period(body.get("period"));
            let until = match status {
                "finished" => Some(end.unwrap_or(now) + cfg.episode_window_days * DAY),
                _ => None,
            };
            let p = patient_ref(body.get("patient"));
            add(p.clone(), owner, kinds::EPISODE, start, until);
            add(p, ods_of(body.get("managingOrganization")).as_deref(), kinds::EPISODE, start, until);
        }
        "Appointment" => {
            if matches!(status, "cancelled" | "entered-in-error") {
                return out;
            }
            let at = ["end", "start"]
                .iter()
                .find_map(|k| body.get(*k).and_then(Value::as_str).and_then(lantern_fhir::datetime::range))
                .map(|(_, hi)| hi)
                .unwrap_or(now);
            let until = Some(at.max(now) + cfg.appointment_window_days * DAY);
            for part in arr(body, "participant") {
                add(patient_ref(part.get("actor")), owner, kinds::APPOINTMENT, None, until);
            }
        }
        "ServiceRequest" => {
            if matches!(status, "revoked" | "entered-in-error") {
                return out;
            }
            let at = body
                .get("authoredOn")
                .and_then(Value::as_str)
                .and_then(lantern_fhir::datetime::range)
                .map_or(now, |(lo, _)| lo);
            let until = Some(at + cfg.referral_window_days * DAY);
            let p = patient_ref(body.get("subject"));
            add(p.clone(), owner, kinds::REFERRAL, Some(at), until);
            for perf in arr(body, "performer") {
                add(p.clone(), ods(perf).as_deref(), kinds::REFERRAL, Some(at), until);
            }
        }
        "CareTeam" => {
            if !matches!(status, "active" | "proposed" | "") {
                return out;
            }
            let p = patient_ref(body.get("subject"));
            add(p.clone(), owner, kinds::CARE_TEAM, None, None);
            for m in arr(body, "managingOrganization") {
                add(p.clone(), ods(m).as_deref(), kinds::CARE_TEAM, None, None);
            }
            for part in arr(body, "participant") {
                add(p.clone(), ods_of(part.get("member")).as_deref(), kinds::CARE_TEAM, None, None);
            }
        }
        "Consent" if status == "active" && is_opt_out(body) => {
            let (_, end) = period(body.pointer("/provision/period"));
            add(patient_ref(body.get("patient")), Some(EVERYONE), kinds::OPT_OUT, None, end);
        }
        _ => {}
    }
    out.sort_by(|a, b| (&a.patient, &a.subject, &a.kind).cmp(&(&b.patient, &b.subject, &b.kind)));
    out.dedup_by(|a, b| a.patient == b.patient && a.subject == b.subject && a.kind == b.kind);
    out
}

/// A blanket refusal of sharing: a privacy Consent whose base provision denies, with no actor
/// restriction (a denial aimed at named actors is not a general opt-out).
fn is_opt_out(body: &Value) -> bool {
    let deny = body.pointer("/provision/type").and_then(Value::as_str) == Some("deny");
    let aimed = body.pointer("/provision/actor").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let privacy = match body.get("scope") {
        None => true,
        Some(s) => s.to_string().contains("patient-privacy"),
    };
    deny && !aimed && privacy
}

fn arr<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn patient_ref(r: Option<&Value>) -> Option<String> {
    let s = r?.get("reference")?.as_str()?;
    let id = s.strip_prefix("Patient/")?;
    let id = id.split('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The ODS code of an organisation reference given by identifier.
fn ods(r: &Value) -> Option<String> {
    let i = r.get("identifier")?;
    (i.get("system")?.as_str()? == ODS_SYSTEM).then(|| i.get("value")?.as_str().map(str::to_string))?
}

fn ods_of(r: Option<&Value>) -> Option<String> {
    ods(r?)
}

fn period(p: Option<&Value>) -> (Option<i64>, Option<i64>) {
    let get = |k: &str| p?.get(k)?.as_str().and_then(lantern_fhir::datetime::range);
    (get("start").map(|(lo, _)| lo), get("end").map(|(_, hi)| hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Kinds;
    impl OrgKinds for Kinds {
        fn kind_of(&self, ods: &str) -> &str {
            if ods.starts_with('A') {
                "gp"
            } else {
                "acute"
            }
        }
    }

    fn facts(rtype: &str, body: Value, owner: &str) -> Vec<Fact> {
        derive(&RelationshipConfig::default(), &Kinds, rtype, "x", &body, Some(owner), 1_000 * DAY)
    }

    #[test]
    fn a_gp_record_is_a_registration_a_hospital_record_is_not() {
        assert_eq!(facts("Patient", json!({}), "A81001")[0].kind, "registration");
        assert!(facts("Patient", json!({}), "RVJ").is_empty());
        assert!(facts("Patient", json!({"deceasedBoolean": true}), "A81001").is_empty());
        let gp = json!({"generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": "A99999"}}]});
        let f = facts("Patient", gp, "RVJ");
        assert_eq!((f[0].subject.as_str(), f[0].patient.as_str()), ("A99999", "x"));
    }

    #[test]
    fn encounters_last_while_open_and_for_a_window_after() {
        let open = json!({"status": "in-progress", "subject": {"reference": "Patient/p1"},
                          "period": {"start": "2020-01-01"}});
        let f = facts("Encounter", open, "RVJ");
        assert_eq!((f[0].patient.as_str(), f[0].subject.as_str(), f[0].until), ("p1", "RVJ", None));
        let done = json!({"status": "finished", "subject": {"reference": "Patient/p1"},
                          "period": {"start": "2020-01-01", "end": "2020-01-03"}});
        let f = facts("Encounter", done, "RVJ");
        let end = lantern_fhir::datetime::range("2020-01-03").unwrap().1;
        assert_eq!(f[0].until, Some(end + 90 * DAY));
        let cancelled = json!({"status": "cancelled", "subject": {"reference": "Patient/p1"}});
        assert!(facts("Encounter", cancelled, "RVJ").is_empty());
    }

    #[test]
    fn opt_out_consent() {
        let c = json!({"status": "active", "patient": {"reference": "Patient/p1"},
            "scope": {"coding": [{"code": "patient-privacy"}]}, "provision": {"type": "deny"}});
        let f = facts("Consent", c.clone(), "A81001");
        assert_eq!((f[0].subject.as_str(), f[0].kind.as_str()), ("*", "opt-out"));
        let mut permit = c.clone();
        permit["provision"]["type"] = json!("permit");
        assert!(facts("Consent", permit, "A81001").is_empty());
        let mut aimed = c;
        aimed["provision"]["actor"] = json!([{"reference": {"reference": "Organization/o"}}]);
        assert!(facts("Consent", aimed, "A81001").is_empty());
    }
}
