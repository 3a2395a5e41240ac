// PL -> Location, after the v2-to-FHIR IG "datatype-pl-to-location": point of care, room and
// bed nested inside a facility, flattened here into one Location per distinct PL with a
// physical type for its most specific level.

use super::context::{prune, Ctx};
use crate::message::Repetition;
use serde_json::{json, Value};

/// A PL as a Location reference. `None` when empty.
pub(crate) fn location(ctx: &mut Ctx<'_>, pl: &Repetition) -> Option<Value> {
    let facility = pl.sub(4, 1).trim();
    let point_of_care = pl.get(1).trim();
    let room = pl.get(2).trim();
    let bed = pl.get(3).trim();
    let building = pl.get(7).trim();
    let floor = pl.get(8).trim();
    let description = pl.get(9).trim();
    let parts: Vec<&str> =
        [facility, building, floor, point_of_care, room, bed].into_iter().filter(|s| !s.is_empty()).collect();
    if parts.is_empty() {
        return None;
    }
    let key = parts.join("/");
    let (code, display) = if !bed.is_empty() {
        ("bd", "Bed")
    } else if !room.is_empty() {
        ("ro", "Room")
    } else if !point_of_care.is_empty() {
        ("wa", "Ward")
    } else if !floor.is_empty() {
        ("lvl", "Level")
    } else if !building.is_empty() {
        ("bu", "Building")
    } else {
        ("si", "Site")
    };
    let name = if description.is_empty() { parts.join(" ") } else { description.to_string() };
    let owner = ctx.owner();
    let resource = prune(json!({
        "status": "active",
        "name": name,
        "mode": "instance",
        "physicalType": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": code, "display": display
        }]},
        "managingOrganization": owner,
    }));
    let system = ctx.cfg.system("location");
    let mut r = ctx.add("Location", &system, &key, resource);
    r["display"] = json!(name);
    Some(r)
}
