//! The audit journal: the chain written to a plain append-only file first, and folded into the
//! indexed tables (`audit`, `audit_patient`, `audit_head`) in large batches later. Installed on
//! embedded (SQLite) stores by [`install`]; PostgreSQL keeps appending to the tables directly,
//! because several API nodes may share one database and a file is local to one of them.
//!
//! # Why
//!
//! Every read is audited and its record must be durable before the data leaves. Committing each
//! small batch of records to the tables cost the writer ~24 µs of CPU per record at 16 clients
//! (the B-tree pages of four tables, their WAL frames, the checkpoint that copies them back),
//! and every reader waited for its turn on the one writer thread. A line appended here costs
//! one `write` on the caller's own thread; the tables are brought up to date by one write job
//! per [`FOLD_AT`] records, where the per-commit costs are shared by hundreds of records.
//!
//! # Durability
//!
//! `Journal::append` returns once the lines are written to the file (one `write` call per
//! batch). Like a SQLite commit with `synchronous=NORMAL` (how Lantern runs SQLite), that
//! survives the process being killed at any moment, not a power cut before the OS flushes.
//!
//! # Format
//!
//! One record per line: `SEQ \t PREV \t HASH \t RECORD \n`, the hashes in hex and RECORD the
//! canonical JSON of [`crate::chain`] (compact serde_json: never a raw tab or newline). PREV is
//! repeated on every line so that the first line after a rotation still says what it follows.
//!
//! # One chain, one process
//!
//! While the journal is installed every append goes through its mutex, which numbers and links
//! the records: reads recorded by [`crate::Audit::record`] on any thread, and the records a write
//! job appends with [`crate::append`] (found through the store's extensions). A write job's
//! records reach the journal before its transaction commits, so a crash between the two leaves
//! a record of a write that did not happen, never a write without its record (the rule the
//! tables kept before). The tables are only an index of the journal: a fold inserts every
//! record beyond `audit_head`, after checking that the tables end where this journal left them
//! (failing closed if not: something else wrote to them).
//!
//! A second process appending to the same log would fork the chain, so [`install`] takes an
//! exclusive lock on `audit.journal.lock`. A command that only reads beside a running server
//! uses [`install_or_read_only`]: its store carries [`Elsewhere`] instead, and every audit
//! record or audited write through it fails with the reason.
//!
//! # Pace
//!
//! A line is written faster than it is folded, so an append (a recorded read or an audited
//! write job alike) queues a fold at [`FOLD_AT`] unfolded records, and [`crate::Audit::record`]
//! past [`BACKLOG`] waits for a fold before it returns:
//! memory stays bounded and a fold that fails fails the records with its reason.
//! [`MAX_UNFOLDED`] bounds what write jobs append (they cannot wait) when folds keep failing.
//!
//! # The patient index, in larger batches
//!
//! Each record names one or a few patients, and its `audit_patient (patient, seq)` row lands
//! in that patient's part of the index: a fold of 256 records dirtied a page per patient,
//! about half of the fold's writer time (measured in BENCHMARKS.md, trust section). So a fold
//! inserts the records every [`FOLD_AT`], but their patient rows only once [`INDEX_AT`] of
//! them wait (each patient's page then takes many rows at once), and before any read of the
//! log ([`crate::Audit::flush`]), so that "who looked" and the lists see every record.
//!
//! The rule that makes this safe to restart and to verify: the index is complete up to its own
//! newest row. A fold writes the waiting rows in one transaction, every record up to the one it
//! folds included, so every record up to `MAX(seq)` of `audit_patient` has its rows, and a
//! record beyond it has none yet. Start-up rebuilds the rows beyond from the records
//! themselves; `verify` checks the rows up to there; `lantern audit list` beside a running
//! server reads the records beyond it directly. A fold refuses to go on if the index no longer
//! ends where this journal left it (its newest rows were removed), failing closed as it does
//! for the tables' head.
//!
//! A record that names no patient has no row, so it cannot move the index's end: a long run of
//! such records with none naming a patient (a server doing nothing but logins, say) stays
//! beyond the end until a record with a patient is indexed, and start-up and `audit list`
//! beside a server read that run each time (about a microsecond or two per record). In a shared
//! care record nearly every record names a patient; an explicit watermark row would remove the
//! case if it ever matters.
//!
//! # Rotation and start-up
//!
//! After a fold commits, a journal larger than [`ROTATE_AT`] is rewritten holding only the
//! records still unfolded (written aside, then renamed over it). At start-up [`install`]
//! checks every line beyond the tables' head (numbered, linked and hashed as the chain
//! requires), drops an incomplete last line (a write cut short by a crash: never acknowledged),
//! folds the rest, and empties the file. A damaged line or a gap refuses the start: run
//! `lantern audit verify`, which reads the journal as well as the tables.
use crate::chain::{chain, insert_patients, insert_records, link_hash, lock_head, prepare, Head, Row};
use crate::entry::{Entry, Indexed};
use lantern_store::{Conn, Store, StoreError, WeakStore, WriteTx};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "audit.journal";

