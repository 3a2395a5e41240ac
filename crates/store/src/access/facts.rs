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
//!
//! # PostgreSQL: the statement checks the number itself
//!
//! On PostgreSQL the same (migration 10) would need a transaction per request (`BEGIN`, the
//! number, `COMMIT`: three round trips, ~0.23 ms on the project's machine, more than the
//! probes it saves). So there the cache is *guarded* ([`FactCache::guarded`]): each patient's
//! facts are read in one statement with the number (one snapshot: exactly the facts of that
//! number), and every statement specialised from them carries the number it assumes,
//! `CASE WHEN (SELECT n FROM access_epoch WHERE id = 1) = ? THEN <specialised> ELSE <the
//! filter with its probes> END`, judged in the statement's own snapshot. A statement that sees
//! the number sees the very facts it was specialised for; one that sees another number runs
//! the probes, exactly as without the cache. The number the cache assumes is read again at
//! most every [`REFRESH`], so after a change statements fall back to the probes for that long
//! at most. Rows judged in Rust ([`crate::AccessFilter::admits`]) need the facts of the row's
//! own snapshot, so a guarded cache is not used for that.
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
        conn.query(FACTS_SQL, &[patient.into(), patient.into()], &mut |r| {
            facts.push((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default(), r.int(2)?));
            Ok(())
        })?;
        Ok(PatientFacts { patient: patient.to_string(), facts })
    }

    /// Reads them with the `access_epoch` number, in one statement (one snapshot), so that the
    /// facts are exactly those of that number.
    fn read_with_epoch(conn: &mut dyn Conn, patient: &str) -> Result<(i64, PatientFacts), StoreError> {
        let mut epoch = 0;
        let mut facts = Vec::new();
        let sql =
            format!("SELECT e.n, f.* FROM access_epoch e LEFT JOIN ({FACTS_SQL}) f ON 1 = 1 WHERE e.id = 1");
        conn.query(&sql, &[patient.into(), patient.into()], &mut |r| {
            epoch = r.int(0)?.unwrap_or(0);
            // A patient without facts still has the row of the number, with NULLs beside it
            // (`subject` is never NULL in the table).
            if let Some(subject) = r.text(1)? {
                facts.push((subject, r.text(2)?.unwrap_or_default(), r.int(3)?));
            }
            Ok(())
        })?;
        Ok((epoch, PatientFacts { patient: patient.to_string(), facts }))
    }
}

/// The `access_epoch` number as the current snapshot sees it: read by the cache, and checked
/// by a guarded statement as a subquery.
pub(crate) const EPOCH_NOW: &str = "SELECT n FROM access_epoch WHERE id = 1";

/// The facts of a patient (`?`, twice): its own `patient_grant` rows and those of the other
/// records linked to the same person.
const FACTS_SQL: &str = "SELECT g.subject, g.kind, g.until FROM patient_grant g WHERE g.patient = ? \
     UNION ALL \
     SELECT g.subject, g.kind, g.until FROM person_link l1 CROSS JOIN person_link l2 \
     CROSS JOIN patient_grant g WHERE l1.patient = ? AND l2.person = l1.person \
     AND l2.patient <> l1.patient AND g.patient = l2.patient";

/// What [`FactCache::known`] learnt for a statement: the facts of the patients it could, and,
/// from a guarded cache, the `access_epoch` number they are the facts of, which the statement
/// must check ([`crate::AccessFilter::to_sql_knowing`] does).
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub facts: Vec<Arc<PatientFacts>>,
    pub guard: Option<i64>,
}

/// How often a guarded cache reads the number it assumes (see the module comment).
pub const REFRESH: std::time::Duration = std::time::Duration::from_millis(50);

/// Patients' facts by the `access_epoch` they were read at (see the module comment).
#[derive(Default)]
pub struct FactCache {
    state: Mutex<CacheState>,
    /// Statements check the number themselves (PostgreSQL), instead of running in the read
    /// transaction the facts were learnt in (SQLite).
    guarded: bool,
    /// How often a guarded cache reads the number ([`REFRESH`]).
    refresh: std::time::Duration,
}

#[derive(Default)]
struct CacheState {
    epoch: i64,
    by_patient: HashMap<String, Arc<PatientFacts>>,
    /// When a guarded cache last read the number.
    checked: Option<std::time::Instant>,
}

