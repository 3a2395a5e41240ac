//! The SQL of the patient index, one function per statement, over the store's [`Conn`] seam so
//! it runs the same on SQLite and PostgreSQL (the tables are migration 4 in
//! `lantern_store::schema`; `person_link` is migration 3's). Writers call these on the store's
//! writer thread, inside the transaction of the write they belong to.
use crate::matching::with_words;
use crate::record::Demographics;
use crate::{Event, Review};
use lantern_identity::Record;
use lantern_store::clock::format_instant;
use lantern_store::{Conn, Row, SqlValue, StoreError};
use serde_json::Value;
use std::collections::HashMap;

/// One row of `mpi_patient`.
#[derive(Debug, Clone)]
pub(crate) struct PatientRow {
    pub(crate) record: Record,
    pub(crate) keys: Vec<String>,
    pub(crate) identifiers: Vec<(String, String)>,
    pub(crate) nhs: Option<String>,
    pub(crate) nhs_flag: Option<String>,
    pub(crate) verified: Option<String>,
    pub(crate) pinned: bool,
}

/// Serialises the patient index across API nodes: on PostgreSQL, several nodes each have a
/// writer thread, so a transaction-scoped advisory lock makes their matching take turns (each
/// then sees the other's committed rows). On SQLite the one writer already does.
pub(crate) fn lock(c: &mut dyn Conn) -> Result<(), StoreError> {
    if c.dialect() == lantern_store::Dialect::Postgres {
        c.batch("SELECT pg_advisory_xact_lock(727275)")?;
    }
    Ok(())
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(",")
}

fn texts(v: &[String]) -> Vec<SqlValue> {
    v.iter().map(|s| SqlValue::from(s.as_str())).collect()
}

/// Writes a patient's row: an UPDATE when it `existed`, else an INSERT (single-row statements,
/// so SQLite opens no statement journal inside the writer's savepoint).
pub(crate) fn put_patient(
    c: &mut dyn Conn,
    patient: &str,
    d: &Demographics,
    keys: &[String],
    pinned: bool,
    existed: bool,
    now: i64,
) -> Result<(), StoreError> {
    let record = serde_json::to_string(&d.record).map_err(StoreError::db)?;
    let ids = serde_json::to_string(&d.identifiers).map_err(StoreError::db)?;
    let keys = serde_json::to_string(keys).map_err(StoreError::db)?;
    let sql = if existed {
        "UPDATE mpi_patient SET record = ?, identifiers = ?, keys = ?, nhs = ?, nhs_flag = ?, verified = ?, \
         pinned = ?, updated = ? WHERE patient = ?"
    } else {
        "INSERT INTO mpi_patient (record, identifiers, keys, nhs, nhs_flag, verified, pinned, updated, patient) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
    c.execute(
        sql,
        &[
            record.into(),
            ids.into(),
            keys.into(),
            d.nhs.clone().into(),
            d.nhs_flag.map(str::to_string).into(),
            d.verified.clone().into(),
            i64::from(pinned).into(),
            now.into(),
            patient.into(),
        ],
    )?;
    Ok(())
}

fn patient_row(r: &dyn Row) -> Result<(String, PatientRow), StoreError> {
    let record: Record = serde_json::from_str(&r.text(1)?.unwrap_or_default()).unwrap_or_default();
    let identifiers = serde_json::from_str(&r.text(2)?.unwrap_or_default()).unwrap_or_default();
    let keys = serde_json::from_str(&r.text(7)?.unwrap_or_default()).unwrap_or_default();
    Ok((
        r.text(0)?.unwrap_or_default(),
        PatientRow {
            record,
            keys,
            identifiers,
            nhs: r.text(3)?,
            nhs_flag: r.text(4)?,
            verified: r.text(5)?,
            pinned: r.int(6)?.unwrap_or(0) != 0,
        },
    ))
}

pub(crate) fn patients(c: &mut dyn Conn, ids: &[String]) -> Result<HashMap<String, PatientRow>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        c.query(
            &format!(
                "SELECT patient, record, identifiers, nhs, nhs_flag, verified, pinned, keys FROM mpi_patient \
                 WHERE patient IN ({})",
                marks(chunk.len())
            ),
            &texts(chunk),
            &mut |r| {
                let (k, v) = patient_row(r)?;
                out.insert(k, v);
                Ok(())
            },
        )?;
    }
    Ok(out)
}