/// Unfolded records that start a fold. Large enough that the per-commit costs (head read and
/// update, commit) are shared by many records, small enough that a fold is a short write job:
/// every other write (an HL7 v2 message, say) waits behind it on the one writer thread.
pub const FOLD_AT: usize = 256;

/// Patient index rows waiting (their records folded) that make a fold write them as well
/// (see "The patient index" above). A few thousand: enough that each patient's page takes
/// many rows per write, few enough that the fold stays a short write job (~10 ms).
pub const INDEX_AT: usize = 4096;

/// Unfolded records past which [`crate::Audit::record`] waits for a fold before it returns:
/// records can be written faster than they are folded (a `write` against several B-tree
/// inserts), so a burst is held back to the folds' pace instead of piling up in memory. A fold
/// that fails then fails the record with its reason.
pub const BACKLOG: usize = 8 * FOLD_AT;

/// Most records kept unfolded, whoever appends them. A safety net for the records write jobs
/// append (which cannot wait for a fold inside their own transaction) while folds keep
/// failing: past this the journal refuses new records, so requests fail closed (503).
pub const MAX_UNFOLDED: usize = 65_536;

/// A journal larger than this is rewritten after a fold (~14,000 records of ~600 bytes).
pub const ROTATE_AT: u64 = 8 << 20;

pub struct Journal {
    path: PathBuf,
    /// Holds the exclusive lock (see [`install`]).
    _lock: File,
    state: Mutex<State>,
    /// A fold job is queued and has not finished.
    folding: AtomicBool,
    /// Folds committed (for `lantern bench trust`).
    folds: AtomicU64,
    /// Of those, the folds appends queued, and their writer time in all and at most, in
    /// microseconds from the job's start to its commit (for `lantern bench trust`).
    timed_folds: AtomicU64,
    fold_micros: AtomicU64,
    fold_micros_max: AtomicU64,
    /// The store, to queue folds on (weak: the store holds the journal).
    store: WeakStore,
}

struct State {
    file: File,
    len: u64,
    /// The newest record appended.
    head: Head,
    /// Records in the file not yet known to be in the tables, oldest first.
    unfolded: Vec<Arc<Row>>,
    /// Where the tables ended after the last fold this journal saw commit.
    tables: Head,
    /// The `audit_patient` rows (patient, seq) of records folded into the tables whose rows
    /// are not written yet, in seq order.
    unindexed: Vec<(String, i64)>,
    /// The newest seq in `audit_patient` after the last fold this journal saw commit.
    indexed: i64,
    /// Why appends stopped: a write to the file failed, perhaps part-way through a line, and
    /// nothing may follow a line that may be torn (fail closed until restart repairs it).
    broken: Option<String>,
}

