// OBR (+ its OBX) -> DiagnosticReport, after the v2-to-FHIR IG "segment-obr-to-
// diagnosticreport" and the ORU_R01 message map (v2 chapter 7.3.1); OBX of type ED becomes
// presentedForm rather than an Observation.

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::observation::{map_obx, with_notes, ObsContext};
use super::patient::PatientRef;
use crate::groups::Group;
use crate::issue::ErrorCode;
use crate::message::Segment;
use serde_json::{json, Value};

/// Table 0123 result status -> DiagnosticReport.status.
fn status(code: &str) -> &'static str {
    match code.trim().to_ascii_uppercase().as_str() {
        "F" => "final",
        "P" | "R" => "preliminary",
        "A" | "S" => "partial",
        "C" => "corrected",
        "X" => "cancelled",
        "I" | "O" => "registered",
        "D" | "W" => "entered-in-error",
        _ => "unknown",
    }
}

/// The order numbers of an OBR (and its ORC, if given): (filler, placer).
pub(crate) fn order_numbers<'a>(
    obr: &'a Segment,
    orc: Option<&'a Segment>,
) -> (Option<&'a str>, Option<&'a str>) {
    let pick = |obr_field: usize, orc_field: usize| {
        [Some(obr.component(obr_field, 1)), orc.map(|o| o.component(orc_field, 1))]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|s| !s.is_empty())
    };
    (pick(3, 3), pick(2, 2))
}

fn attachment(obx: &Segment) -> Option<Value> {
    let ed = obx.rep(5)?;
    let (subtype, encoding, data) = (ed.get(3).trim(), ed.get(4).trim(), ed.get(5).trim());
    if data.is_empty() {
        return None;
    }
    let content_type =
        match (ed.get(2).trim().to_ascii_uppercase().as_str(), subtype.to_ascii_uppercase().as_str()) {
            (_, "PDF") => "application/pdf".to_string(),
            ("TEXT", "RTF") => "text/rtf".to_string(),
            ("TEXT", "HTML") => "text/html".to_string(),
            ("IMAGE", s) if !s.is_empty() => format!("image/{}", s.to_ascii_lowercase()),
            _ => "text/plain".to_string(),
        };
    let base64 = encoding.eq_ignore_ascii_case("Base64");
    let data = if base64 {
        data.chars().filter(|c| !c.is_whitespace()).collect::<String>()
    } else {
        simple_base64(data.as_bytes())
    };
    Some(json!({ "contentType": content_type, "data": data, "title": obx.component(3, 2) }))
}

/// Minimal standard base64 encoder for text attachments.
pub(crate) fn simple_base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Map one OBR group (with the ORC before it, if any).
pub(crate) fn map_obr_group(
    ctx: &mut Ctx<'_>,
    group: &Group<'_>,
    orc: Option<&Segment>,
    patient: &PatientRef,
    encounter: Option<&Value>,
) {
    let obr = group.head;
    let (filler, placer) = order_numbers(obr, orc);
    let order = filler.or(placer);
    let obr_time = Some(obr.value(7)).filter(|s| !s.trim().is_empty());
    let oc = ObsContext { patient, encounter, order, default_time: obr_time, laboratory: true };
    let mut results = Vec::new();
    let mut presented = Vec::new();
    for (obx, notes) in with_notes(&group.members) {
        if obx.value(2).trim().eq_ignore_ascii_case("ED") {
            presented.extend(attachment(obx));
            continue;
        }
        results.extend(map_obx(ctx, obx, &notes, &oc));
    }
    let Some(order) = order else {
        let loc = ctx.loc(obr, 3);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "no filler (OBR-3) or placer (OBR-2) order number: observations kept, report not recorded",
        );
        return;
    };
    let Some(code) = obr.rep(4).and_then(codeable) else {
        let loc = ctx.loc(obr, 4);
        ctx.warn(
            ErrorCode::RequiredFieldMissing,
            Some(loc),
            "universal service id (OBR-4) empty: report not recorded",
        );
        return;
    };
    let effective = ctx.datetime(obr, 7, obr.value(7));
    let issued = super::datetime::to_instant(obr.value(22), &ctx.zone);
    let section = obr.component(24, 1).trim();
    let category = json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
        "code": if section.is_empty() { "LAB" } else { section }
    }]}]);
    let mut identifiers = Vec::new();
    if let Some(p) = placer {
        identifiers.push(json!({
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC" }] },
            "system": ctx.cfg.system("placer-order"), "value": p
        }));
    }
    let conclusion: Vec<String> = group
        .members
        .iter()
        .take_while(|s| s.name == "NTE")
        .flat_map(|n| n.reps(3))
        .map(|r| r.get(1).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let resource = prune(json!({
        "identifier": identifiers,
        "status": status(obr.value(25)),
        "category": category,
        "code": code,
        "subject": patient.reference,
        "encounter": encounter,
        "effectiveDateTime": effective,
        "issued": issued,
        "result": results,
        "conclusion": conclusion.join("\n"),
        "presentedForm": presented,
    }));
    let system = ctx.cfg.system(if filler.is_some() { "filler-order" } else { "placer-order" });
    ctx.add("DiagnosticReport", &system, order, resource);
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::simple_base64(b"Man"), "TWFu");
        assert_eq!(super::simple_base64(b"Ma"), "TWE=");
        assert_eq!(super::simple_base64(b"M"), "TQ==");
    }
}
