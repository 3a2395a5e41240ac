//! The community trust (district nursing, therapy: an EpisodeOfCare, home visits, a care plan)
//! and the mental-health trust (an EpisodeOfCare with its team, a Care Programme Approach plan,
//! the diagnosis, perhaps a next appointment), each as one FHIR transaction bundle.
use crate::bundle::{concept, org_ref, prune, Bundle};
use crate::clock::{fhir, office_hours, DAY};
use crate::codes::MENTAL_HEALTH;
use crate::orgs::{Kind, Org};
use crate::people::SourceRecord;
use crate::story::{patient, sct, within};
use lantern_identity::gen::Rng;
use serde_json::{json, Value};

const COMMUNITY: &[(&str, &str, &str)] = &[
    (
        "District nursing",
        "Wound care and dressings",
        "Leg ulcer dressing twice weekly; review healing monthly",
    ),
    ("Community physiotherapy", "Falls prevention", "Strength and balance exercises; home hazard review"),
    (
        "Community matron",
        "Long-term condition management",
        "Monitor breathlessness and weight; escalate to GP if worse",
    ),
    ("Intermediate care", "Reablement after hospital discharge", "Daily visits for two weeks, then review"),
];

fn episode(
    b: &mut Bundle<'_>,
    local: &str,
    org: &Org,
    pat: &Value,
    team: &str,
    start: i64,
    end: Option<i64>,
) -> Value {
    b.add_own(
        "EpisodeOfCare",
        &format!("{local}-EP1"),
        prune(json!({
            "status": if end.is_some() { "finished" } else { "active" },
            "type": [{"text": team}],
            "patient": pat,
            "managingOrganization": org_ref(org),
            "period": prune(json!({"start": fhir(start), "end": end.map(fhir)})),
        })),
    )
}

fn care_plan(
    b: &mut Bundle<'_>,
    local: &str,
    pat: &Value,
    ep: &Value,
    (title, text): (&str, &str),
    start: i64,
    active: bool,
) {
    b.add_own(
        "CarePlan",
        &format!("{local}-CP1"),
        json!({
            "status": if active { "active" } else { "completed" },
            "intent": "plan",
            "title": title,
            "description": text,
            "subject": pat,
            "period": {"start": fhir(start)},
            "supportingInfo": [ep],
        }),
    );
}

/// The community or mental-health trust's bundle for one record.
pub(crate) fn bundle(rng: &mut Rng, rec: &SourceRecord, org: &Org, gp: &Org, now: i64) -> String {
    let local = &rec.local_id;
    let mut b = Bundle::new(org, format!("{local}-record"));
    let pat = b.add("Patient", &org.local_system, local, patient(&rec.demographics, false, Some(gp), org));
    let start = within(rng, now, 700);
    let active = rng.chance(0.6);
    let end = (!active).then(|| (start + (20 + rng.below(120) as i64) * DAY).min(now - DAY));
    if org.kind == Kind::MentalHealth {
        let (code, name) = MENTAL_HEALTH[rng.below(MENTAL_HEALTH.len())];
        let ep = episode(&mut b, local, org, &pat, "Community mental health team", start, end);
        b.add_own(
            "Condition",
            &format!("{local}-P1"),
            json!({
                "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
                "code": sct(code, name),
                "subject": pat,
                "recordedDate": fhir(start),
            }),
        );
        care_plan(
            &mut b,
            local,
            &pat,
            &ep,
            (
                "Care Programme Approach plan",
                "Care coordinator review every four weeks; crisis line number given",
            ),
            start,
            active,
        );
        if active {
            let at = office_hours(now + (2 + rng.below(28) as i64) * DAY, rng.next_u64());
            b.add_own(
                "Appointment",
                &format!("{local}-AP1"),
                json!({
                    "status": "booked",
                    "description": "Care coordinator review",
                    "start": fhir(at),
                    "end": fhir(at + 3600),
                    "participant": [{"actor": pat, "status": "accepted"}],
                }),
            );
        }
    } else {
        let (team, title, text) = COMMUNITY[rng.below(COMMUNITY.len())];
        let ep = episode(&mut b, local, org, &pat, team, start, end);
        let visits = 1 + rng.below(4);
        let last = end.unwrap_or(now - DAY);
        for k in 0..visits {
            let at = office_hours(start + (last - start).max(DAY) * k as i64 / visits as i64, rng.next_u64());
            b.add_own(
                "Encounter",
                &format!("{local}-V{k}"),
                json!({
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH", "display": "home health"},
                    "type": [sct("439708006", "Home visit")],
                    "subject": pat,
                    "episodeOfCare": [ep],
                    "period": {"start": fhir(at), "end": fhir(at + 2400)},
                    "serviceProvider": org_ref(org),
                }),
            );
        }
        care_plan(&mut b, local, &pat, &ep, (title, text), start, active);
    }
    b.finish()
}