/// Installs a journal at `path` on `store` (once; later calls do nothing): recovers what a
/// previous run left in it, folds that into the tables, and routes every later append through
/// it. Call before anything else writes to the store. Synchronous (it waits for one write
/// job), so that it can run where the store is opened.
///
/// One process at a time: the journal numbers records in memory, so a second process
/// appending to the same log would fork the chain. An exclusive lock on `PATH.lock`, held
/// for the journal's life (and dropped by the OS if the process dies), makes a second
/// process fail here with a clear error instead (see [`install_or_read_only`]).
pub fn install(store: &Store, path: &Path) -> Result<(), StoreError> {
    match install_or_read_only(store, path)? {
        true => Ok(()),
        false => Err(StoreError::Unavailable(held_elsewhere(path))),
    }
}

/// As [`install`], but if another process holds the journal (a server running on the same
/// data directory), marks `store` so that every audit append on it fails with a clear error
/// (an [`Elsewhere`] extension) and returns false: the caller may read (dead letters, the
/// audit log as far as it is folded) but not record or make audited writes.
pub fn install_or_read_only(store: &Store, path: &Path) -> Result<bool, StoreError> {
    if store.extension::<Journal>().is_some() {
        return Ok(true);
    }
    let lock_path = path.with_extension("journal.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io("cannot open", &lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            store.add_extension(Arc::new(Elsewhere(held_elsewhere(path))));
            return Ok(false);
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Database(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
    let p = path.to_path_buf();
    let weak = store.downgrade();
    let (tx, rx) = std::sync::mpsc::channel();
    store.write_detached(
        move |wtx| Journal::open(wtx, &p, lock, weak),
        move |r| {
            let _ = tx.send(r);
        },
    );
    let journal = rx.recv().map_err(|_| StoreError::Unavailable("the writer has stopped".into()))??;
    let journal = Arc::new(journal);
    journal.rewrite()?;
    store.add_extension(journal);
    Ok(true)
}

fn held_elsewhere(path: &Path) -> String {
    format!(
        "another Lantern process holds the audit journal {} (a server running on this data \
         directory?): stop it first, or use its HTTP API",
        path.display()
    )
}

/// Installed instead of a journal when another process holds it: audit appends fail with
/// this message, so nothing this process does can fork the chain.
pub struct Elsewhere(pub String);

/// The writer time of the folds appends queued, each from the job's start to its commit
/// (the time every other write waited behind it, at most).
#[derive(Debug, Clone, Copy)]
pub struct FoldTime {
    pub folds: u64,
    pub total: std::time::Duration,
    pub longest: std::time::Duration,
}

/// What [`Journal::append`] did.
pub(crate) struct Appended {
    pub seqs: Vec<i64>,
    pub head: Head,
    /// Records in the file not yet folded, these included.
    pub unfolded: usize,
}

/// A line of the file, as parsed.
pub(crate) struct Line {
    pub seq: i64,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    pub record: String,
}

/// The complete lines of `bytes` (an incomplete last line is left out; its length is the
/// second value) or, for the first line that does not parse, its number and what is wrong.
pub(crate) fn parse(bytes: &[u8]) -> (Vec<Result<Line, String>>, usize) {
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes[..complete].split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(parse_line).collect();
    (lines, bytes.len() - complete)
}

fn parse_line(line: &[u8]) -> Result<Line, String> {
    let text = std::str::from_utf8(line).map_err(|_| "it is not UTF-8".to_string())?;
    let mut parts = text.splitn(4, '\t');
    let mut next = |what: &str| parts.next().ok_or_else(|| format!("it has no {what}"));
    let seq = next("seq")?.parse::<i64>().map_err(|_| "its seq is not a number".to_string())?;
    let hex32 = |s: &str, what: &str| -> Result<[u8; 32], String> {
        hex::decode(s).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| format!("its {what} is not a hash"))
    };
    let prev = hex32(next("prev")?, "prev")?;
    let hash = hex32(next("hash")?, "hash")?;
    let record = next("record")?.to_string();
    Ok(Line { seq, prev, hash, record })
}

fn write_line(out: &mut String, r: &Row) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}\t", r.seq);
    for h in [&r.prev, &r.hash] {
        // Into a stack buffer: this runs on every request's thread, under the journal's lock.
        let mut buf = [0u8; 64];
        if hex::encode_to_slice(h, &mut buf).is_ok() {
            out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
        }
        out.push('\t');
    }
    out.push_str(&r.record);
    out.push('\n');
}

