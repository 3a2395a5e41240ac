//! HL7 v2 ADT A40 "merge patient — patient identifier list" (v2.5.1 §3.3.40): the records
//! named by MRG-1 are the same person as the one named by PID-3. The feeds service maps the
//! message (its Patient update goes through the matching hook like any other) and calls
//! [`merge_by_identifiers`] inside the same store job, after the bundle's writes and with the
//! inbox row, so the merge, the message and its acknowledgement stand or fall together.
use crate::ops;
use crate::Event;
use lantern_fhir::search::{self, Handling};
use lantern_store::{StoreError, WriteTx};

/// Patients carrying any of `ids`, in the order of `ids`. NHS numbers are skipped: they name a
/// person across organisations, and an A40 merges one system's own records.
fn patients_with(tx: &mut WriteTx<'_>, ids: &[(String, String)]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for (system, value) in ids.iter().filter(|(s, _)| s != crate::record::NHS_SYSTEM) {
        let pairs = vec![("identifier".to_string(), format!("{system}|{value}"))];
        let req = search::parse(Some("Patient"), &pairs, Handling::Strict).map_err(StoreError::Invalid)?;
        for id in tx.search_ids(&req, 10)? {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Merges the persons of the Patients carrying any `retired` identifier into the person of the
/// Patient carrying a `surviving` one; `decided_by` names the message (`hl7v2:<feed>#<MSH-10>`).
/// Records not in the index, or already one person, are left as they are. Returns the events.
pub fn merge_by_identifiers(
    tx: &mut WriteTx<'_>,
    surviving: &[(String, String)],
    retired: &[(String, String)],
    decided_by: &str,
) -> Result<Vec<Event>, StoreError> {
    let Some(into) = patients_with(tx, surviving)?.into_iter().next() else { return Ok(Vec::new()) };
    let now = tx.now_micros();
    let mut events = Vec::new();
    for from in patients_with(tx, retired)?.into_iter().filter(|p| *p != into) {
        let c = tx.conn();
        let (pf, pi) = (crate::tables::person_of(c, &from)?, crate::tables::person_of(c, &into)?);
        if pf.is_none() || pi.is_none() || pf == pi {
            continue;
        }
        events.push(ops::merge(c, now, &from, &into, decided_by, Some("HL7 v2 A40 merge"), true, "merge")?);
    }
    Ok(events)
}
