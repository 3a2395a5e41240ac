//! A GP practice's record of a person, as one FHIR transaction bundle: the registration
//! (Patient, `generalPractitioner` = the practice by ODS code, NHS number verified),
//! consultations, problems, allergies, repeat medicines, results, immunisations, appointments,
//! and where it applies a legally restricted item or the patient's opt-out.
use crate::bundle::{concept, number, org_ref, prune, Bundle};
use crate::clock::{fhir, office_hours, DAY};
use crate::codes::*;
use crate::orgs::{Kind, Org};
use crate::people::{Person, Restricted, SourceRecord};
use crate::story::{patient, sct, within, Profile, HISTORY_DAYS};
use lantern_identity::gen::Rng;
use serde_json::{json, Value};

pub(crate) fn bundle(
    rng: &mut Rng,
    p: &Person,
    rec: &SourceRecord,
    org: &Org,
    prof: &Profile,
    now: i64,
) -> String {
    let local = &rec.local_id;
    let mut b = Bundle::new(org, format!("{local}-record"));
    let pat = b.add("Patient", &org.local_system, local, patient(&rec.demographics, true, Some(org), org));
    let gp = org_ref(org);
    let age = p.age(now);
    let n_enc = 1 + rng.below(if age >= 60 { 5 } else { 3 });
    let mut encounters = Vec::new();
    for k in 0..n_enc {
        let start = office_hours(within(rng, now, HISTORY_DAYS), rng.next_u64());
        let reason = prof.problems.get(k).map(|(i, _)| sct(PROBLEMS[*i].code, PROBLEMS[*i].display));
        let e = b.add_own(
            "Encounter",
            &format!("{local}-E{k}"),
            prune(json!({
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
                "type": [if k % 3 == 2 { sct("185317003", "Telephone encounter") } else { sct("11429006", "Consultation") }],
                "subject": pat,
                "period": {"start": fhir(start), "end": fhir(start + 600)},
                "reasonCode": reason.map(|r| vec![r]),
                "serviceProvider": gp,
            })),
        );
        encounters.push((e, start));
    }
    for (k, (i, onset)) in prof.problems.iter().enumerate() {
        let pr = &PROBLEMS[*i];
        b.add_own(
            "Condition",
            &format!("{local}-P{k}"),
            json!({
                "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
                "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
                "code": sct(pr.code, pr.display),
                "subject": pat,
                "onsetDateTime": fhir(*onset),
                "recordedDate": fhir(*onset),
            }),
        );
    }
    if let Some(a) = prof.allergy {
        let (code, name, reaction) = ALLERGIES[a];
        b.add_own(
            "AllergyIntolerance",
            &format!("{local}-A0"),
            json!({
                "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
                "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
                "code": sct(code, name),
                "patient": pat,
                "recordedDate": fhir(within(rng, now, 3000)),
                "reaction": [{"manifestation": [{"text": reaction}]}],
            }),
        );
    }
    for (k, m) in prof.medicines.iter().enumerate() {
        let (code, name, dose, unit, text) = MEDICINES[*m];
        b.add_own(
            "MedicationRequest",
            &format!("{local}-M{k}"),
            json!({
                "status": "active",
                "intent": "order",
                "courseOfTherapyType": concept("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous", "Continuous long term therapy"),
                "medicationCodeableConcept": concept(DMD, code, name),
                "subject": pat,
                "authoredOn": fhir(within(rng, now, 300)),
                "requester": gp,
                "dosageInstruction": [{"text": text, "doseAndRate": [{"doseQuantity": {"value": number(dose), "unit": unit, "system": UCUM, "code": unit}}]}],
                "dispenseRequest": {"numberOfRepeatsAllowed": 6},
            }),
        );
    }
    let mut tests: Vec<&Test> = Vec::new();
    if age >= 40 {
        tests.extend(&GP_TESTS[..3]);
    }
    if prof.problems.iter().any(|(i, _)| PROBLEMS[*i].code == "44054006") {
        tests.push(&GP_TESTS[3]);
    }
    if prof.medicines.contains(&0) {
        tests.push(&GP_TESTS[4]);
    }
    for (k, t) in tests.iter().enumerate() {
        let (e, at) = &encounters[k % encounters.len()];
        b.add_own("Observation", &format!("{local}-O{k}"), observation(rng, t, &pat, Some(e), *at));
    }
    if age >= 65 || (age >= 18 && rng.chance(0.3)) {
        let (code, name) = VACCINES[if age >= 65 { 0 } else { 1 + rng.below(2) }];
        b.add_own(
            "Immunization",
            &format!("{local}-I0"),
            json!({
                "status": "completed",
                "vaccineCode": sct(code, name),
                "patient": pat,
                "occurrenceDateTime": fhir(within(rng, now, 365)),
                "performer": [{"actor": gp}],
            }),
        );
    }
    if rng.chance(0.5) {
        appointment(&mut b, &pat, local, 0, office_hours(within(rng, now, 200), rng.next_u64()), "fulfilled");
    }
    if rng.chance(0.3) {
        let at = office_hours(now + (1 + rng.below(60) as i64) * DAY, rng.next_u64());
        appointment(&mut b, &pat, local, 1, at, "booked");
    }
    if let Some((r, Kind::Gp)) = p.traits.restricted {
        let (code, name) = match r {
            Restricted::SexuallyTransmittedInfection => STI,
            Restricted::AssistedConception => IVF,
            Restricted::GenderReassignment => GENDER,
            Restricted::Termination => TERMINATION,
        };
        b.add_own(
            "Condition",
            &format!("{local}-R0"),
            json!({
                "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")],
                "code": sct(code, name),
                "subject": pat,
                "recordedDate": fhir(within(rng, now, 400)),
            }),
        );
    }
    if p.traits.opted_out {
        b.add_own(
            "Consent",
            &format!("{local}-C0"),
            json!({
                "status": "active",
                "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy Consent"),
                "category": [concept("http://loinc.org", "59284-0", "Patient Consent")],
                "patient": pat,
                "dateTime": fhir(within(rng, now, 500)),
                "organization": [gp],
                "policy": [{"uri": "https://lantern.health/policy/local-opt-out"}],
                "provision": {"type": "deny"},
            }),
        );
    }
    b.finish()
}