/// What a fold wrote: the tables' new end and, if it wrote the waiting patient index rows,
/// the index's new end.
pub(crate) struct Folded {
    upto: i64,
    indexed: Option<i64>,
}

/// The newest seq in `audit_patient` (0 if it is empty).
fn index_end(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn.query_int("SELECT MAX(seq) FROM audit_patient", &[])?.unwrap_or(0))
}

/// At start-up: writes the patient index rows of the records beyond the index's end (folded by
/// an earlier run that stopped before it wrote their rows), read from the records themselves.
/// Returns the index's new end.
fn index_rest(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    let end = index_end(conn)?;
    let mut pairs: Vec<(String, i64)> = Vec::new();
    conn.query("SELECT seq, record FROM audit WHERE seq > ? ORDER BY seq", &[end.into()], &mut |r| {
        let seq = r.int(0)?.unwrap_or_default();
        let ix: Indexed = serde_json::from_str(&r.text(1)?.unwrap_or_default()).map_err(|e| {
            StoreError::Database(format!(
                "audit record {seq} does not parse ({e}); refusing to start (run `lantern audit verify`)"
            ))
        })?;
        pairs.extend(Entry::patient_rows(&ix.patients).into_iter().map(|p| (p.to_string(), seq)));
        Ok(())
    })?;
    if !pairs.is_empty() {
        tracing::info!(
            rows = pairs.len(),
            "writing the audit patient index rows an earlier run left unwritten"
        );
    }
    pairs.sort_unstable();
    let refs: Vec<(&str, i64)> = pairs.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    insert_patients(conn, &refs)?;
    Ok(pairs.iter().map(|(_, s)| *s).max().unwrap_or(end))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Database(format!("audit journal {}: {what}: {e}", path.display()))
}

