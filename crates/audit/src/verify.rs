//! Verifying the chain: `lantern audit verify`.
//!
//! Reads the whole log in `seq` order, a page at a time (memory stays flat for any size of
//! log), inside one read snapshot (SQLite: a read transaction; PostgreSQL: `REPEATABLE READ`),
//! so appends running meanwhile neither disturb nor extend what is checked. For each record:
//!
//! 1. its `seq` follows the previous one (gapless from 1, none below) and is not beyond the head;
//! 2. `hash = SHA-256(prev || record)` — the record is as written;
//! 3. `prev` is the previous record's `hash` (zero for record 1) — nothing was inserted,
//!    removed or reordered before it;
//! 4. the indexed columns (`at`, `action`, `outcome`, `user_id`, `org`) say what the record says;
//! 5. its `audit_patient` rows are exactly the record's patients (with the journal, for the
//!    records up to the index's newest row: the rows of later ones are written in batches);
//!
//! and at the end: the head names the last record and its hash, no `audit_patient` row names a
//! patient its record does not, the mark the resource store keeps (`audit_mark`: the newest
//! record an audited write committed with) is in the log with that hash, and, if the operator
//! gave one, the expected head is in the log.
//!
//! With the audit journal (SQLite, [`crate::journal`]) the newest records may be only in the
//! journal file: it is read after the mark and before the tables, and its records beyond the
//! tables are checked as the chain's continuation (numbered, linked, hashed, valid, matching
//! the mark and the expected head); a damaged line or a gap is reported like a bad record.
//!
//! The mark is read first. On PostgreSQL everything is one snapshot. On SQLite the log is a
//! file of its own and each file's snapshot starts when it is first read; since a group commit
//! reaches the audit file before the resource file, a mark seen first always has its records
//! in the (later) snapshot of the log, so a missing one is a real loss, not a race.
//!
//! What this proves and what it does not. A change to any record, index row or the order of
//! records is found, unless whoever made it also recomputed every later hash and the head —
//! that is, someone with write access to the database who knows the scheme can rewrite the
//! history from any point on, and can remove the newest records and move the head back. Only an
//! anchor kept outside the database catches that: `verify` prints the head (`SEQ:HASH`); note it
//! down (or ship it elsewhere) and later pass it as `--expect-head`, which checks that record
//! SEQ still exists with that hash, so nothing up to it was rewritten or removed.
//!
//! With the journal, removing the *newest* `audit_patient` rows (those after the last record
//! whose rows are kept) looks like rows not yet written, and passes. That index is derived
//! from the records, never evidence: start-up writes those rows again from the records, and a
//! running server's next batch of index rows refuses to go on (see [`crate::journal`]).
use crate::chain::{link_hash, read_head, read_mark, GENESIS};
use crate::entry::{Entry, Indexed};
use crate::journal::Line;
use lantern_store::{Conn, Dialect, SqlValue, StoreError};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Records read per page.
const PAGE: i64 = 512;
/// Patients (or seqs) per `IN (…)` list; lists are padded to this length so the statement text
/// is always the same.
const IN_LIST: usize = 32;

/// A point in the chain: a record's seq and hash, written `SEQ:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

impl std::str::FromStr for Anchor {
    type Err = String;

    fn from_str(s: &str) -> Result<Anchor, String> {
        let (seq, hash) = s.split_once(':').ok_or("expected SEQ:HASH, e.g. 1234:9f86d0…")?;
        let seq: i64 = seq.trim().parse().map_err(|_| format!("'{seq}' is not a record number"))?;
        let bytes = hex::decode(hash.trim()).map_err(|_| "the hash is not hexadecimal".to_string())?;
        let hash: [u8; 32] =
            bytes.try_into().map_err(|_| "the hash is not 32 bytes (64 hex digits)".to_string())?;
        if seq < 1 {
            return Err("the record number must be 1 or more".into());
        }
        Ok(Anchor { seq, hash })
    }
}

/// The first record found wrong, and how, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records found good, in order, before the first bad one (all of them if intact).
    pub records: u64,
    /// The newest record found good: the anchor to keep for a later `--expect-head`.
    pub last: Option<Anchor>,
    pub first_bad: Option<Bad>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }

    /// One line for an operator.
    pub fn summary(&self) -> String {
        let head = self.last.as_ref().map_or("none (empty log)".to_string(), |a| a.to_string());
        match &self.first_bad {
            None => format!("audit log intact: {} records; head {head}", self.records),
            Some(b) => format!(
                "audit log NOT intact: {} (first bad record {}; {} records before it verified)",
                b.reason, b.seq, self.records
            ),
        }
    }
}

