//! A person's clinical profile — long-term problems, their medicines, an allergy — decided once
//! from the person's own random stream, so every organisation's records tell the same story
//! (the hospital's discharge letter repeats the GP's statin; the allergy is the same allergy).
use crate::bundle::{concept, org_ref, prune, NHS_SYSTEM, VERIFICATION};
use crate::clock::{iso_date, DAY};
use crate::codes::{ALLERGIES, PROBLEMS, SNOMED};
use crate::orgs::Org;
use crate::people::{Demographics, Person};
use lantern_identity::gen::Rng;
use serde_json::{json, Value};

/// How far back the stories reach.
pub(crate) const HISTORY_DAYS: i64 = 3 * 365;

pub(crate) struct Profile {
    /// Indexes into [`PROBLEMS`] with onset times.
    pub(crate) problems: Vec<(usize, i64)>,
    /// Indexes into [`crate::codes::MEDICINES`].
    pub(crate) medicines: Vec<usize>,
    pub(crate) allergy: Option<usize>,
}

/// The random stream for one person and purpose: independent of every other person, so a
/// person's deliveries can be made alone and in any order.
pub(crate) fn stream(seed: u64, person: u32, purpose: &str) -> Rng {
    Rng::new(seed ^ crate::bundle::hash(purpose).rotate_left(17) ^ (u64::from(person) << 20 | 0x5bd1))
}

pub(crate) fn profile(rng: &mut Rng, p: &Person, now: i64, showcase_joined_up: bool) -> Profile {
    let age = p.age(now);
    let mut problems = Vec::new();
    for (i, pr) in PROBLEMS.iter().enumerate() {
        let boost = if age >= 70 { 1.6 } else { 1.0 };
        let forced = showcase_joined_up && (pr.code == "38341003" || pr.code == "44054006");
        if age >= pr.min_age && (forced || rng.chance(pr.prevalence * boost)) {
            let onset = now - (30 + rng.below((age as usize).max(1) * 200)) as i64 * DAY;
            problems.push((i, onset));
        }
    }
    let mut medicines: Vec<usize> = problems.iter().filter_map(|(i, _)| PROBLEMS[*i].medicine).collect();
    if showcase_joined_up && !medicines.contains(&0) {
        medicines.push(0);
    }
    if age >= 50 && rng.chance(0.25) && !medicines.contains(&0) {
        medicines.push(0);
    }
    medicines.dedup();
    let allergy = rng.chance(if showcase_joined_up { 1.0 } else { 0.1 }).then(|| rng.below(ALLERGIES.len()));
    Profile { problems, medicines, allergy }
}

/// A time in the last `days` days before `now`.
pub(crate) fn within(rng: &mut Rng, now: i64, days: i64) -> i64 {
    now - (1 + rng.below(days.max(1) as usize) as i64) * DAY - rng.below(86_400) as i64
}

/// A FHIR Patient as a source system holds it.
/// The local identifier is added by the bundle.
pub(crate) fn patient(d: &Demographics, verified: bool, gp: Option<&Org>, owner: &Org) -> Value {
    let mut identifier = Vec::new();
    if let Some(n) = &d.nhs_number {
        let status = if verified {
            ("01", "Number present and verified")
        } else {
            ("02", "Number present but not traced")
        };
        identifier.push(json!({
            "system": NHS_SYSTEM, "value": n,
            "extension": [{"url": VERIFICATION, "valueCodeableConcept": {"coding": [{
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                "code": status.0, "display": status.1}]}}]
        }));
    }
    let mut given = vec![json!(d.given)];
    if let Some(m) = &d.middle {
        given.push(json!(m));
    }
    let address = d.address.as_ref().map(|a| {
        vec![json!({"use": "home", "line": [a.line], "city": a.town, "postalCode": a.postcode, "country": "GB"})]
    });
    let telecom = d.phone.as_ref().map(|t| vec![json!({"system": "phone", "value": t, "use": "mobile"})]);
    prune(json!({
        "identifier": identifier,
        "active": true,
        "name": [{"use": "official", "family": d.family, "given": given}],
        "telecom": telecom,
        "gender": if d.female { "female" } else { "male" },
        "birthDate": iso_date(d.birth_date),
        "address": address,
        "generalPractitioner": gp.map(|g| vec![org_ref(g)]),
        "managingOrganization": org_ref(owner),
    }))
}

/// A SNOMED CT CodeableConcept.
pub(crate) fn sct(code: &str, display: &str) -> Value {
    concept(SNOMED, code, display)
}
