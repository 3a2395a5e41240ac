//! `Patient/[id]/$summary` (the International Patient Summary's operation, `hl7.fhir.uv.ips`
//! OperationDefinition `summary`): the patient's summary as a FHIR document, made when asked
//! from what the record holds now — the same joined-up record a clinician sees, for a client
//! that wants it whole (an emergency department's system, a GP system receiving a
//! discharge, a patient's app).
//!
//! # What goes in
//!
//! A document Bundle: a Composition (LOINC 60591-5, "Patient summary Document") first, then the
//! Patient, the Device that wrote it (this server), and every resource a section lists, each
//! with its RESTful full URL. The sections follow the IPS Composition's: problems, allergies
//! and medications always (with `emptyReason` when there is nothing to list), and
//! immunizations, results, vital signs, past problems, procedures, devices, alerts and plan of
//! care when there is something. Each is found by ordinary searches (clinical and
//! verification status decide what is current; results and vital signs are the newest of
//! each code) across every record the patient index links to the same person, and each has a
//! generated narrative.
//!
//! # Who sees what
//!
//! Every search runs under the caller's access filter, so a summary never holds what its
//! reader could not find by searching (agreements, care relationships, opt-outs, legally
//! restricted labels), and every resource in it is in the request's audit record. A section
//! that is empty says only that no information is available, whether nothing is recorded or
//! what is recorded is withheld. The resources are the records as stored; the summary does not
//! claim the IPS profiles, which ask more of each resource than a feed may have given.
use crate::lastn::latest_per_code;
use crate::{Ctx, Error, Fhir};
use lantern_fhir::search::TotalMode;
use lantern_store::clock::format_instant;
use lantern_store::Stored;
use serde_json::{json, Value};

/// Most resources one section's searches read; a record that holds more is refused with the
/// reason rather than summarised from part of it.
const MAX_PER_SECTION: usize = 20_000;

/// Resources read per page of a section's search.
const PAGE: usize = 1000;

/// One section of the summary and the searches that fill it.
struct Section {
    title: &'static str,
    /// LOINC section code and display, as the IPS Composition fixes them.
    code: &'static str,
    display: &'static str,
    /// Listed even when empty (the IPS's required sections).
    required: bool,
    /// (type, query); the patient parameter is added.
    searches: &'static [(&'static str, &'static str)],
    /// Only the newest of each code (results, vital signs).
    newest_per_code: bool,
}

const NOT_CURRENT: &str =
    "clinical-status:not=inactive&clinical-status:not=resolved&clinical-status:not=remission\
     &verification-status:not=entered-in-error&verification-status:not=refuted";

const SECTIONS: &[Section] = &[
    Section {
        title: "Active problems",
        code: "11450-4",
        display: "Problem list - Reported",
        required: true,
        searches: &[("Condition", NOT_CURRENT)],
        newest_per_code: false,
    },
    Section {
        title: "Allergies and intolerances",
        code: "48765-2",
        display: "Allergies and adverse reactions Document",
        required: true,
        searches: &[("AllergyIntolerance", NOT_CURRENT)],
        newest_per_code: false,
    },
    Section {
        title: "Medication",
        code: "10160-0",
        display: "History of Medication use Narrative",
        required: true,
        searches: &[
            // Stopped ones too: a recent stop matters to whoever prescribes next (the IPS's own
            // examples list them); completed courses do not.
            (
                "MedicationStatement",
                "status=active,intended,on-hold,stopped&_include=MedicationStatement:medication",
            ),
            ("MedicationRequest", "status=active,on-hold&_include=MedicationRequest:medication"),
        ],
        newest_per_code: false,
    },
    Section {
        title: "Immunizations",
        code: "11369-6",
        display: "History of Immunization Narrative",
        required: false,
        searches: &[("Immunization", "status=completed")],
        newest_per_code: false,
    },
    Section {
        title: "Results",
        code: "30954-2",
        display: "Relevant diagnostic tests/laboratory data Narrative",
        required: false,
        searches: &[("Observation", "category=laboratory&status:not=entered-in-error&_sort=-date")],
        newest_per_code: true,
    },
    Section {
        title: "Vital signs",
        code: "8716-3",
        display: "Vital signs",
        required: false,
        searches: &[("Observation", "category=vital-signs&status:not=entered-in-error&_sort=-date")],
        newest_per_code: true,
    },
    Section {
        title: "Past problems",
        code: "11348-0",
        display: "History of Past illness Narrative",
        required: false,
        searches: &[(
            "Condition",
            "clinical-status=inactive,resolved,remission\
             &verification-status:not=entered-in-error&verification-status:not=refuted",
        )],
        newest_per_code: false,
    },
    Section {
        title: "Procedures",
        code: "47519-4",
        display: "History of Procedures Document",
        required: false,
        searches: &[("Procedure", "status=completed")],
        newest_per_code: false,
    },
    Section {
        title: "Medical devices",
        code: "46264-8",
        display: "History of medical device use",
        required: false,
        searches: &[("DeviceUseStatement", "status=active")],
        newest_per_code: false,
    },
    Section {
        title: "Alerts",
        code: "104605-1",
        display: "Alert",
        required: false,
        searches: &[("Flag", "status=active")],
        newest_per_code: false,
    },
    Section {
        title: "Plan of care",
        code: "18776-5",
        display: "Plan of care note",
        required: false,
        searches: &[("CarePlan", "status=active")],
        newest_per_code: false,
    },
];