/// Verifies the whole log; `expect_head` is an anchor kept from an earlier run; `journal` is
/// the audit journal's file if the store has one ([`crate::journal`]): its records beyond the
/// tables are checked as the chain's continuation. Call on a connection that is not inside a
/// transaction: this opens (and ends) its own read snapshot.
pub fn verify(
    conn: &mut dyn Conn,
    expect_head: Option<&Anchor>,
    journal: Option<&Path>,
) -> Result<VerifyReport, StoreError> {
    match conn.dialect() {
        Dialect::Sqlite => conn.batch("BEGIN")?,
        Dialect::Postgres => conn.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?,
    }
    let r = read_mark(conn).and_then(|mark| {
        // Read after the mark and before the tables: a record the mark names was written to
        // the journal before the mark committed, and a record rotated out of the journal since
        // was folded into the tables first, whose snapshot starts later.
        let tail = match journal {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => Some(crate::journal::parse(&bytes).0),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Vec::new()),
                Err(e) => return Err(StoreError::Database(format!("audit journal {}: {e}", path.display()))),
            },
            None => None,
        };
        let mark = mark.map(|(seq, hash)| Anchor { seq, hash });
        let mut v = Verifier {
            expect: expect_head,
            tail,
            mark: mark.as_ref(),
            records: 0,
            last_seq: 0,
            last_hash: GENESIS,
            pairs: 0,
            indexed: i64::MAX,
        };
        let bad = v.run(conn)?;
        Ok((bad, v.records, v.last_seq, v.last_hash))
    });
    let end = conn.batch("ROLLBACK");
    let (bad, records, last_seq, last_hash) = r?;
    end?;
    Ok(VerifyReport {
        records,
        last: (last_seq > 0).then_some(Anchor { seq: last_seq, hash: last_hash }),
        first_bad: bad,
    })
}

struct Stored {
    seq: i64,
    at: i64,
    action: String,
    outcome: String,
    user: Option<String>,
    org: Option<String>,
    record: String,
    prev: Vec<u8>,
    hash: Vec<u8>,
}

struct Verifier<'a> {
    expect: Option<&'a Anchor>,
    /// The journal's complete lines, if the store has one.
    tail: Option<Vec<Result<Line, String>>>,
    /// The resource store's mark: the newest record an audited write committed with.
    mark: Option<&'a Anchor>,
    records: u64,
    last_seq: i64,
    last_hash: [u8; 32],
    /// audit_patient rows the good records account for.
    pairs: u64,
    /// The records beyond this have no patient index rows yet: with a journal, the newest seq
    /// in `audit_patient` (see "The patient index" in [`crate::journal`]); without one, every
    /// record's rows are written with it.
    indexed: i64,
}

fn bad(seq: i64, reason: String) -> Option<Bad> {
    Some(Bad { seq, reason })
}

fn wrong(seq: i64, reason: String) -> Result<u64, Bad> {
    Err(Bad { seq, reason })
}

/// "record 17" or "records 17 to 19".
fn span(from: i64, to: i64) -> String {
    if from == to {
        format!("record {from} is")
    } else {
        format!("records {from} to {to} are")
    }
}

