//! Reading person membership (`person_link`, migration 3): which source Patient records make up
//! one person. The patient index (`lantern-mpi`) writes the table; the service reads it here to
//! render `Patient.link`, to expand `$everything` to every linked record, and the search
//! compiler reads it for `_linked=true`. A patient with no row is a person of its own.
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::store::Store;
use std::collections::HashMap;

/// Every source Patient in the same person as `patient`, `patient` first; just `[patient]` when
/// the patient index has no row for it.
pub fn members(conn: &mut dyn Conn, patient: &str) -> Result<Vec<String>, StoreError> {
    let mut out = vec![patient.to_string()];
    conn.query(
        "SELECT l2.patient FROM person_link l1 JOIN person_link l2 ON l2.person = l1.person \
         WHERE l1.patient = ? AND l2.patient <> l1.patient ORDER BY l2.patient",
        &[patient.into()],
        &mut |r| {
            out.push(r.text(0)?.unwrap_or_default());
            Ok(())
        },
    )?;
    Ok(out)
}

/// For each of `patients` that shares its person with other records, those other records that
/// `access` lets the caller see (sorted): a link never reveals a record the caller may not
/// read. Patients alone in their person are absent from the map.
pub fn linked(
    conn: &mut dyn Conn,
    catalog: &crate::catalog::Catalog,
    patients: &[String],
    access: &crate::AccessFilter,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let patient_type = catalog.type_id("Patient").unwrap_or(0);
    for chunk in patients.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut params: Vec<SqlValue> = chunk.iter().map(|p| SqlValue::from(p.as_str())).collect();
        params.push(patient_type.into());
        let visible = access.to_sql("r", &mut params);
        conn.query(
            &format!(
                "SELECT l1.patient, l2.patient FROM person_link l1 JOIN person_link l2 \
                 ON l2.person = l1.person JOIN resource r ON r.id = l2.patient \
                 WHERE l1.patient IN ({marks}) AND l2.patient <> l1.patient \
                 AND r.type = ? AND r.deleted = 0 AND {visible} \
                 ORDER BY l1.patient, l2.patient"
            ),
            &params,
            &mut |r| {
                out.entry(r.text(0)?.unwrap_or_default()).or_default().push(r.text(1)?.unwrap_or_default());
                Ok(())
            },
        )?;
    }
    Ok(out)
}

impl Store {
    /// See [`members`].
    pub async fn person_members(&self, patient: &str) -> Result<Vec<String>, StoreError> {
        let p = patient.to_string();
        self.with_reader(move |c, _| members(c, &p)).await
    }

    /// See [`linked`].
    pub async fn linked_patients(
        &self,
        patients: Vec<String>,
        access: crate::AccessFilter,
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        if patients.is_empty() {
            return Ok(HashMap::new());
        }
        self.with_reader(move |c, cat| linked(c, cat, &patients, &access)).await
    }
}

/// Marks the `Patient.link` entries the patient index renders, so that a client that reads a
/// Patient and writes it back does not store them (see [`strip_links`]).
pub const LINK_EXTENSION: &str = "urn:lantern:extension:patient-index-link";

/// A Patient's JSON text with `Patient.link` entries of type `seealso` to `others` (the other
/// source records of its person), added at read time so they are always current without
/// writing a new version on every link change. Links the source itself sent are kept.
pub fn with_links(body: &str, others: &[String]) -> String {
    if others.is_empty() {
        return body.to_string();
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) else { return body.to_string() };
    let Some(obj) = v.as_object_mut() else { return body.to_string() };
    let mut links = match obj.remove("link") {
        Some(serde_json::Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for o in others {
        let reference = format!("Patient/{o}");
        if !links.iter().any(|l| l.pointer("/other/reference").and_then(|r| r.as_str()) == Some(&reference)) {
            links.push(serde_json::json!({
                "extension": [{"url": LINK_EXTENSION, "valueBoolean": true}],
                "other": {"reference": reference},
                "type": "seealso"
            }));
        }
    }
    obj.insert("link".into(), serde_json::Value::Array(links));
    v.to_string()
}

/// Removes the links [`with_links`] rendered from a Patient about to be written.
pub fn strip_links(body: &mut serde_json::Value) {
    let Some(obj) = body.as_object_mut() else { return };
    let Some(serde_json::Value::Array(links)) = obj.get_mut("link") else { return };
    links.retain(|l| {
        !l.get("extension")
            .and_then(|e| e.as_array())
            .is_some_and(|e| e.iter().any(|x| x.get("url").and_then(|u| u.as_str()) == Some(LINK_EXTENSION)))
    });
    if links.is_empty() {
        obj.remove("link");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_links_are_stripped_on_write() {
        let body = r#"{"resourceType":"Patient","id":"a","link":[{"other":{"reference":"Patient/x"},"type":"replaces"}]}"#;
        let out = with_links(body, &["b".into(), "x".into()]);
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["link"].as_array().unwrap().len(), 2);
        assert_eq!(v["link"][1]["other"]["reference"], "Patient/b");
        assert_eq!(v["link"][1]["type"], "seealso");
        strip_links(&mut v);
        assert_eq!(v["link"].as_array().unwrap().len(), 1);
        assert_eq!(with_links(body, &[]), body);
    }
}
