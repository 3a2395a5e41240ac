// OBX -> Observation, after the v2-to-FHIR IG "segment-obx-to-observation": value by OBX-2
// value type (NM/SN/CQ -> Quantity/Range/Ratio with UCUM units where recognisable, ST/TX/FT ->
// string, CWE/CE -> CodeableConcept, DT/DTM/TS -> dateTime, TM -> time), OBX-7 reference
// range, OBX-8 interpretation (table 0078), OBX-11 status (table 0085), NTE -> note.

use super::context::{prune, Ctx};
use super::datatypes::{codeable, decimal};
use super::patient::PatientRef;
use super::practitioner::practitioner;
use super::systems::{self, coding_system};
use super::vocab;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Map, Value};

/// Table 0085 -> Observation.status.
pub(crate) fn status(code: &str) -> &'static str {
    match code.trim().to_ascii_uppercase().as_str() {
        "F" | "U" => "final",
        "P" | "R" | "S" => "preliminary",
        "C" => "corrected",
        "A" => "amended",
        "X" | "N" => "cancelled",
        "D" | "W" => "entered-in-error",
        "I" | "O" => "registered",
        _ => "unknown",
    }
}

/// Pair each OBX with the NTEs that follow it.
pub(crate) fn with_notes<'a>(segments: &[&'a Segment]) -> Vec<(&'a Segment, Vec<&'a Segment>)> {
    let mut out: Vec<(&Segment, Vec<&Segment>)> = Vec::new();
    for s in segments {
        match s.name.as_str() {
            "OBX" => out.push((s, Vec::new())),
            "NTE" => {
                if let Some(last) = out.last_mut() {
                    last.1.push(s);
                }
            }
            _ => {}
        }
    }
    out
}

/// The unit of OBX-6 (CWE) as Quantity members.
fn unit_members(obx: &Segment) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(u) = obx.rep(6) else { return m };
    let code = u.get(1).trim();
    let text = [u.get(2).trim(), code].into_iter().find(|s| !s.is_empty()).unwrap_or("");
    if text.is_empty() {
        return m;
    }
    m.insert("unit".into(), json!(text));
    let declared = coding_system(u.get(3));
    if declared.as_deref() == Some(systems::UCUM) {
        m.insert("system".into(), json!(systems::UCUM));
        m.insert("code".into(), json!(vocab::ucum(code).unwrap_or_else(|| code.to_string())));
    } else if let Some(ucum) = vocab::ucum(code) {
        m.insert("system".into(), json!(systems::UCUM));
        m.insert("code".into(), json!(ucum));
    }
    m
}

fn quantity(value: Value, comparator: Option<&str>, unit: &Map<String, Value>) -> Value {
    let mut q = Map::new();
    q.insert("value".into(), value);
    if let Some(c) = comparator {
        q.insert("comparator".into(), json!(c));
    }
    q.extend(unit.clone());
    Value::Object(q)
}

/// The `value[x]` member for an OBX, or `None` with an issue when it cannot be read.
fn value(ctx: &mut Ctx<'_>, obx: &Segment) -> Option<(String, Value)> {
    let kind = obx.value(2).trim().to_ascii_uppercase();
    let reps: Vec<_> = obx.reps(5).collect();
    let first = reps.first().copied()?;
    let unit = unit_members(obx);
    let warn_unreadable = |ctx: &mut Ctx<'_>, what: &str| {
        let loc = ctx.loc(obx, 5);
        ctx.warn(ErrorCode::DataType, Some(loc), format!("OBX-5 is not a valid {what}; kept as text"));
    };
    let as_text = || {
        let text: Vec<String> = reps
            .iter()
            .map(|r| r.components.iter().map(|c| c.subcomponents.join("&")).collect::<Vec<_>>().join("^"))
            .collect();
        ("valueString".to_string(), json!(text.join("\n").trim_matches('^').to_string()))
    };
    match kind.as_str() {
        "NM" => {
            if reps.len() > 1 {
                let loc = ctx.loc(obx, 5);
                ctx.warn(ErrorCode::DataType, Some(loc), "repeating NM value: first repetition used");
            }
            match decimal(first.get(1)) {
                Some(v) => Some(("valueQuantity".into(), quantity(v, None, &unit))),
                None => {
                    warn_unreadable(ctx, "number");
                    Some(as_text())
                }
            }
        }
        "SN" => {
            let (cmp, n1, sep, n2) = (first.get(1).trim(), first.get(2), first.get(3).trim(), first.get(4));
            let comparator = match cmp {
                "<" | ">" | "<=" | ">=" => Some(cmp),
                "" | "=" => None,
                _ => {
                    warn_unreadable(ctx, "structured numeric");
                    return Some(as_text());
                }
            };
            match (decimal(n1), sep, decimal(n2)) {
                (Some(a), "" | "+", None) => Some(("valueQuantity".into(), quantity(a, comparator, &unit))),
                (Some(a), "-", Some(b)) => Some((
                    "valueRange".into(),
                    json!({ "low": quantity(a, None, &unit), "high": quantity(b, None, &unit) }),
                )),
                (Some(a), ":" | "/", Some(b)) => Some((
                    "valueRatio".into(),
                    json!({ "numerator": { "value": a }, "denominator": { "value": b } }),
                )),
                _ => {
                    warn_unreadable(ctx, "structured numeric");
                    Some(as_text())
                }
            }
        }
        "CQ" => match decimal(first.get(1)) {
            Some(v) => {
                let mut u = Map::new();
                let unit_text = first.sub(2, 1).trim();
                if !unit_text.is_empty() {
                    u.insert("unit".into(), json!(unit_text));
                    if let Some(c) = vocab::ucum(unit_text) {
                        u.insert("system".into(), json!(systems::UCUM));
                        u.insert("code".into(), json!(c));
                    }
                }
                Some(("valueQuantity".into(), quantity(v, None, if u.is_empty() { &unit } else { &u })))
            }
            None => Some(as_text()),
        },
        "CE" | "CWE" | "CNE" | "CF" => codeable(first).map(|c| ("valueCodeableConcept".to_string(), c)),
        "DT" | "TS" | "DTM" => {
            let raw = first.get(1);
            match ctx.datetime(obx, 5, raw) {
                Some(d) => Some(("valueDateTime".into(), json!(d))),
                None => Some(as_text()),
            }
        }
        "TM" => {
            let t = first.get(1).trim();
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            if digits.len() >= 4 {
                let ss = if digits.len() >= 6 { &digits[4..6] } else { "00" };
                Some(("valueTime".into(), json!(format!("{}:{}:{}", &digits[0..2], &digits[2..4], ss))))
            } else {
                Some(as_text())
            }
        }
        _ => Some(as_text()),
    }
}