impl Verifier<'_> {
    fn run(&mut self, conn: &mut dyn Conn) -> Result<Option<Bad>, StoreError> {
        let head = read_head(conn, "SELECT seq, hash FROM audit_head WHERE id = 1")?;
        if self.tail.is_some() {
            self.indexed = conn.query_int("SELECT MAX(seq) FROM audit_patient", &[])?.unwrap_or(0);
        }
        // Pages start after seq 0, so a row numbered below 1 would never be read.
        if let Some(low) = conn.query_int("SELECT MIN(seq) FROM audit", &[])?.filter(|s| *s < 1) {
            return Ok(bad(
                low,
                format!("record {low} is outside the chain (which starts at 1): it was added"),
            ));
        }
        loop {
            let page = read_page(conn, self.last_seq)?;
            if page.is_empty() {
                break;
            }
            let parsed: Vec<Result<Indexed, String>> =
                page.iter().map(|s| serde_json::from_str(&s.record).map_err(|e| e.to_string())).collect();
            let found = patient_rows(conn, &page, &parsed)?;
            for (s, p) in page.iter().zip(&parsed) {
                match self.check(s, p, head.as_ref(), &found) {
                    Ok(rows) => self.pairs += rows,
                    Err(b) => return Ok(Some(b)),
                }
                self.records += 1;
                self.last_seq = s.seq;
                self.last_hash = s.hash.as_slice().try_into().unwrap_or(GENESIS);
            }
        }
        let last = self.last_seq;
        let ends =
            if last == 0 { "the log is empty".to_string() } else { format!("the log ends at record {last}") };
        // A missing head with records present was reported at record 1.
        match head {
            Some((h, _)) if h > last => {
                return Ok(bad(
                    last + 1,
                    format!(
                        "{} missing: the head names record {h} but {ends} (the newest records were removed)",
                        span(last + 1, h)
                    ),
                ))
            }
            Some((_, hash)) if last > 0 && hash != self.last_hash => {
                return Ok(bad(
                    last,
                    format!(
                        "record {last} does not match the head: its hash is not the head's hash (the \
                         newest record was altered and re-hashed, or the head was altered)"
                    ),
                ))
            }
            _ => {}
        }
        if let Some(b) = self.walk_tail() {
            return Ok(Some(b));
        }
        let last = self.last_seq;
        let ends =
            if last == 0 { "the log is empty".to_string() } else { format!("the log ends at record {last}") };
        if let Some(m) = self.mark {
            if m.seq > last {
                return Ok(bad(
                    last + 1,
                    format!(
                        "{} missing: a write in the resource store was audited as record {} but {ends} \
                         (the log lost its newest records, or was replaced by an older copy)",
                        span(last + 1, m.seq),
                        m.seq
                    ),
                ));
            }
        }
        if let Some(a) = self.expect {
            if a.seq > last {
                return Ok(bad(
                    last + 1,
                    format!(
                        "{} missing: the expected head names record {} but {ends} (the newest \
                         records were removed and the head moved back)",
                        span(last + 1, a.seq),
                        a.seq
                    ),
                ));
            }
        }
        let rows = conn.query_int("SELECT COUNT(*) FROM audit_patient", &[])?.unwrap_or(0);
        if rows as u64 != self.pairs {
            return extra_patient_rows(conn);
        }
        Ok(None)
    }

    /// Checks one record; returns how many audit_patient rows it accounts for.
    fn check(
        &self,
        s: &Stored,
        parsed: &Result<Indexed, String>,
        head: Option<&(i64, [u8; 32])>,
        found: &HashMap<i64, Vec<String>>,
    ) -> Result<u64, Bad> {
        let (seq, last) = (s.seq, self.last_seq);
        if seq != last + 1 {
            let why = if last == 0 {
                format!("the log starts at record {seq}")
            } else {
                format!("the sequence jumps from {last} to {seq}")
            };
            return wrong(last + 1, format!("{} missing ({why})", span(last + 1, seq - 1)));
        }
        match head {
            None => return wrong(seq, "the chain head row is missing (audit_head was altered)".into()),
            Some((h, _)) if seq > *h => {
                return wrong(
                    seq,
                    format!(
                        "record {seq} is beyond the head, which names record {h}: it was added \
                         without an append"
                    ),
                )
            }
            _ => {}
        }
        if link_hash(&s.prev, s.record.as_bytes()).as_slice() != s.hash.as_slice() {
            return wrong(seq, format!("record {seq} was altered: its hash does not match its content"));
        }
        if seq == 1 && s.prev != GENESIS {
            return wrong(1, "record 1 does not start the chain: its prev hash is not zero".into());
        }
        if seq > 1 && s.prev != self.last_hash {
            return wrong(
                seq,
                format!(
                    "record {seq} does not follow record {last}: its prev hash is not record {last}'s \
                     hash (record {last} was altered and re-hashed, or records were inserted, removed \
                     or reordered here)"
                ),
            );
        }
        self.check_anchors(seq, &s.hash)?;
        let ix = match parsed {
            Ok(ix) => ix,
            Err(e) => {
                return wrong(seq, format!("record {seq} was altered: it is not a valid audit record ({e})"))
            }
        };
        let columns = [
            ("at", s.at == ix.at),
            ("action", s.action == ix.action),
            ("outcome", s.outcome == ix.outcome.result),
            ("user_id", s.user == ix.agent.user),
            ("org", s.org == ix.agent.org),
        ];
        if let Some((col, _)) = columns.iter().find(|(_, same)| !same) {
            return wrong(
                seq,
                format!("record {seq} was altered: its {col} column does not say what its record says"),
            );
        }
        if seq > self.indexed {
            return Ok(0);
        }
        let want = Entry::patient_rows(&ix.patients);
        let have: Vec<&str> =
            found.get(&seq).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
        if want != have {
            let missing = want.iter().filter(|p| !have.contains(p)).count();
            let extra = have.iter().filter(|p| !want.contains(p)).count();
            return wrong(
                seq,
                format!(
                    "record {seq}'s patient index does not match its record ({missing} row(s) missing, \
                     {extra} extra): audit_patient rows were removed or added"
                ),
            );
        }
        Ok(want.len() as u64)
    }
}