impl Fhir {
    /// The summary of Patient `id` (and every record linked to the same person) as a document
    /// Bundle. `pairs` may name a `profile`: only the IPS Composition (or none) is offered.
    pub async fn summary(&self, ctx: &Ctx, id: &str, pairs: &[(String, String)]) -> Result<String, Error> {
        for (k, v) in pairs {
            match k.as_str() {
                "profile" if v != IPS_COMPOSITION => {
                    return Err(Error::bad(
                        "not-supported",
                        Some("profile"),
                        format!("only the IPS Composition profile ({IPS_COMPOSITION}) is offered, not '{v}'"),
                    ))
                }
                "profile" | "_format" | "_pretty" => {}
                _ => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("Patient/[id]/$summary takes no parameter '{k}'"),
                    ))
                }
            }
        }
        let patient = self.read(ctx, "Patient", id).await?;
        let mut members: Vec<String> = vec![id.to_string()];
        for m in self.store.person_members(id).await? {
            if !members.contains(&m) {
                members.push(m);
            }
        }
        let subject: String = members.iter().map(|m| format!("Patient/{m}")).collect::<Vec<_>>().join(",");
        let now = self.store.now_micros();
        let full_url = |s: &Stored| format!("{}/{}/{}", ctx.base, s.rtype, s.id);
        let (composition_id, device_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let mut entries: Vec<Value> = Vec::new();
        let mut listed: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut sections: Vec<Value> = Vec::new();
        for section in SECTIONS {
            let (found, included) = self.section_resources(ctx, section, &subject).await?;
            if found.is_empty() && !section.required {
                continue;
            }
            ctx.saw(found.iter().chain(included.iter()));
            let mut refs = Vec::new();
            let mut items = Vec::new();
            for s in &found {
                let body = body_of(s);
                items.push(describe(&body, &included));
                refs.push(json!({"reference": full_url(s)}));
                if listed.insert(full_url(s)) {
                    entries.push(json!({"fullUrl": full_url(s), "resource": body}));
                }
            }
            for s in &included {
                if listed.insert(full_url(s)) {
                    entries.push(json!({"fullUrl": full_url(s), "resource": body_of(s)}));
                }
            }
            let mut out = json!({
                "title": section.title,
                "code": {"coding": [{"system": LOINC, "code": section.code, "display": section.display}]},
                "text": {"status": "generated", "div": narrative(section.title, &items)},
            });
            if refs.is_empty() {
                out["emptyReason"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "unavailable", "display": "Unavailable"
                }]});
            } else {
                out["entry"] = Value::Array(refs);
            }
            sections.push(out);
        }
        let patient_url = full_url(&patient);
        let name = patient_name(&body_of(&patient));
        let composition = json!({
            "resourceType": "Composition",
            "id": composition_id.to_string(),
            "status": "final",
            "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
            "subject": {"reference": patient_url, "display": name},
            "date": format_instant(now),
            "author": [{"reference": format!("urn:uuid:{device_id}")}],
            "title": format!("Patient summary: {name}"),
            "section": sections,
        });
        let device = json!({
            "resourceType": "Device",
            "id": device_id.to_string(),
            "deviceName": [{"name": "Lantern shared care record", "type": "user-friendly-name"}],
        });
        let bundle_id = uuid::Uuid::new_v4();
        let mut all = vec![
            json!({"fullUrl": format!("urn:uuid:{composition_id}"), "resource": composition}),
            json!({"fullUrl": patient_url, "resource": body_of(&patient)}),
            json!({"fullUrl": format!("urn:uuid:{device_id}"), "resource": device}),
        ];
        all.extend(entries);
        let bundle = json!({
            "resourceType": "Bundle",
            "id": bundle_id.to_string(),
            "meta": {"lastUpdated": format_instant(now)},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{bundle_id}")},
            "type": "document",
            "timestamp": format_instant(now),
            "entry": all,
        });
        Ok(bundle.to_string())
    }

    /// `Patient/$summary?identifier=system|value`: the summary of the one Patient the caller
    /// can find by that identifier (404 if none, 409 if several: which is meant is not for this
    /// server to guess).
    pub async fn summary_by_identifier(
        &self,
        ctx: &Ctx,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let Some((_, identifier)) = pairs.iter().find(|(k, _)| k == "identifier") else {
            return Err(Error::bad(
                "required",
                Some("identifier"),
                "Patient/$summary needs an identifier (system|value); or ask Patient/[id]/$summary",
            ));
        };
        let search = [
            ("identifier".to_string(), identifier.clone()),
            ("_count".to_string(), "2".to_string()),
            ("_total".to_string(), "none".to_string()),
        ];
        let req = self.parse_search(ctx, Some("Patient"), &search)?;
        let found = self.store.search(req, ctx.access.clone()).await?.matches;
        let rest: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "identifier").cloned().collect();
        match found.as_slice() {
            [one] => self.summary(ctx, &one.id, &rest).await,
            [] => Err(Error::Store(lantern_store::StoreError::NotFound(format!(
                "no Patient with identifier {identifier}"
            )))),
            _ => Err(Error::Store(lantern_store::StoreError::Conflict(format!(
                "more than one Patient has identifier {identifier}; ask Patient/[id]/$summary"
            )))),
        }
    }

    /// What one section lists (in its search's order; results and vital signs the newest of
    /// each code) and what those refer to that its searches include (Medications).
    async fn section_resources(
        &self,
        ctx: &Ctx,
        section: &Section,
        subject: &str,
    ) -> Result<(Vec<Stored>, Vec<Stored>), Error> {
        let (mut found, mut included) = (Vec::new(), Vec::new());
        for (rtype, query) in section.searches {
            let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.trim().to_string(), v.into_owned()))
                .collect();
            pairs.push(("patient".into(), subject.to_string()));
            pairs.push(("_count".into(), PAGE.to_string()));
            let mut req = self.parse_search(ctx, Some(rtype), &pairs)?;
            req.total = TotalMode::None;
            let mut read = Vec::new();
            loop {
                let page = self.store.search(req.clone(), ctx.access.clone()).await?;
                read.extend(page.matches);
                included.extend(page.included);
                if read.len() > MAX_PER_SECTION {
                    return Err(Error::Store(lantern_store::StoreError::invalid(
                        "too-costly",
                        None,
                        format!(
                            "the summary's section '{}' would list more than {MAX_PER_SECTION} resources",
                            section.title
                        ),
                    )));
                }
                match page.next {
                    Some(cursor) => req.cursor = Some(cursor),
                    None => break,
                }
            }
            if section.newest_per_code {
                read = latest_per_code(read, 1);
            }
            found.extend(read);
        }
        Ok((found, included))
    }
}

