//! `Observation/$lastn` (R4 Observation-lastn): the most recent `max` Observations of each code
//! for a patient — the latest blood pressure, weight and HbA1c, as a summary screen or a
//! SMART app asks for them.
//!
//! The Observations are found by an ordinary search (so through the index and under the
//! caller's access filter), newest first by `date`, and grouped by code: the first coding's
//! system and code, else the code's text. A patient (or subject) is required: across every
//! patient the grouping would read every Observation. What one patient's record holds is read
//! in pages, up to [`MAX_READ`] Observations; a search that matches more is refused with the
//! reason rather than answered from part of it.
use crate::bundle::BundleText;
use crate::{Ctx, Error, Fhir};
use lantern_fhir::search::TotalMode;
use lantern_store::Stored;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Most Observations one `$lastn` reads (the matches of its search, all codes together).
pub(crate) const MAX_READ: usize = 20_000;

/// Most Observations of one code `max` may ask for.
const MAX_PER_CODE: usize = 100;

/// Observations read per page of the underlying search.
const PAGE: usize = 1000;

impl Fhir {
    /// `GET Observation/$lastn?patient=...&category=...&max=N`: a searchset Bundle of the `max`
    /// most recent Observations of each code.
    pub async fn lastn(&self, ctx: &Ctx, pairs: &[(String, String)]) -> Result<String, Error> {
        let mut max = 1;
        let mut rest: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "max" => {
                    max = v.parse::<usize>().ok().filter(|n| (1..=MAX_PER_CODE).contains(n)).ok_or_else(
                        || {
                            Error::bad(
                                "invalid",
                                Some("max"),
                                format!("max is a number from 1 to {MAX_PER_CODE}, not '{v}'"),
                            )
                        },
                    )?
                }
                // The operation orders and pages itself.
                "_sort" | "_count" | "_page" | "_total" => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("Observation/$lastn orders and sizes its answer itself: '{k}' is not taken"),
                    ))
                }
                _ => rest.push((k.clone(), v.clone())),
            }
        }
        // `patient=`, `subject:Patient=`, `patient.identifier=`...; not `patient:missing`, which
        // asks for every Observation without one.
        let about_someone = rest.iter().any(|(k, _)| {
            let name = k.split([':', '.']).next().unwrap_or("");
            (name == "patient" || name == "subject") && !k.ends_with(":missing")
        });
        if !about_someone {
            return Err(Error::bad(
                "required",
                Some("patient"),
                "Observation/$lastn needs a patient (or subject): across every patient it would read every Observation",
            ));
        }
        let shown: Vec<(String, String)> =
            rest.iter().cloned().chain([("max".into(), max.to_string())]).collect();
        rest.push(("_sort".into(), "-date".into()));
        rest.push(("_count".into(), PAGE.to_string()));
        let mut req = self.parse_search(ctx, Some("Observation"), &rest)?;
        req.total = TotalMode::None;
        let mut read: Vec<Stored> = Vec::new();
        loop {
            let page = self.store.search(req.clone(), ctx.access.clone()).await?;
            read.extend(page.matches);
            if read.len() > MAX_READ {
                return Err(Error::Store(lantern_store::StoreError::invalid(
                    "too-costly",
                    None,
                    format!("Observation/$lastn reads at most {MAX_READ} Observations; narrow it (category, code, date)"),
                )));
            }
            match page.next {
                Some(cursor) => req.cursor = Some(cursor),
                None => break,
            }
        }
        let latest = latest_per_code(read, max);
        let self_link = format!("{}/Observation/$lastn?{}", ctx.base, crate::search::encode_pairs(&shown));
        let mut b = BundleText::new(
            "searchset",
            self.store.now_micros(),
            Some(latest.len() as i64),
            &[("self", self_link)],
        );
        ctx.saw(latest.iter());
        for s in &latest {
            b.entry(
                Some(&format!("{}/{}/{}", ctx.base, s.rtype, s.id)),
                crate::search::render(s, &req).as_deref(),
                json!({"search": {"mode": "match"}}),
            );
        }
        Ok(b.finish())
    }
}

/// What an Observation is grouped by: its code's first coding (system and code), else its text.
fn code_key(body: &Value) -> String {
    let code = &body["code"];
    match code["coding"].as_array().and_then(|c| c.first()) {
        Some(c) => format!("{}|{}", c["system"].as_str().unwrap_or(""), c["code"].as_str().unwrap_or("")),
        None => format!("text:{}", code["text"].as_str().unwrap_or("")),
    }
}

/// The first `max` of each code, from Observations newest first (their order is kept).
pub(crate) fn latest_per_code(newest_first: Vec<Stored>, max: usize) -> Vec<Stored> {
    let mut taken: HashMap<String, usize> = HashMap::new();
    newest_first
        .into_iter()
        .filter(|s| {
            let body: Value =
                s.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
            let n = taken.entry(code_key(&body)).or_default();
            *n += 1;
            *n <= max
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, code: Value) -> Stored {
        Stored {
            rtype: "Observation".into(),
            id: id.into(),
            version: 1,
            updated: 0,
            deleted: false,
            body: Some(json!({"resourceType": "Observation", "id": id, "code": code}).to_string()),
            patient: None,
        }
    }

    #[test]
    fn keeps_the_newest_of_each_code_in_order() {
        let bp = json!({"coding": [{"system": "http://loinc.org", "code": "85354-9"}]});
        let wt = json!({"coding": [{"system": "http://loinc.org", "code": "29463-7"}, {"system": "x", "code": "y"}]});
        let other_system = json!({"coding": [{"system": "http://snomed.info/sct", "code": "85354-9"}]});
        let text = json!({"text": "mood"});
        let all = vec![
            obs("bp3", bp.clone()),
            obs("wt2", wt.clone()),
            obs("bp2", bp.clone()),
            obs("s1", other_system),
            obs("m2", text.clone()),
            obs("bp1", bp),
            obs("wt1", wt),
            obs("m1", text),
        ];
        let ids = |v: Vec<Stored>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(latest_per_code(all.clone(), 1)), ["bp3", "wt2", "s1", "m2"]);
        assert_eq!(ids(latest_per_code(all, 2)), ["bp3", "wt2", "bp2", "s1", "m2", "wt1", "m1"]);
    }
}