impl Verifier<'_> {
    /// Checks the journal's records beyond the tables as the chain's continuation: numbered,
    /// linked and hashed as the chain requires, each a valid record, and matching the anchors.
    fn walk_tail(&mut self) -> Option<Bad> {
        let tail = self.tail.take()?;
        for (n, line) in tail.iter().enumerate() {
            let next = self.last_seq + 1;
            let line = match line {
                Ok(l) => l,
                Err(why) => {
                    return bad(next, format!("line {} of the audit journal is damaged: {why}", n + 1))
                }
            };
            let seq = line.seq;
            if seq < next {
                if seq + 1 == next && line.hash != self.last_hash {
                    return bad(
                        seq,
                        format!(
                            "record {seq} differs between the audit tables and the journal: one was altered"
                        ),
                    );
                }
                continue;
            }
            if seq != next {
                return bad(
                    next,
                    format!(
                        "{} missing (the audit journal jumps from {} to {seq})",
                        span(next, seq - 1),
                        next - 1
                    ),
                );
            }
            if link_hash(&line.prev, line.record.as_bytes()) != line.hash {
                return bad(
                    seq,
                    format!(
                        "record {seq} was altered in the audit journal: its hash does not match its content"
                    ),
                );
            }
            if line.prev != self.last_hash {
                return bad(
                    seq,
                    format!(
                        "record {seq} in the audit journal does not follow record {}: its prev hash is not \
                         that record's hash",
                        next - 1
                    ),
                );
            }
            if let Err(e) = serde_json::from_str::<Indexed>(&line.record) {
                return bad(seq, format!("record {seq} was altered: it is not a valid audit record ({e})"));
            }
            if let Err(b) = self.check_anchors(seq, &line.hash) {
                return Some(b);
            }
            self.records += 1;
            self.last_seq = seq;
            self.last_hash = line.hash;
        }
        None
    }

    /// Record `seq` (with `hash`) is the expected head or the mark, if either names it.
    fn check_anchors(&self, seq: i64, hash: &[u8]) -> Result<(), Bad> {
        if let Some(a) = self.expect {
            if a.seq == seq && a.hash.as_slice() != hash {
                return Err(Bad {
                    seq,
                    reason: format!(
                        "record {seq} does not match the expected head {a}: it or an earlier record \
                         was altered and the chain rewritten"
                    ),
                });
            }
        }
        if let Some(m) = self.mark {
            if m.seq == seq && m.hash.as_slice() != hash {
                return Err(Bad {
                    seq,
                    reason: format!(
                        "record {seq} is not the record a write in the resource store was audited \
                         with (its hash differs from the store's mark): the log was rewritten or \
                         restarted from here"
                    ),
                });
            }
        }
        Ok(())
    }
}