const LOINC: &str = "http://loinc.org";

/// The IPS Composition profile, the one summary profile offered.
pub const IPS_COMPOSITION: &str = "http://hl7.org/fhir/uv/ips/StructureDefinition/Composition-uv-ips";

fn body_of(s: &Stored) -> Value {
    s.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default()
}

/// A CodeableConcept as a person reads it: its text, else its first coding's display, else
/// its first code.
fn concept_text(c: &Value) -> Option<String> {
    if let Some(t) = c["text"].as_str() {
        return Some(t.to_string());
    }
    let coding = c["coding"].as_array()?;
    coding
        .iter()
        .find_map(|x| x["display"].as_str())
        .or_else(|| coding.iter().find_map(|x| x["code"].as_str()))
        .map(str::to_string)
}

/// One line of a section's narrative: what the resource is about, its value and its date.
fn describe(r: &Value, included: &[Stored]) -> String {
    let what = match r["resourceType"].as_str().unwrap_or("") {
        "Immunization" => concept_text(&r["vaccineCode"]),
        "MedicationStatement" | "MedicationRequest" => concept_text(&r["medicationCodeableConcept"])
            .or_else(|| {
                let reference = r["medicationReference"]["reference"].as_str()?;
                let m = included.iter().find(|s| reference.ends_with(&format!("{}/{}", s.rtype, s.id)))?;
                concept_text(&body_of(m)["code"])
            })
            .or_else(|| r["medicationReference"]["display"].as_str().map(str::to_string)),
        "DeviceUseStatement" => r["device"]["display"].as_str().map(str::to_string),
        "CarePlan" => r["title"].as_str().map(str::to_string).or_else(|| concept_text(&r["category"][0])),
        _ => concept_text(&r["code"]),
    }
    .unwrap_or_else(|| "(not coded)".to_string());
    let value = match &r["valueQuantity"] {
        Value::Object(q) => q.get("value").map(|v| {
            let unit = q.get("unit").or_else(|| q.get("code")).and_then(Value::as_str).unwrap_or("");
            format!("{v} {unit}").trim_end().to_string()
        }),
        _ => {
            r["valueString"].as_str().map(str::to_string).or_else(|| concept_text(&r["valueCodeableConcept"]))
        }
    };
    let date = [
        "onsetDateTime",
        "effectiveDateTime",
        "occurrenceDateTime",
        "performedDateTime",
        "authoredOn",
        "recordedDate",
        "dateAsserted",
    ]
    .iter()
    .find_map(|k| r[*k].as_str())
    .or_else(|| r["effectivePeriod"]["start"].as_str())
    .or_else(|| r["performedPeriod"]["start"].as_str());
    let mut line = what;
    if let (
        Some("MedicationStatement" | "MedicationRequest"),
        Some(st @ ("stopped" | "on-hold" | "intended")),
    ) = (r["resourceType"].as_str(), r["status"].as_str())
    {
        line.push_str(&format!(" [{st}]"));
    }
    if let Some(v) = value {
        line.push_str(": ");
        line.push_str(&v);
    }
    if let Some(d) = date {
        line.push_str(" (");
        line.push_str(d.get(..10).unwrap_or(d));
        line.push(')');
    }
    line
}

