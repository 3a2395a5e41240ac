//! Appending to the chain (tables of migration 3, `lantern_store::schema`):
//!
//! ```text
//! audit(seq, at, action, outcome, user_id, org, record, prev, hash)
//!   seq: 1, 2, 3, … gapless, assigned here under the head's lock
//!   hash = SHA-256(prev || record)        prev of record 1 = 32 zero bytes
//! audit_patient(patient, seq)             one row per distinct patient the record names
//! audit_head(id = 1, seq, hash)           the newest record's seq and hash
//! audit_mark(id = 1, seq, hash)           the newest record a job that wrote resources
//!                                         appended, kept with the resources (migration 5)
//! e.g. (17, 1732544000000000, 'read', 'success', 'u42', 'RVJ', '{"at":…}', <hash 16>, <hash 17>)
//!      ('p1', 17)   (1, 17, <hash 17>)
//! ```
//!
//! One call costs one head read (PostgreSQL: `FOR UPDATE`, which serialises API nodes that
//! share the database; SQLite has one writer already), then, whatever the batch size, on
//! PostgreSQL one statement that inserts the records and their patient rows and moves the head,
//! and on SQLite one INSERT per record and per patient row and one head UPDATE. The head lock is
//! held until the writer's group commits, so call [`append`] last in a job that also writes
//! resources.
use crate::entry::Entry;
use lantern_store::{Conn, Dialect, SqlValue, StoreError, WriteTx};
use sha2::{Digest, Sha256};