fn appointment(b: &mut Bundle<'_>, pat: &Value, local: &str, k: usize, at: i64, status: &str) {
    b.add_own(
        "Appointment",
        &format!("{local}-AP{k}"),
        json!({
            "status": status,
            "serviceType": [sct("11429006", "Consultation")],
            "description": "GP appointment",
            "start": fhir(at),
            "end": fhir(at + 600),
            "participant": [{"actor": pat, "status": "accepted"}],
        }),
    );
}

/// An Observation with a value drawn from the test's typical range and its reference range.
pub(crate) fn observation(rng: &mut Rng, t: &Test, pat: &Value, enc: Option<&Value>, at: i64) -> Value {
    let (code, name, unit, lo, hi, tlo, thi, dec) = *t;
    let v = value(rng.unit(), tlo, thi, dec);
    let range = (hi > 0.0).then(|| {
        vec![json!({
            "low": {"value": number(&format!("{lo}")), "unit": unit, "system": UCUM, "code": unit},
            "high": {"value": number(&format!("{hi}")), "unit": unit, "system": UCUM, "code": unit}
        })]
    });
    let vital = matches!(code, "8480-6" | "8462-4" | "29463-7");
    let cat = if vital { ("vital-signs", "Vital Signs") } else { ("laboratory", "Laboratory") };
    prune(json!({
        "status": "final",
        "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", cat.0, cat.1)],
        "code": concept(LOINC, code, name),
        "subject": pat,
        "encounter": enc,
        "effectiveDateTime": fhir(at),
        "valueQuantity": {"value": number(&v), "unit": unit, "system": UCUM, "code": unit},
        "referenceRange": range,
    }))
}