fn read_page(conn: &mut dyn Conn, after: i64) -> Result<Vec<Stored>, StoreError> {
    let mut out = Vec::with_capacity(PAGE as usize);
    conn.query(
        "SELECT seq, at, action, outcome, user_id, org, record, prev, hash FROM audit \
         WHERE seq > ? ORDER BY seq LIMIT ?",
        &[after.into(), PAGE.into()],
        &mut |r| {
            out.push(Stored {
                seq: r.int(0)?.unwrap_or_default(),
                at: r.int(1)?.unwrap_or_default(),
                action: r.text(2)?.unwrap_or_default(),
                outcome: r.text(3)?.unwrap_or_default(),
                user: r.text(4)?,
                org: r.text(5)?,
                record: r.text(6)?.unwrap_or_default(),
                prev: r.blob(7)?.unwrap_or_default(),
                hash: r.blob(8)?.unwrap_or_default(),
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// The `audit_patient` rows, within the page's seq range, of every patient the page's records
/// name, by seq (sorted). Uses the (patient, seq) key: one range probe per patient. A row for a
/// patient no record of the page names is caught by the final count instead.
fn patient_rows(
    conn: &mut dyn Conn,
    page: &[Stored],
    parsed: &[Result<Indexed, String>],
) -> Result<HashMap<i64, Vec<String>>, StoreError> {
    let mut names: Vec<&str> =
        parsed.iter().flatten().flat_map(|ix| ix.patients.iter().map(String::as_str)).collect();
    names.sort_unstable();
    names.dedup();
    let (lo, hi) = (page.first().map_or(0, |s| s.seq), page.last().map_or(0, |s| s.seq));
    let sql = format!(
        "SELECT patient, seq FROM audit_patient WHERE patient IN ({}) AND seq >= ? AND seq <= ?",
        vec!["?"; IN_LIST].join(",")
    );
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in names.chunks(IN_LIST) {
        let mut params: Vec<SqlValue> = chunk.iter().map(|p| (*p).into()).collect();
        params.resize(IN_LIST, chunk[chunk.len() - 1].into());
        params.extend([lo.into(), hi.into()]);
        conn.query(&sql, &params, &mut |r| {
            out.entry(r.int(1)?.unwrap_or_default()).or_default().push(r.text(0)?.unwrap_or_default());
            Ok(())
        })?;
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    Ok(out)
}

/// The count of `audit_patient` rows differs from what the records account for: finds the
/// lowest-numbered record with a row it does not name (walking the table in key order, a page
/// at a time; only run when something is wrong).
fn extra_patient_rows(conn: &mut dyn Conn) -> Result<Option<Bad>, StoreError> {
    let mut worst: Option<Bad> = None;
    let (mut after_p, mut after_s) = (String::new(), i64::MIN);
    loop {
        let mut rows: Vec<(String, i64)> = Vec::new();
        conn.query(
            "SELECT patient, seq FROM audit_patient WHERE (patient, seq) > (?, ?) \
             ORDER BY patient, seq LIMIT 1000",
            &[after_p.clone().into(), after_s.into()],
            &mut |r| {
                rows.push((r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default()));
                Ok(())
            },
        )?;
        let Some((p, s)) = rows.last().cloned() else { break };
        (after_p, after_s) = (p, s);
        let mut seqs: Vec<i64> = rows.iter().map(|r| r.1).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let records = records_by_seq(conn, &seqs)?;
        for (patient, seq) in rows {
            if worst.as_ref().is_some_and(|b| b.seq <= seq) {
                continue;
            }
            let reason = match records.get(&seq) {
                None => format!("the patient index names record {seq}, which does not exist"),
                Some(names) if !names.contains(&patient) => format!(
                    "record {seq}'s patient index has a row its record does not name: audit_patient rows \
                     were added"
                ),
                Some(_) => continue,
            };
            worst = Some(Bad { seq, reason });
        }
    }
    Ok(worst.or_else(|| {
        // The counts differ yet every row is accounted for: only possible if rows vanished
        // between the reads, which the snapshot rules out; say so rather than pass.
        Some(Bad { seq: 0, reason: "the patient index row count does not match the records".into() })
    }))
}

/// The patients each record names, for the given seqs.
fn records_by_seq(conn: &mut dyn Conn, seqs: &[i64]) -> Result<HashMap<i64, Vec<String>>, StoreError> {
    let sql = format!("SELECT seq, record FROM audit WHERE seq IN ({})", vec!["?"; IN_LIST].join(","));
    let mut out = HashMap::new();
    for chunk in seqs.chunks(IN_LIST) {
        let mut params: Vec<SqlValue> = chunk.iter().map(|s| (*s).into()).collect();
        params.resize(IN_LIST, chunk[chunk.len() - 1].into());
        conn.query(&sql, &params, &mut |r| {
            let seq = r.int(0)?.unwrap_or_default();
            let names = serde_json::from_str::<Indexed>(&r.text(1)?.unwrap_or_default())
                .map(|ix| ix.patients)
                .unwrap_or_default();
            out.insert(seq, names);
            Ok(())
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_trip() {
        let a = Anchor { seq: 12, hash: [0xab; 32] };
        let text = a.to_string();
        assert_eq!(text, format!("12:{}", "ab".repeat(32)));
        assert_eq!(text.parse::<Anchor>().unwrap(), a);
        assert!("12".parse::<Anchor>().is_err());
        assert!("x:ab".parse::<Anchor>().is_err());
        assert!("3:abcd".parse::<Anchor>().is_err());
    }
}
