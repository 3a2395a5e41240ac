//! What the access filter's fact probes would find for a patient, learnt once and reused.
//!
//! Every [`AccessFilter::PatientFact`] asks "has this patient, or another record of the same
//! person, a current fact of one of these subjects?" Asked inside each statement, the four
//! probes of a clinician's filter (relationship or broken glass; opt-out; each direct and
//! through `person_link`) cost a read and a search under the policy about 18 µs of a 150 µs
//! request (`lantern bench trust`). Yet the answer for a patient changes only when
//! `patient_grant` or `person_link` do, which is rare beside reads.
//!
//! So on SQLite a statement about known patients (a search by patient, `$everything`, a read)
//! first learns each patient's facts — the (subject, kind, until) of every `patient_grant` row
//! the probes could reach — and the filter is specialised for rows of that patient
//! ([`AccessFilter::specialise`]): its probes become constants, judged here at the request's
//! clock exactly as the SQL would judge them.
//!
//! The facts are cached, keyed by the number in `access_epoch`, which triggers (migration 7)
//! raise in the same transaction as any change to either table, whichever process makes it.
//! A reader inside one read transaction that sees the number the cache was filled at sees the
//! very rows the cache was filled from, so reuse is exact, not merely fresh. A reader on an
//! older snapshot (a number below the cache's) reads the facts itself and leaves the cache alone.
use crate::conn::Conn;
use crate::error::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The facts the probes of one patient's rows could reach: its own `patient_grant` rows and
/// those of the other records linked to the same person.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatientFacts {
    pub patient: String,
    /// (subject, kind, until), `until` in microseconds, None for open-ended.
    pub facts: Vec<(String, String, Option<i64>)>,
}

impl PatientFacts {
    /// What [`AccessFilter::PatientFact`] with these `subjects`, `kinds` (any if empty) and
    /// clock `at` finds for this patient, as its SQL probe would.
    pub fn holds(&self, subjects: &[String], kinds: &[String], at: i64) -> bool {
        self.facts.iter().any(|(s, k, until)| {
            subjects.contains(s) && (kinds.is_empty() || kinds.contains(k)) && until.is_none_or(|u| u > at)
        })
    }

    /// Reads them, as the probes would see them in the connection's current snapshot.
    pub fn read(conn: &mut dyn Conn, patient: &str) -> Result<PatientFacts, StoreError> {
        let mut facts = Vec::new();
        conn.query(
            "SELECT g.subject, g.kind, g.until FROM patient_grant g WHERE g.patient = ? \
             UNION ALL \
             SELECT g.subject, g.kind, g.until FROM person_link l1 CROSS JOIN person_link l2 \
             CROSS JOIN patient_grant g WHERE l1.patient = ? AND l2.person = l1.person \
             AND l2.patient <> l1.patient AND g.patient = l2.patient",
            &[patient.into(), patient.into()],
            &mut |r| {
                facts.push((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default(), r.int(2)?));
                Ok(())
            },
        )?;
        Ok(PatientFacts { patient: patient.to_string(), facts })
    }
}

/// Patients' facts by the `access_epoch` they were read at (see the module comment).
#[derive(Default)]
pub struct FactCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    epoch: i64,
    by_patient: HashMap<String, Arc<PatientFacts>>,
}

/// Patients whose facts are kept; past this the cache starts again (it refills at one small
/// indexed read per patient).
const CAPACITY: usize = 50_000;

impl FactCache {
    /// The facts of each of `patients` as of the connection's snapshot. Call inside a read
    /// transaction, so that the epoch read here and the statements that use the facts see
    /// one snapshot.
    pub fn known(
        &self,
        conn: &mut dyn Conn,
        patients: &[String],
    ) -> Result<Vec<Arc<PatientFacts>>, StoreError> {
        if patients.is_empty() {
            return Ok(Vec::new());
        }
        let epoch = conn.query_int("SELECT n FROM access_epoch WHERE id = 1", &[])?.unwrap_or(0);
        let mut out = Vec::with_capacity(patients.len());
        let mut missing = Vec::new();
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if epoch > st.epoch {
                st.epoch = epoch;
                st.by_patient.clear();
            }
            for p in patients {
                match st.by_patient.get(p).filter(|_| st.epoch == epoch) {
                    Some(f) => out.push(f.clone()),
                    None => missing.push(p),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mut read = Vec::with_capacity(missing.len());
        for p in missing {
            read.push(Arc::new(PatientFacts::read(conn, p)?));
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.epoch == epoch {
            if st.by_patient.len() + read.len() > CAPACITY {
                st.by_patient.clear();
            }
            for f in &read {
                st.by_patient.insert(f.patient.clone(), f.clone());
            }
        }
        out.extend(read);
        Ok(out)
    }
}
