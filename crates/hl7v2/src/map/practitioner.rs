// XCN -> Practitioner (v2-to-FHIR IG "datatype-xcn-to-practitioner"), XON -> Organization
// ("datatype-xon-to-organization"), used for PV1-7/8/9/17, PD1-3/4, ORC-12, OBR-16/32, TXA-5,
// AIP-3, RXA-10.

use super::context::{prune, Ctx};
use super::datatypes::{authority_system, human_name};
use super::systems::ODS_ORGANISATION;
use crate::message::Repetition;
use serde_json::{json, Value};

/// An XCN as a reference: a conditional Practitioner entry when it carries an id, otherwise a
/// display-only reference. `None` when empty.
pub(crate) fn practitioner(ctx: &mut Ctx<'_>, xcn: &Repetition) -> Option<Value> {
    let id = xcn.get(1).trim();
    // XCN's name starts at component 2; shift it into XPN shape.
    let xpn = Repetition { components: xcn.components.iter().skip(1).take(6).cloned().collect() };
    let name = if xpn.components.is_empty() { None } else { human_name(&xpn) };
    let display = name.as_ref().map(|n| {
        let given =
            n["given"].as_array().map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
        [
            n["prefix"][0].as_str().unwrap_or(""),
            &given.unwrap_or_default(),
            n["family"].as_str().unwrap_or(""),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    });
    if id.is_empty() {
        return display.filter(|d| !d.is_empty()).map(|d| json!({ "display": d }));
    }
    let system = authority_system(xcn.sub(9, 1), xcn.sub(9, 2), xcn.sub(9, 3), ctx.cfg, "practitioner");
    let resource = prune(json!({ "name": name.map(|n| vec![n]) }));
    let mut r = ctx.add("Practitioner", &system, id, resource);
    if let Some(d) = display.filter(|d| !d.is_empty()) {
        r["display"] = json!(d);
    }
    Some(r)
}

/// True for codes shaped like ODS organisation codes (e.g. GP practices `A81001`, trusts `RVJ`).
fn looks_like_ods(code: &str) -> bool {
    let b = code.as_bytes();
    (b.len() == 6 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit))
        || (b.len() == 3 && b[0] == b'R' && b.iter().all(u8::is_ascii_alphanumeric))
}

/// An XON (e.g. PD1-3 registered GP practice) as an Organization reference.
pub(crate) fn organization_xon(ctx: &mut Ctx<'_>, xon: &Repetition) -> Option<Value> {
    let name = xon.get(1).trim().to_string();
    let code =
        [xon.get(10), xon.get(3)].into_iter().map(str::trim).find(|c| !c.is_empty()).map(str::to_string);
    let Some(code) = code else {
        return (!name.is_empty()).then(|| json!({ "display": name }));
    };
    let system = if looks_like_ods(&code) || xon.sub(6, 1).eq_ignore_ascii_case("ODS") {
        ODS_ORGANISATION.to_string()
    } else {
        authority_system(xon.sub(6, 1), xon.sub(6, 2), xon.sub(6, 3), ctx.cfg, "organization")
    };
    let mut r = ctx.add("Organization", &system, &code, prune(json!({ "name": name })));
    if !name.is_empty() {
        r["display"] = json!(name);
    }
    Some(r)
}

/// An HD (e.g. MSH-4 sending facility) as an Organization reference.
pub(crate) fn organization_hd(ctx: &mut Ctx<'_>, hd: &Repetition) -> Option<Value> {
    let ns = hd.get(1).trim();
    let universal = hd.get(2).trim();
    if ns.is_empty() && universal.is_empty() {
        return None;
    }
    let (system, value) = if looks_like_ods(ns) {
        (ODS_ORGANISATION.to_string(), ns.to_string())
    } else if !universal.is_empty() && hd.get(3).eq_ignore_ascii_case("ISO") {
        ("urn:ietf:rfc:3986".to_string(), format!("urn:oid:{universal}"))
    } else {
        (ctx.cfg.system("facility"), ns.to_string())
    };
    let mut r = ctx.add("Organization", &system, &value, prune(json!({ "name": ns })));
    if !ns.is_empty() {
        r["display"] = json!(ns);
    }
    Some(r)
}