pub(crate) fn patient(c: &mut dyn Conn, id: &str) -> Result<Option<PatientRow>, StoreError> {
    Ok(patients(c, &[id.to_string()])?.remove(id))
}

/// Removes a patient from the index: its row, its blocking keys (`keys`, as its row held them)
/// and its membership.
pub(crate) fn remove_patient(c: &mut dyn Conn, patient: &str, keys: &[String]) -> Result<(), StoreError> {
    c.execute("DELETE FROM mpi_patient WHERE patient = ?", &[patient.into()])?;
    replace_keys(c, patient, keys, &[])?;
    c.execute("DELETE FROM person_link WHERE patient = ?", &[patient.into()])?;
    Ok(())
}

pub(crate) fn pin(c: &mut dyn Conn, patients: &[String]) -> Result<(), StoreError> {
    for chunk in patients.chunks(500) {
        c.execute(
            &format!("UPDATE mpi_patient SET pinned = 1 WHERE patient IN ({})", marks(chunk.len())),
            &texts(chunk),
        )?;
    }
    Ok(())
}

/// Replaces the patient's blocking keys `old` (as its row held them) with `keys`, touching
/// only those that changed.
pub(crate) fn replace_keys(
    c: &mut dyn Conn,
    patient: &str,
    old: &[String],
    keys: &[String],
) -> Result<(), StoreError> {
    for k in old.iter().filter(|k| !keys.contains(k)) {
        c.execute(
            "DELETE FROM mpi_block WHERE key = ? AND patient = ?",
            &[k.as_str().into(), patient.into()],
        )?;
    }
    let mut added: Vec<&String> = keys.iter().filter(|k| !old.contains(k)).collect();
    added.sort();
    added.dedup();
    for k in added {
        c.execute(
            "INSERT INTO mpi_block (key, patient) VALUES (?, ?)",
            &[k.as_str().into(), patient.into()],
        )?;
    }
    Ok(())
}