/// OBX-7 -> referenceRange: `low-high`, `<high`, `>low`, else text.
fn reference_range(obx: &Segment, unit: &Map<String, Value>) -> Option<Value> {
    let raw = obx.value(7).trim();
    if raw.is_empty() {
        return None;
    }
    let q = |s: &str| decimal(s).map(|v| quantity(v, None, unit));
    let range = if let Some(rest) = raw.strip_prefix('<') {
        q(rest.trim_start_matches('=')).map(|h| json!({ "high": h }))
    } else if let Some(rest) = raw.strip_prefix('>') {
        q(rest.trim_start_matches('=')).map(|l| json!({ "low": l }))
    } else if let Some((a, b)) = raw.rsplit_once(['-', '_']).filter(|(a, _)| !a.is_empty()) {
        match (q(a), q(b)) {
            (Some(l), Some(h)) => Some(json!({ "low": l, "high": h })),
            _ => None,
        }
    } else {
        None
    };
    let mut r = range.unwrap_or_else(|| json!({}));
    r["text"] = json!(raw);
    Some(r)
}

/// Inputs that come from the OBX's surroundings.
pub(crate) struct ObsContext<'v> {
    pub(crate) patient: &'v PatientRef,
    pub(crate) encounter: Option<&'v Value>,
    /// Order number the observation belongs to (filler, else placer), if any.
    pub(crate) order: Option<&'v str>,
    /// OBR-7 when OBX-14 is empty.
    pub(crate) default_time: Option<&'v str>,
    pub(crate) laboratory: bool,
}

/// Map one OBX with its notes; returns the Observation reference.
pub(crate) fn map_obx(
    ctx: &mut Ctx<'_>,
    obx: &Segment,
    notes: &[&Segment],
    oc: &ObsContext<'_>,
) -> Option<Value> {
    let Some(code) = obx.rep(3).and_then(codeable) else {
        let loc = ctx.loc(obx, 3);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "observation identifier (OBX-3) empty: observation not recorded",
        );
        return None;
    };
    let value = value(ctx, obx);
    let unit = unit_members(obx);
    let time_raw = Some(obx.value(14)).filter(|s| !s.trim().is_empty()).or(oc.default_time).unwrap_or("");
    let effective = ctx.datetime(obx, 14, time_raw);
    let code_key =
        [obx.component(3, 1), obx.component(3, 2)].into_iter().find(|s| !s.trim().is_empty()).unwrap_or("");
    let scope = match oc.order {
        Some(o) => o.to_string(),
        None => format!("{}|{}", oc.patient.key, time_raw.trim()),
    };
    let key = format!("{scope}|{}|{}|{}", obx.value(1).trim(), code_key.trim(), obx.value(4).trim());
    let interpretation: Vec<Value> = obx.reps(8).filter_map(|r| vocab::interpretation(r.get(1))).collect();
    let performers: Vec<Value> = obx.reps(16).filter_map(|x| practitioner(ctx, x)).collect();
    let note: Vec<Value> = notes
        .iter()
        .flat_map(|n| n.reps(3))
        .map(|r| r.get(1).trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| json!({ "text": t }))
        .collect();
    let category = oc.laboratory.then(|| {
        json!([{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"
        }]}])
    });
    let mut resource = json!({
        "status": status(obx.value(11)),
        "category": category,
        "code": code,
        "subject": oc.patient.reference,
        "encounter": oc.encounter,
        "effectiveDateTime": effective,
        "performer": performers,
        "interpretation": interpretation,
        "note": note,
        "referenceRange": reference_range(obx, &unit).map(|r| vec![r]),
    });
    if let Some((name, v)) = value {
        resource[name] = v;
    }
    let system = ctx.cfg.system("observation");
    Some(ctx.add("Observation", &system, &key, prune(resource)))
}