/// The `prev` of record 1.
pub const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(prev || record)`.
pub fn link_hash(prev: &[u8], record: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record);
    h.finalize().into()
}

/// Appends `entries` in order and returns their sequence numbers. Runs inside a write job, so
/// the records commit (or roll back) with whatever else the job wrote. Entries with `at == 0`
/// are stamped with the store's clock.
///
/// For a job that also writes resources: the newest record is noted in `audit_mark`, beside
/// the resources, so that `audit verify` can tell if the log ever lacks a record that an
/// audited write was committed with (on SQLite the log is a file of its own; see
/// `lantern-store-sqlite`).
pub fn append(tx: &mut WriteTx<'_>, entries: &[Entry]) -> Result<Vec<i64>, StoreError> {
    let (seqs, head) = append_records(tx, entries)?;
    if let Some((seq, hash)) = head {
        mark(tx.conn(), seq, &hash)?;
    }
    Ok(seqs)
}

/// Appends the records of accesses that changed nothing (reads, searches, logins, refusals):
/// as [`append`], but the resource store is not touched, so on SQLite the commit reaches only
/// the audit file and no reader of resources has to drop its cache.
pub fn append_access(tx: &mut WriteTx<'_>, entries: &[Entry]) -> Result<Vec<i64>, StoreError> {
    append_records(tx, entries).map(|(seqs, _)| seqs)
}

/// Records `seq`/`hash` as the newest record an audited write committed with.
fn mark(conn: &mut dyn Conn, seq: i64, hash: &[u8; 32]) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE audit_mark SET seq = ?, hash = ? WHERE id = 1",
        &[seq.into(), hash.to_vec().into()],
    )?;
    if n == 0 {
        conn.execute(
            "INSERT INTO audit_mark (id, seq, hash) VALUES (1, ?, ?)",
            &[seq.into(), hash.to_vec().into()],
        )?;
    }
    Ok(())
}

/// The mark (see [`append`]), if any record was ever marked.
pub(crate) fn read_mark(conn: &mut dyn Conn) -> Result<Option<(i64, [u8; 32])>, StoreError> {
    Ok(read_head(conn, "SELECT seq, hash FROM audit_mark WHERE id = 1")?.filter(|(seq, _)| *seq > 0))
}

/// A position in the chain: a record's seq and its hash.
pub(crate) type Head = (i64, [u8; 32]);

/// Appends, and returns the seqs and the new head (None if there was nothing to append).
/// With a journal installed on the store the records go to the journal, which folds them
/// into the tables later (see [`crate::journal`]); otherwise straight into the tables.
fn append_records(tx: &mut WriteTx<'_>, entries: &[Entry]) -> Result<(Vec<i64>, Option<Head>), StoreError> {
    if entries.is_empty() {
        return Ok((Vec::new(), None));
    }
    if let Some(e) = tx.extension::<crate::journal::Elsewhere>() {
        return Err(StoreError::Unavailable(e.0.clone()));
    }
    let now = tx.now_micros();
    if let Some(journal) = tx.extension::<crate::journal::Journal>() {
        let done = journal.append(entries, now)?;
        if done.unfolded >= crate::journal::FOLD_AT {
            journal.fold_soon();
        }
        return Ok((done.seqs, Some(done.head)));
    }
    let conn = tx.conn();
    let head = lock_head(conn)?;
    let rows = link(head, entries, now)?;
    match conn.dialect() {
        Dialect::Postgres => insert_in_one_statement(conn, &rows)?,
        Dialect::Sqlite => insert(conn, &rows)?,
    }
    let seqs = rows.iter().map(|r| r.seq).collect();
    Ok((seqs, rows.last().map(|r| (r.seq, r.hash))))
}

/// One record as the tables hold it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub seq: i64,
    pub at: i64,
    pub action: String,
    pub outcome: String,
    pub user: Option<String>,
    pub org: Option<String>,
    /// The canonical text, hashed byte for byte.
    pub record: String,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    /// Distinct, sorted.
    pub patients: Vec<String>,
}

/// Chains `entries` on after `head`: numbers, stamps (entries with `at == 0` get `now`) and
/// hashes them.
pub(crate) fn link(head: Head, entries: &[Entry], now: i64) -> Result<Vec<Row>, StoreError> {
    Ok(chain(head, prepare(entries, now)?))
}

/// The part of [`link`] that does not depend on the chain: stamping and the canonical text.
/// The journal runs it before taking its lock, so that appenders serialise only for the hash
/// and the write.
pub(crate) fn prepare(entries: &[Entry], now: i64) -> Result<Vec<Row>, StoreError> {
    entries
        .iter()
        .map(|e| {
            let (at, record) = if e.at == 0 {
                let mut stamped = e.clone();
                stamped.at = now;
                (now, stamped.canonical()?)
            } else {
                (e.at, e.canonical()?)
            };
            Ok(Row {
                seq: 0,
                at,
                action: e.action.as_str().to_string(),
                outcome: e.outcome.result.as_str().to_string(),
                user: e.agent.user.clone(),
                org: e.agent.org.clone(),
                record,
                prev: GENESIS,
                hash: GENESIS,
                patients: Entry::patient_rows(&e.patients).into_iter().map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Numbers and hashes prepared rows on after `head`.
pub(crate) fn chain(head: Head, mut rows: Vec<Row>) -> Vec<Row> {
    let (mut seq, mut prev) = head;
    for r in &mut rows {
        seq += 1;
        r.seq = seq;
        r.prev = prev;
        r.hash = link_hash(&prev, r.record.as_bytes());
        prev = r.hash;
    }
    rows
}

/// Inserts `rows` (which must follow the head row) with their patient index rows, and moves
/// the head to the last of them.
pub(crate) fn insert<R: std::borrow::Borrow<Row>>(conn: &mut dyn Conn, rows: &[R]) -> Result<(), StoreError> {
    insert_records(conn, rows)?;
    let pairs: Vec<(&str, i64)> =
        rows.iter().map(R::borrow).flat_map(|r| r.patients.iter().map(|p| (p.as_str(), r.seq))).collect();
    insert_patients(conn, &pairs)
}

/// As [`insert`] without the patient index rows (the journal writes those in larger batches,
/// see [`crate::journal`]).
pub(crate) fn insert_records<R: std::borrow::Borrow<Row>>(
    conn: &mut dyn Conn,
    rows: &[R],
) -> Result<(), StoreError> {
    let Some(last) = rows.last().map(R::borrow) else { return Ok(()) };
    let mut audit = Rows::new("audit", "seq, at, action, outcome, user_id, org, record, prev, hash", 9);
    for r in rows.iter().map(R::borrow) {
        audit.values.extend([
            r.seq.into(),
            r.at.into(),
            r.action.clone().into(),
            r.outcome.clone().into(),
            r.user.clone().into(),
            r.org.clone().into(),
            r.record.clone().into(),
            r.prev.to_vec().into(),
            r.hash.to_vec().into(),
        ]);
    }
    audit.insert(conn)?;
    conn.execute(
        "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
        &[last.seq.into(), last.hash.to_vec().into()],
    )?;
    Ok(())
}

/// Inserts `audit_patient` rows, (patient, seq) pairs.
pub(crate) fn insert_patients(conn: &mut dyn Conn, pairs: &[(&str, i64)]) -> Result<(), StoreError> {
    let mut patients = Rows::new("audit_patient", "patient, seq", 2);
    for (p, seq) in pairs {
        patients.values.extend([(*p).into(), (*seq).into()]);
    }
    patients.insert(conn)
}

/// PostgreSQL: [`insert`] as one statement, whatever the batch size: the records and their
/// patient rows travel as JSON text and are unpacked by `json_to_recordset`. One round trip
/// instead of three or more, on the path every audited request waits for (each round trip
/// wakes both processes; measured in BENCHMARKS.md, trust section).
fn insert_in_one_statement(conn: &mut dyn Conn, rows: &[Row]) -> Result<(), StoreError> {
    let Some(last) = rows.last() else { return Ok(()) };
    let records: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.seq, "at": r.at, "action": r.action, "outcome": r.outcome,
                "user_id": r.user, "org": r.org, "record": r.record,
                "prev": hex::encode(r.prev), "hash": hex::encode(r.hash),
            })
        })
        .collect();
    let patients: Vec<serde_json::Value> = rows
        .iter()
        .flat_map(|r| r.patients.iter().map(move |p| serde_json::json!({"patient": p, "seq": r.seq})))
        .collect();
    conn.execute(
        "WITH r AS (SELECT * FROM json_to_recordset(?::text::json) AS x(seq bigint, at bigint, \
           action text, outcome text, user_id text, org text, record text, prev text, hash text)), \
         a AS (INSERT INTO audit (seq, at, action, outcome, user_id, org, record, prev, hash) \
           SELECT seq, at, action, outcome, user_id, org, record, decode(prev, 'hex'), decode(hash, 'hex') FROM r), \
         p AS (INSERT INTO audit_patient (patient, seq) \
           SELECT x.patient, x.seq FROM json_to_recordset(?::text::json) AS x(patient text, seq bigint)) \
         UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
        &[
            serde_json::Value::Array(records).to_string().into(),
            serde_json::Value::Array(patients).to_string().into(),
            last.seq.into(),
            last.hash.to_vec().into(),
        ],
    )?;
    Ok(())
}

/// Reads (and on PostgreSQL locks) the head, creating it on the first append ever.
pub(crate) fn lock_head(conn: &mut dyn Conn) -> Result<(i64, [u8; 32]), StoreError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        Dialect::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    };
    if let Some(h) = read_head(conn, sql)? {
        return Ok(h);
    }
    // First append: another node may be creating the row too; whoever loses waits for the
    // winner's commit, does nothing, and then locks the winner's row.
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING",
        &[GENESIS.to_vec().into()],
    )?;
    let head = read_head(conn, sql)?.ok_or_else(|| StoreError::Database("the audit head vanished".into()))?;
    if head.0 == 0 {
        // A log whose head row was deleted must not restart at record 1: fail closed.
        if let Some(n) = conn.query_int("SELECT MAX(seq) FROM audit", &[])? {
            return Err(StoreError::Database(format!(
                "the audit log holds {n} records but its head row was missing; refusing to append \
                 (run `lantern audit verify`)"
            )));
        }
        // An empty log where the resources say writes were audited: the log (on SQLite its
        // own file) was lost or replaced. Restarting the chain would hide that.
        if let Some((n, _)) = read_mark(conn)? {
            return Err(StoreError::Database(format!(
                "the audit log is empty but audited writes were recorded up to record {n}; refusing \
                 to append (run `lantern audit verify`)"
            )));
        }
    }
    Ok(head)
}

/// The head row as (seq, hash), if present.
pub(crate) fn read_head(conn: &mut dyn Conn, sql: &str) -> Result<Option<(i64, [u8; 32])>, StoreError> {
    let mut out = None;
    conn.query(sql, &[], &mut |r| {
        let seq = r.int(0)?.unwrap_or_default();
        let hash = r.blob(1)?.unwrap_or_default();
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| StoreError::Database("the audit head's hash is not 32 bytes".into()))?;
        out = Some((seq, hash));
        Ok(())
    })?;
    Ok(out)
}

/// Rows for one table, inserted on SQLite as single-row statements (the reasons are in
/// `lantern_store::sql::index_rows`: SQLite's per-job savepoint journal), one statement text
/// per table for the prepared-statement cache. (PostgreSQL appends through
/// [`insert_in_one_statement`].)
struct Rows {
    table: &'static str,
    cols: &'static str,
    width: usize,
    values: Vec<SqlValue>,
}

impl Rows {
    fn new(table: &'static str, cols: &'static str, width: usize) -> Rows {
        Rows { table, cols, width, values: Vec::new() }
    }

    fn insert(&self, conn: &mut dyn Conn) -> Result<(), StoreError> {
        // The text made once: a fold inserts hundreds of rows.
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.cols,
            vec!["?"; self.width].join(",")
        );
        for row in self.values.chunks(self.width) {
            conn.execute(&sql, row)?;
        }
        Ok(())
    }
}