/// Patients sharing a blocking key with `keys`, most shared keys first, at most `max`; a key
/// shared by more than `max_block` patients is skipped (one common value must not make every
/// arrival read thousands of rows), as in batch blocking.
pub(crate) fn candidates(
    c: &mut dyn Conn,
    keys: &[String],
    exclude: &str,
    max_block: usize,
    max: usize,
) -> Result<Vec<String>, StoreError> {
    let mut shared: HashMap<String, usize> = HashMap::new();
    let sql = format!("SELECT patient FROM mpi_block WHERE key = ? LIMIT {}", max_block + 1);
    for k in keys {
        let mut block = Vec::new();
        c.query(&sql, &[k.as_str().into()], &mut |r| {
            block.push(r.text(0)?.unwrap_or_default());
            Ok(())
        })?;
        if block.len() > max_block {
            continue;
        }
        for p in block.into_iter().filter(|p| p != exclude) {
            *shared.entry(p).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = shared.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(max);
    Ok(out.into_iter().map(|(p, _)| p).collect())
}

pub(crate) fn person_of(c: &mut dyn Conn, patient: &str) -> Result<Option<String>, StoreError> {
    let mut out = None;
    c.query("SELECT person FROM person_link WHERE patient = ?", &[patient.into()], &mut |r| {
        out = r.text(0)?;
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn persons_of(c: &mut dyn Conn, ids: &[String]) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        c.query(
            &format!("SELECT patient, person FROM person_link WHERE patient IN ({})", marks(chunk.len())),
            &texts(chunk),
            &mut |r| {
                out.insert(r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default());
                Ok(())
            },
        )?;
    }
    Ok(out)
}

pub(crate) fn members(c: &mut dyn Conn, person: &str) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    c.query(
        "SELECT patient FROM person_link WHERE person = ? ORDER BY patient",
        &[person.into()],
        &mut |r| {
            out.push(r.text(0)?.unwrap_or_default());
            Ok(())
        },
    )?;
    Ok(out)
}

/// The valid NHS numbers held by a person's records.
pub(crate) fn person_nhs_numbers(c: &mut dyn Conn, person: &str) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    c.query(
        "SELECT DISTINCT p.nhs FROM person_link l JOIN mpi_patient p ON p.patient = l.patient \
         WHERE l.person = ? AND p.nhs IS NOT NULL",
        &[person.into()],
        &mut |r| {
            out.extend(r.text(0)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Puts a patient in a person (the only place that changes membership: the primary key on
/// `person_link.patient` is what makes "one person at a time" hold). An UPDATE, or an INSERT
/// when the patient had no person: single-row statements, no statement journal on SQLite.
pub(crate) fn set_person(c: &mut dyn Conn, patient: &str, person: &str) -> Result<(), StoreError> {
    let n =
        c.execute("UPDATE person_link SET person = ? WHERE patient = ?", &[person.into(), patient.into()])?;
    if n == 0 {
        c.execute(
            "INSERT INTO person_link (patient, person) VALUES (?, ?)",
            &[patient.into(), person.into()],
        )?;
    }
    Ok(())
}

/// An event to append.
pub(crate) struct NewEvent<'a> {
    pub(crate) kind: &'a str,
    pub(crate) patient: &'a str,
    pub(crate) from_person: Option<&'a str>,
    pub(crate) to_person: Option<&'a str>,
    pub(crate) decided_by: &'a str,
    pub(crate) score: Option<f64>,
    pub(crate) evidence: Value,
    pub(crate) reverses: Option<i64>,
}

pub(crate) fn insert_event(c: &mut dyn Conn, e: &NewEvent<'_>, now: i64) -> Result<i64, StoreError> {
    c.insert_returning_key(
        "INSERT INTO mpi_event (at, kind, patient, from_person, to_person, decided_by, score, evidence, reverses) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            now.into(),
            e.kind.into(),
            e.patient.into(),
            e.from_person.into(),
            e.to_person.into(),
            e.decided_by.into(),
            e.score.into(),
            e.evidence.to_string().into(),
            e.reverses.into(),
        ],
        "seq",
    )
}

pub(crate) fn mark_reversed(c: &mut dyn Conn, seq: i64, by: i64) -> Result<(), StoreError> {
    c.execute("UPDATE mpi_event SET reversed_by = ? WHERE seq = ?", &[by.into(), seq.into()])?;
    Ok(())
}

const EVENT_COLUMNS: &str =
    "seq, at, kind, patient, from_person, to_person, decided_by, score, evidence, reverses, reversed_by";

fn event_row(r: &dyn Row) -> Result<Event, StoreError> {
    Ok(Event {
        seq: r.int(0)?.unwrap_or(0),
        at: format_instant(r.int(1)?.unwrap_or(0)),
        kind: r.text(2)?.unwrap_or_default(),
        patient: r.text(3)?.unwrap_or_default(),
        from_person: r.text(4)?,
        to_person: r.text(5)?,
        decided_by: r.text(6)?.unwrap_or_default(),
        score: r.real(7)?,
        evidence: with_words(r.text(8)?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)),
        reverses: r.int(9)?,
        reversed_by: r.int(10)?,
    })
}

pub(crate) fn event(c: &mut dyn Conn, seq: i64) -> Result<Option<Event>, StoreError> {
    let mut out = None;
    c.query(&format!("SELECT {EVENT_COLUMNS} FROM mpi_event WHERE seq = ?"), &[seq.into()], &mut |r| {
        out = Some(event_row(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// Events, newest first: of one patient, or all; `before` pages backwards.
pub(crate) fn events(
    c: &mut dyn Conn,
    patient: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut conds = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(p) = patient {
        conds.push("patient = ?");
        params.push(p.into());
    }
    if let Some(b) = before {
        conds.push("seq < ?");
        params.push(b.into());
    }
    let wh = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    let mut out = Vec::new();
    c.query(
        &format!("SELECT {EVENT_COLUMNS} FROM mpi_event{wh} ORDER BY seq DESC LIMIT {limit}"),
        &params,
        &mut |r| {
            out.push(event_row(r)?);
            Ok(())
        },
    )?;
    Ok(out)
}

pub(crate) fn insert_review(
    c: &mut dyn Conn,
    a: &str,
    b: &str,
    score: f64,
    reason: &str,
    evidence: &Value,
    now: i64,
) -> Result<i64, StoreError> {
    c.insert_returning_key(
        "INSERT INTO mpi_review (patient_a, patient_b, score, reason, evidence, status, created) \
         VALUES (?, ?, ?, ?, ?, 'open', ?)",
        &[a.into(), b.into(), score.into(), reason.into(), evidence.to_string().into(), now.into()],
        "id",
    )
}

/// Whether the pair has ever been put to a human (withdrawn reviews aside).
pub(crate) fn reviewed(c: &mut dyn Conn, a: &str, b: &str) -> Result<bool, StoreError> {
    let n = c.query_int(
        "SELECT COUNT(*) FROM mpi_review WHERE status <> 'withdrawn' AND \
         ((patient_a = ? AND patient_b = ?) OR (patient_b = ? AND patient_a = ?))",
        &[a.into(), b.into(), a.into(), b.into()],
    )?;
    Ok(n.unwrap_or(0) > 0)
}

const REVIEW_COLUMNS: &str =
    "id, patient_a, patient_b, score, reason, evidence, status, created, decided_by, decided_at, note";

fn review_row(r: &dyn Row) -> Result<Review, StoreError> {
    Ok(Review {
        id: r.int(0)?.unwrap_or(0),
        patient_a: r.text(1)?.unwrap_or_default(),
        patient_b: r.text(2)?.unwrap_or_default(),
        score: r.real(3)?.unwrap_or(0.0),
        reason: r.text(4)?.unwrap_or_default(),
        evidence: with_words(r.text(5)?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)),
        status: r.text(6)?.unwrap_or_default(),
        created: format_instant(r.int(7)?.unwrap_or(0)),
        decided_by: r.text(8)?,
        decided_at: r.int(9)?.map(format_instant),
        note: r.text(10)?,
    })
}

pub(crate) fn review(c: &mut dyn Conn, id: i64) -> Result<Option<Review>, StoreError> {
    let mut out = None;
    c.query(&format!("SELECT {REVIEW_COLUMNS} FROM mpi_review WHERE id = ?"), &[id.into()], &mut |r| {
        out = Some(review_row(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// Reviews in id order, optionally of one status, after id `after`.
pub(crate) fn reviews(
    c: &mut dyn Conn,
    status: Option<&str>,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<Review>, StoreError> {
    let mut conds = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(s) = status {
        conds.push("status = ?");
        params.push(s.into());
    }
    if let Some(a) = after {
        conds.push("id > ?");
        params.push(a.into());
    }
    let wh = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    let mut out = Vec::new();
    c.query(
        &format!("SELECT {REVIEW_COLUMNS} FROM mpi_review{wh} ORDER BY id LIMIT {limit}"),
        &params,
        &mut |r| {
            out.push(review_row(r)?);
            Ok(())
        },
    )?;
    Ok(out)
}

pub(crate) fn set_review_status(
    c: &mut dyn Conn,
    id: i64,
    status: &str,
    by: Option<&str>,
    at: Option<i64>,
    note: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE mpi_review SET status = ?, decided_by = ?, decided_at = ?, note = ? WHERE id = ?",
        &[status.into(), by.into(), at.into(), note.into(), id.into()],
    )?;
    Ok(())
}

/// Withdraws the open reviews naming a patient (it was deleted).
pub(crate) fn withdraw_reviews(c: &mut dyn Conn, patient: &str, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE mpi_review SET status = 'withdrawn', decided_by = 'lantern-mpi', decided_at = ?, \
         note = 'a record of the pair was deleted' WHERE status = 'open' AND (patient_a = ? OR patient_b = ?)",
        &[now.into(), patient.into(), patient.into()],
    )?;
    Ok(())
}