fn patient_name(p: &Value) -> String {
    let Some(n) = p["name"].as_array().and_then(|n| n.first()) else { return "unnamed".into() };
    if let Some(t) = n["text"].as_str() {
        return t.to_string();
    }
    let given: Vec<&str> = n["given"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut name = given.join(" ");
    if let Some(f) = n["family"].as_str() {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(f);
    }
    if name.is_empty() {
        "unnamed".into()
    } else {
        name
    }
}

/// A section's narrative: its lines as an XHTML list, or a sentence saying there are none.
fn narrative(title: &str, items: &[String]) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut div = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    if items.is_empty() {
        div.push_str(&format!("<p>{}: no information available.</p>", escape(title)));
    } else {
        div.push_str("<ul>");
        for i in items {
            div.push_str("<li>");
            div.push_str(&escape(i));
            div.push_str("</li>");
        }
        div.push_str("</ul>");
    }
    div.push_str("</div>");
    div
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_what_when_and_how_much() {
        let obs = json!({"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}]},
                         "valueQuantity": {"value": 48, "unit": "mmol/mol"}, "effectiveDateTime": "2026-11-02T09:00:00Z"});
        assert_eq!(describe(&obs, &[]), "HbA1c: 48 mmol/mol (2026-11-02)");
        let med = json!({"resourceType": "MedicationStatement", "status": "active", "medicationCodeableConcept": {"text": "Metformin 500mg tablets"}});
        assert_eq!(describe(&med, &[]), "Metformin 500mg tablets");
        let stopped = json!({"resourceType": "MedicationStatement", "status": "stopped", "medicationCodeableConcept": {"text": "Aspirin"},
                             "effectivePeriod": {"start": "2025-01-01", "end": "2026-01-01"}});
        assert_eq!(describe(&stopped, &[]), "Aspirin [stopped] (2025-01-01)");
        let uncoded = json!({"resourceType": "Condition", "code": {}});
        assert_eq!(describe(&uncoded, &[]), "(not coded)");
        assert_eq!(
            narrative("Alerts", &["a <b> & c".into()]),
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul><li>a &lt;b&gt; &amp; c</li></ul></div>"
        );
        assert!(narrative("Allergies", &[]).contains("no information available"));
        assert_eq!(
            patient_name(&json!({"name": [{"family": "Hart", "given": ["Ann", "May"]}]})),
            "Ann May Hart"
        );
    }
}
