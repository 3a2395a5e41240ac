// TXA + OBX -> DocumentReference, after the v2-to-FHIR IG "segment-txa-to-documentreference"
// and the MDM message maps (v2 chapter 9: T01/T02 original, T03/T04 status change, T05/T06
// addendum, T07/T08 edit, T09/T10 replacement, T11 cancel).

use super::context::{prune, Ctx};
use super::datatypes::codeable;
use super::diagnostic_report::simple_base64;
use super::patient::PatientRef;
use super::practitioner::practitioner;
use super::MapError;
use crate::message::Segment;
use serde_json::{json, Value};

/// Map an MDM message's TXA and its OBX content.
pub(crate) fn map_txa(
    ctx: &mut Ctx<'_>,
    trigger: &str,
    txa: &Segment,
    patient: &PatientRef,
    encounter: Option<&Value>,
) -> Result<Value, MapError> {
    let number = [txa.component(12, 1), txa.component(16, 1), txa.component(15, 1), txa.component(14, 1)]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .ok_or(MapError::MissingField {
            segment: "TXA".into(),
            field: 12,
            what: "no unique document number (TXA-12) or file name (TXA-16)",
        })?
        .to_string();
    let availability = txa.value(19).trim().to_ascii_uppercase();
    let status = if trigger == "T11" || availability == "CA" {
        "entered-in-error"
    } else if availability == "OB" {
        "superseded"
    } else {
        "current"
    };
    let doc_status = match txa.value(17).trim().to_ascii_uppercase().as_str() {
        "AU" | "LA" => Some("final"),
        "DI" | "DO" | "IP" | "IN" | "PA" => Some("preliminary"),
        _ => None,
    };
    let msg = ctx.msg;
    let mut text_lines = Vec::new();
    let mut attachments = Vec::new();
    for obx in msg.segments_named("OBX") {
        let kind = obx.value(2).trim().to_ascii_uppercase();
        if kind == "ED" {
            if let Some(ed) = obx.rep(5) {
                let data = ed.get(5).trim();
                if !data.is_empty() {
                    let ct = if ed.get(3).eq_ignore_ascii_case("PDF") {
                        "application/pdf"
                    } else {
                        "application/octet-stream"
                    };
                    let data = if ed.get(4).eq_ignore_ascii_case("Base64") {
                        data.to_string()
                    } else {
                        simple_base64(data.as_bytes())
                    };
                    attachments.push(json!({ "contentType": ct, "data": data }));
                }
            }
        } else {
            for r in obx.reps(5) {
                text_lines.push(
                    r.components.iter().map(|c| c.subcomponents.join("&")).collect::<Vec<_>>().join("^"),
                );
            }
        }
    }
    let title = [txa.component(2, 2), txa.component(16, 1), txa.component(2, 1)]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string);
    if !text_lines.is_empty() {
        let text = text_lines.join("\n");
        attachments.insert(0, json!({ "contentType": "text/plain; charset=utf-8", "data": simple_base64(text.as_bytes()), "title": title }));
    }
    if attachments.is_empty() {
        // Notification-only triggers (T01, T03, T05, T07, T09) carry no content.
        attachments.push(json!({ "title": title.clone().unwrap_or_else(|| "document".into()) }));
    }
    let date = super::datetime::to_instant(
        [txa.value(4), txa.value(6)].into_iter().find(|s| !s.trim().is_empty()).unwrap_or(""),
        &ctx.zone,
    );
    let authors: Vec<Value> = [txa.reps(9).collect::<Vec<_>>(), txa.reps(5).collect()]
        .concat()
        .into_iter()
        .filter_map(|x| practitioner(ctx, x))
        .collect();
    let authenticator = txa.rep(22).and_then(|x| practitioner(ctx, x));
    let parent = txa.component(13, 1).trim();
    let relates = (!parent.is_empty()).then(|| {
        let code = match trigger {
            "T05" | "T06" => "appends",
            "T09" | "T10" => "replaces",
            _ => "transforms",
        };
        json!([{ "code": code, "target": { "identifier": { "system": ctx.cfg.system("document"), "value": parent } } }])
    });
    let owner = ctx.owner();
    let resource = prune(json!({
        "status": status,
        "docStatus": doc_status,
        "type": txa.rep(2).and_then(codeable),
        "subject": patient.reference,
        "date": date,
        "author": authors,
        "authenticator": authenticator,
        "custodian": owner,
        "relatesTo": relates,
        "content": attachments.into_iter().map(|a| json!({ "attachment": a })).collect::<Vec<_>>(),
        "context": { "encounter": encounter.map(|e| vec![e.clone()]) },
    }));
    let system = ctx.cfg.system("document");
    Ok(ctx.add("DocumentReference", &system, &number, resource))
}