/// Patients whose facts are kept; past this the cache starts again (it refills at one small
/// indexed read per patient).
const CAPACITY: usize = 50_000;

impl FactCache {
    /// A cache whose statements check the number themselves (PostgreSQL; see the module
    /// comment). Its facts are for SQL only, never for judging rows in Rust.
    pub fn guarded() -> FactCache {
        FactCache::guarded_refreshing_every(REFRESH)
    }

    /// A guarded cache that reads the number every `refresh` (tests use a long one, so that
    /// the cache stays behind the number and the statements' fallback is what they check).
    pub fn guarded_refreshing_every(refresh: std::time::Duration) -> FactCache {
        FactCache { guarded: true, refresh, ..FactCache::default() }
    }

    pub fn is_guarded(&self) -> bool {
        self.guarded
    }

    /// The facts of each of `patients`. Unguarded: as of the connection's snapshot; call inside
    /// a read transaction, so that the epoch read here and the statements that use the facts
    /// see one snapshot. Guarded: with the number the statements must check.
    pub fn known(&self, conn: &mut dyn Conn, patients: &[String]) -> Result<Known, StoreError> {
        if patients.is_empty() {
            return Ok(Known::default());
        }
        if self.guarded {
            return self.known_guarded(conn, patients);
        }
        Ok(Known { facts: self.known_in_snapshot(conn, patients)?, guard: None })
    }

    fn known_in_snapshot(
        &self,
        conn: &mut dyn Conn,
        patients: &[String],
    ) -> Result<Vec<Arc<PatientFacts>>, StoreError> {
        let epoch = conn.query_int(EPOCH_NOW, &[])?.unwrap_or(0);
        let mut out = Vec::with_capacity(patients.len());
        let mut missing = Vec::new();
        {
            let mut st = self.state();
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
        self.keep(epoch, &read);
        out.extend(read);
        Ok(out)
    }

    /// [`FactCache::known`] of a guarded cache: every fact returned was read at the number
    /// returned. Tries a few times if the number moves while it reads; then gives up on the
    /// facts (the statement probes, as it would without a cache).
    fn known_guarded(&self, conn: &mut dyn Conn, patients: &[String]) -> Result<Known, StoreError> {
        let stale = {
            let st = self.state();
            st.checked.is_none_or(|t| t.elapsed() >= self.refresh)
        };
        if stale {
            let now = conn.query_int(EPOCH_NOW, &[])?.unwrap_or(0);
            self.adopt(now);
        }
        'attempt: for _ in 0..3 {
            let (epoch, mut out, missing) = {
                let st = self.state();
                let mut out = Vec::with_capacity(patients.len());
                let mut missing = Vec::new();
                for p in patients {
                    match st.by_patient.get(p) {
                        Some(f) => out.push(f.clone()),
                        None => missing.push(p),
                    }
                }
                (st.epoch, out, missing)
            };
            let mut read = Vec::with_capacity(missing.len());
            for p in missing {
                let (at, facts) = PatientFacts::read_with_epoch(conn, p)?;
                if at != epoch {
                    // Changed since the cache's number: start again from the new one.
                    self.adopt(at);
                    continue 'attempt;
                }
                read.push(Arc::new(facts));
            }
            self.keep(epoch, &read);
            out.extend(read);
            return Ok(Known { facts: out, guard: Some(epoch) });
        }
        Ok(Known::default())
    }

    /// Keeps facts read at `epoch`, unless the cache has moved on to another number meanwhile.
    fn keep(&self, epoch: i64, read: &[Arc<PatientFacts>]) {
        let mut st = self.state();
        if st.epoch == epoch {
            if st.by_patient.len() + read.len() > CAPACITY {
                st.by_patient.clear();
            }
            for f in read {
                st.by_patient.insert(f.patient.clone(), f.clone());
            }
        }
    }

    /// A guarded cache moves to a newer number: what it held was of an older one.
    fn adopt(&self, epoch: i64) {
        let mut st = self.state();
        if epoch > st.epoch {
            st.epoch = epoch;
            st.by_patient.clear();
        }
        st.checked = Some(std::time::Instant::now());
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