impl Journal {
    /// Opens the journal inside a write job and folds into the tables every record it holds
    /// beyond their head, checked link by link.
    fn open(tx: &mut WriteTx<'_>, path: &Path, lock: File, store: WeakStore) -> Result<Journal, StoreError> {
        let conn = tx.conn();
        let (seq, hash) = lock_head(conn)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| io("cannot open", path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("cannot read", path, e))?;
        let (lines, torn) = parse(&bytes);
        if torn > 0 {
            tracing::warn!(
                bytes = torn,
                "dropping an incomplete last line of the audit journal (a write cut short)"
            );
        }
        let refuse = |why: String| {
            StoreError::Database(format!(
                "the audit journal {} {why}; refusing to start (run `lantern audit verify`)",
                path.display()
            ))
        };
        let mut head = (seq, hash);
        let mut rows = Vec::new();
        for (n, line) in lines.into_iter().enumerate() {
            let line = line.map_err(|why| refuse(format!("line {} is damaged: {why}", n + 1)))?;
            if line.seq <= seq {
                if line.seq == seq && line.hash != hash {
                    return Err(refuse(format!(
                        "holds a record {seq} that is not the tables' record {seq}: one of them was altered"
                    )));
                }
                continue;
            }
            if line.seq != head.0 + 1 {
                return Err(refuse(format!(
                    "jumps from record {} to {}: the records between are missing",
                    head.0, line.seq
                )));
            }
            if line.prev != head.1 || link_hash(&line.prev, line.record.as_bytes()) != line.hash {
                return Err(refuse(format!("record {} was altered or does not follow {}", line.seq, head.0)));
            }
            let ix: Indexed = serde_json::from_str(&line.record)
                .map_err(|e| refuse(format!("record {} does not parse: {e}", line.seq)))?;
            head = (line.seq, line.hash);
            rows.push(Row {
                seq: line.seq,
                at: ix.at,
                action: ix.action,
                outcome: ix.outcome.result,
                user: ix.agent.user,
                org: ix.agent.org,
                patients: Entry::patient_rows(&ix.patients).into_iter().map(str::to_string).collect(),
                record: line.record,
                prev: line.prev,
                hash: line.hash,
            });
        }
        if !rows.is_empty() {
            tracing::info!(records = rows.len(), "folding audit records a previous run left in the journal");
        }
        insert_records(conn, &rows)?;
        let indexed = index_rest(conn)?;
        let state = State {
            file,
            len: bytes.len() as u64,
            head,
            unfolded: Vec::new(),
            tables: head,
            unindexed: Vec::new(),
            indexed,
            broken: None,
        };
        Ok(Journal {
            path: path.to_path_buf(),
            _lock: lock,
            state: Mutex::new(state),
            folding: AtomicBool::new(false),
            folds: AtomicU64::new(0),
            timed_folds: AtomicU64::new(0),
            fold_micros: AtomicU64::new(0),
            fold_micros_max: AtomicU64::new(0),
            store,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Links `entries` onto the chain and writes them to the file in one `write`; returns
    /// their seqs, the new head and how many records now wait to be folded, once written. An
    /// error means they were not recorded.
    pub(crate) fn append(&self, entries: &[Entry], now: i64) -> Result<Appended, StoreError> {
        let prepared = prepare(entries, now)?;
        let mut st = self.state();
        if let Some(why) = &st.broken {
            return Err(StoreError::Unavailable(format!("the audit journal cannot be written: {why}")));
        }
        if st.unfolded.len() >= MAX_UNFOLDED {
            return Err(StoreError::Unavailable(format!(
                "{} audit records could not be folded into the log's tables (see the server log); \
                 refusing to record more",
                st.unfolded.len()
            )));
        }
        let rows = chain(st.head, prepared);
        let Some(last) = rows.last() else {
            return Ok(Appended { seqs: Vec::new(), head: st.head, unfolded: st.unfolded.len() });
        };
        let head = (last.seq, last.hash);
        let mut text = String::with_capacity(rows.iter().map(|r| r.record.len() + 160).sum());
        for r in &rows {
            write_line(&mut text, r);
        }
        if let Err(e) = st.file.write_all(text.as_bytes()) {
            let e = io("cannot append", &self.path, e);
            st.broken = Some(e.to_string());
            return Err(e);
        }
        st.len += text.len() as u64;
        st.head = head;
        let seqs = rows.iter().map(|r| r.seq).collect();
        st.unfolded.extend(rows.into_iter().map(Arc::new));
        Ok(Appended { seqs, head, unfolded: st.unfolded.len() })
    }

    /// How many records wait to be folded.
    pub(crate) fn unfolded(&self) -> usize {
        self.state().unfolded.len()
    }

    /// Patient index rows waiting to be written.
    pub(crate) fn unindexed(&self) -> usize {
        self.state().unindexed.len()
    }

    /// Inside a write job: inserts into the tables every unfolded record beyond their head and,
    /// if `index` or [`INDEX_AT`] rows wait, the waiting patient index rows. Pass what it returns
    /// to [`Journal::folded`] once the job commits.
    pub(crate) fn fold(&self, tx: &mut WriteTx<'_>, index: bool) -> Result<Folded, StoreError> {
        let conn = tx.conn();
        let (seq, hash) = lock_head(conn)?;
        let (earlier, rows, waiting, indexed) = {
            let st = self.state();
            // The tables must end where this journal left them, or at a record of its own that
            // an earlier fold in this transaction inserted. Anything else means something else
            // wrote to them: folding on would hide that.
            let known =
                st.tables == (seq, hash) || st.unfolded.iter().any(|r| r.seq == seq && r.hash == hash);
            if !known {
                return Err(StoreError::Database(format!(
                    "the audit tables end at record {seq}, which is not where this journal left them \
                     (record {}); refusing to fold (run `lantern audit verify`)",
                    st.tables.0
                )));
            }
            // Records an earlier fold in this transaction inserted are still unfolded here.
            let (earlier, rows): (Vec<Arc<Row>>, Vec<Arc<Row>>) =
                st.unfolded.iter().cloned().partition(|r| r.seq <= seq);
            let new_pairs: usize = st.unfolded.iter().map(|r| r.patients.len()).sum();
            // Copied only when they are to be written (once per INDEX_AT rows).
            let waiting = (index || st.unindexed.len() + new_pairs >= INDEX_AT).then(|| st.unindexed.clone());
            (earlier, rows, waiting, st.indexed)
        };
        let upto = match rows.first() {
            None => seq,
            Some(first) if first.seq != seq + 1 || first.prev != hash => {
                return Err(StoreError::Database(format!(
                    "the audit tables end at record {seq} but the journal's next record is {} and does not \
                     follow it; refusing to fold (run `lantern audit verify`)",
                    first.seq
                )));
            }
            Some(_) => {
                insert_records(conn, &rows)?;
                rows.last().map_or(seq, |r| r.seq)
            }
        };
        let Some(waiting) = waiting else { return Ok(Folded { upto, indexed: None }) };
        let mut pairs: Vec<(&str, i64)> = waiting.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        pairs
            .extend(earlier.iter().chain(&rows).flat_map(|r| r.patients.iter().map(|p| (p.as_str(), r.seq))));
        // The index must end where this journal left it, or at a row an earlier fold in this
        // transaction wrote (whose rows are then among these, and are skipped).
        let end = index_end(conn)?;
        if end != indexed && !pairs.iter().any(|(_, s)| *s == end) {
            return Err(StoreError::Database(format!(
                "the audit patient index ends at record {end}, which is not where this journal left it \
                 (record {indexed}): its newest rows were removed or added; refusing to fold (run \
                 `lantern audit verify`)"
            )));
        }
        pairs.retain(|(_, s)| *s > end);
        // In key order, so that each patient's page is found once and filled in one go.
        pairs.sort_unstable();
        insert_patients(conn, &pairs)?;
        Ok(Folded { upto, indexed: Some(pairs.iter().map(|(_, s)| *s).max().unwrap_or(end)) })
    }

    /// After a fold committed: forgets the records it folded and the index rows it wrote (or
    /// keeps the records' index rows waiting) and, if the file has grown past [`ROTATE_AT`],
    /// rewrites it with only the records still unfolded.
    pub(crate) fn folded(&self, done: Folded) {
        self.folds.fetch_add(1, Ordering::Relaxed);
        let big = {
            let mut st = self.state();
            let n = st.unfolded.partition_point(|r| r.seq <= done.upto);
            if let Some(last) = st.unfolded[..n].last() {
                st.tables = (last.seq, last.hash);
            }
            let folded: Vec<Arc<Row>> = st.unfolded.drain(..n).collect();
            match done.indexed {
                Some(end) => {
                    st.unindexed.clear();
                    st.indexed = st.indexed.max(end);
                }
                None => {
                    let indexed = st.indexed;
                    st.unindexed.extend(
                        folded
                            .iter()
                            .filter(|r| r.seq > indexed)
                            .flat_map(|r| r.patients.iter().map(move |p| (p.clone(), r.seq))),
                    );
                }
            }
            st.len > ROTATE_AT
        };
        if big {
            if let Err(e) = self.rewrite() {
                // The old file still holds everything: nothing is lost, it only stays long.
                tracing::warn!(error = %e, "could not rotate the audit journal");
            }
        }
    }

    /// Rewrites the file with only the unfolded records: written aside, then renamed over it,
    /// under the lock so that no append falls between.
    fn rewrite(&self) -> Result<(), StoreError> {
        let mut st = self.state();
        let aside = self.path.with_extension("journal.new");
        let mut text = String::new();
        for r in &st.unfolded {
            write_line(&mut text, r);
        }
        std::fs::write(&aside, text.as_bytes()).map_err(|e| io("cannot write", &aside, e))?;
        std::fs::rename(&aside, &self.path).map_err(|e| io("cannot replace", &self.path, e))?;
        st.file =
            OpenOptions::new().append(true).open(&self.path).map_err(|e| io("cannot open", &self.path, e))?;
        st.len = text.len() as u64;
        Ok(())
    }

    /// Queues a fold as a write job of its own, unless one is queued already. Only sends a
    /// job, so it may be called from inside a write job: audited writes call it as well as
    /// recorded reads, or a server that only takes writes (a feed at night) would stop at
    /// [`MAX_UNFOLDED`] records.
    pub(crate) fn fold_soon(self: &Arc<Self>) {
        if self.folding.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(store) = self.store.upgrade() else {
            self.folding.store(false, Ordering::Release);
            return;
        };
        let (j, done) = (self.clone(), self.clone());
        store.write_detached(
            move |tx| {
                let started = std::time::Instant::now();
                j.fold(tx, false).map(|done| (done, started))
            },
            move |r| {
                match r {
                    Ok((folded, started)) => {
                        let micros = started.elapsed().as_micros() as u64;
                        done.timed_folds.fetch_add(1, Ordering::Relaxed);
                        done.fold_micros.fetch_add(micros, Ordering::Relaxed);
                        done.fold_micros_max.fetch_max(micros, Ordering::Relaxed);
                        done.folded(folded)
                    }
                    // The records stay in the journal and the next fold retries them.
                    Err(e) => tracing::error!(error = %e, "folding the audit journal failed"),
                }
                done.folding.store(false, Ordering::Release);
            },
        );
    }

    pub(crate) fn folds(&self) -> u64 {
        self.folds.load(Ordering::Relaxed)
    }

    /// The folds queued by appends so far: how many, and their writer time.
    pub(crate) fn fold_time(&self) -> FoldTime {
        let us = |a: &AtomicU64| std::time::Duration::from_micros(a.load(Ordering::Relaxed));
        FoldTime {
            folds: self.timed_folds.load(Ordering::Relaxed),
            total: us(&self.fold_micros),
            longest: us(&self.fold_micros_max),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(seq: i64, record: &str) -> Row {
        Row {
            seq,
            at: 1,
            action: "read".into(),
            outcome: "success".into(),
            user: None,
            org: None,
            record: record.into(),
            prev: [seq as u8; 32],
            hash: [seq as u8 + 1; 32],
            patients: Vec::new(),
        }
    }

    #[test]
    fn a_line_reads_back_as_written() {
        let mut text = String::new();
        write_line(&mut text, &row(7, r#"{"at":1,"query":"a\tb\nc"}"#));
        write_line(&mut text, &row(8, "{}"));
        text.push_str("9\tab");
        let (lines, torn) = parse(text.as_bytes());
        assert_eq!(torn, 4);
        let lines: Vec<Line> = lines.into_iter().map(Result::unwrap).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].seq, lines[0].prev, lines[0].hash), (7, [7; 32], [8; 32]));
        assert_eq!(lines[0].record, r#"{"at":1,"query":"a\tb\nc"}"#);
        assert_eq!(lines[1].record, "{}");
    }

    #[test]
    fn damaged_lines_are_named_not_trusted() {
        for (line, why) in [
            ("x\t00\t00\t{}\n", "seq is not a number"),
            ("1\tzz\t00\t{}\n", "prev is not a hash"),
            ("1\n", "no prev"),
            ("\u{FFFD}\n", "seq is not a number"),
        ] {
            let (lines, _) = parse(line.as_bytes());
            let err = lines.into_iter().next().unwrap().err().unwrap();
            assert!(err.contains(why), "{line:?}: {err}");
        }
        let (lines, _) = parse(&[0xff, 0xfe, b'\n']);
        assert!(lines[0].as_ref().err().unwrap().contains("not UTF-8"));
    }

    proptest! {
        /// Whatever a damaged or hostile file holds, reading it never panics, and every line it
        /// accepts reads back to the same text when written again.
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (lines, torn) = parse(&bytes);
            prop_assert!(torn <= bytes.len());
            for l in lines.into_iter().flatten() {
                let r = Row { prev: l.prev, hash: l.hash, ..row(l.seq, &l.record) };
                let mut text = String::new();
                write_line(&mut text, &r);
                let (again, _) = parse(text.as_bytes());
                let again = again.into_iter().next().unwrap().unwrap();
                prop_assert_eq!((again.seq, again.prev, again.hash), (l.seq, l.prev, l.hash));
                prop_assert_eq!(again.record, l.record);
            }
        }
    }
}
