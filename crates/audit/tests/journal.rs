//! The audit journal on a SQLite store (`lantern_audit::journal`): one chain through reads and
//! audited writes, what a crash leaves and how start-up recovers it, tampering with the file,
//! rotation, and one process at a time.
mod common;

use common::{entry, seqs};
use lantern_audit::journal::{install, JOURNAL_FILE};
use lantern_audit::{Audit, VerifyReport};
use lantern_store::{Backend, Store, StoreError, SystemClock};
use lantern_store_sqlite::SqliteBackend;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn open(dir: &Path) -> Store {
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(dir).unwrap());
    Store::open(backend, Arc::new(SystemClock)).unwrap()
}

fn journal(dir: &Path) -> PathBuf {
    dir.join(JOURNAL_FILE)
}

/// Opens the store and installs its journal, waiting for a previous store on `dir` (whose
/// writer thread lets go of the lock once the last handle is dropped) to be gone.
async fn open_with_journal(dir: &Path) -> Result<Store, StoreError> {
    for _ in 0..200 {
        let store = open(dir);
        match install(&store, &journal(dir)) {
            Err(StoreError::Unavailable(m)) if m.contains("another Lantern process") => {
                drop(store);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            r => return r.map(|_| store),
        }
    }
    panic!("the previous store never let go of the journal");
}

/// Verifies as `lantern audit verify` does: a connection of its own, the tables and the
/// journal, without folding anything first.
async fn verify_offline(store: &Store, dir: &Path) -> VerifyReport {
    let path = journal(dir);
    store.with_reader(move |c, _| lantern_audit::verify(c, None, Some(&path))).await.unwrap()
}

/// A store in a fresh directory with its journal, and records 1..=n read through it.
async fn fresh(n: usize) -> (tempfile::TempDir, Store, Audit) {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_with_journal(tmp.path()).await.unwrap();
    let audit = Audit::new(store.clone());
    common::seed(&audit, n).await;
    (tmp, store, audit)
}

/// The log verifies intact (after folding) with `records` records.
async fn assert_intact(audit: &Audit, records: u64) {
    let r = audit.verify(None).await.unwrap();
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, records);
}

async fn audited_write(store: &Store, i: usize) -> i64 {
    store.write(move |tx| lantern_audit::append(tx, &[entry(i)])).await.unwrap()[0]
}

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(journal(dir)).unwrap().lines().map(str::to_string).collect()
}

#[tokio::test]
async fn reads_and_audited_writes_share_one_chain() {
    let (tmp, store, audit) = fresh(0).await;
    let mut want = Vec::new();
    for i in 1..=30 {
        let seq = if i % 7 == 0 {
            audited_write(&store, i).await
        } else {
            audit.record_one(entry(i)).await.unwrap()
        };
        want.push(seq);
    }
    assert_eq!(want, (1..=30).collect::<Vec<i64>>());
    // Nothing is folded yet: the tables are empty and the journal holds the chain, which
    // verifies as the tables' continuation, the mark included.
    assert!(seqs(&store).await.is_empty());
    assert_eq!(lines(tmp.path()).len(), 30);
    let r = verify_offline(&store, tmp.path()).await;
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, 30);
    // A read of the log folds first: every record is in the tables and found by patient.
    let looks = audit.who_looked(vec!["p9".into()], None, 100).await.unwrap();
    assert_eq!(looks.items.len(), 6);
    assert_eq!(seqs(&store).await, want);
    assert_intact(&audit, 30).await;
}

#[tokio::test]
async fn a_write_that_rolls_back_keeps_its_record_and_the_chain() {
    let (_tmp, store, audit) = fresh(1).await;
    let failed = store
        .write(|tx| {
            lantern_audit::append(tx, &[entry(2)])?;
            Err::<(), _>(StoreError::Database("the write failed after auditing".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(audit.record_one(entry(3)).await.unwrap(), 3);
    assert_intact(&audit, 3).await;
    assert_eq!(seqs(&store).await, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_crash_leaves_the_records_in_the_journal_and_start_up_folds_them() {
    let (tmp, store, audit) = fresh(20).await;
    audit.flush().await.unwrap();
    for i in 21..=25 {
        audit.record_one(entry(i)).await.unwrap();
    }
    audited_write(&store, 26).await;
    // The process dies: nothing more is folded. A write cut short leaves half a line.
    drop((audit, store));
    let mut f = std::fs::OpenOptions::new().append(true).open(journal(tmp.path())).unwrap();
    std::io::Write::write_all(&mut f, b"27\t00ab").unwrap();
    drop(f);

    let store = open_with_journal(tmp.path()).await.unwrap();
    assert_eq!(seqs(&store).await, (1..=26).collect::<Vec<i64>>());
    assert_eq!(std::fs::metadata(journal(tmp.path())).unwrap().len(), 0, "start-up empties the journal");
    let audit = Audit::new(store.clone());
    assert_eq!(audit.record_one(entry(27)).await.unwrap(), 27);
    assert_intact(&audit, 27).await;
}

#[tokio::test]
async fn a_tampered_journal_is_named_by_verify_and_refuses_the_start() {
    let (tmp, store, audit) = fresh(5).await;
    drop((audit, store));
    // Record 3 says another user looked.
    let text = std::fs::read_to_string(journal(tmp.path())).unwrap();
    let altered: Vec<String> = text
        .lines()
        .map(|l| if l.starts_with("3\t") { l.replace("\"u1\"", "\"u0\"") } else { l.to_string() })
        .collect();
    assert_ne!(altered.join("\n") + "\n", text);
    std::fs::write(journal(tmp.path()), altered.join("\n") + "\n").unwrap();

    let err = match open_with_journal(tmp.path()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a tampered journal was accepted"),
    };
    assert!(err.contains("record 3 was altered"), "{err}");
    let store = open(tmp.path());
    let r = verify_offline(&store, tmp.path()).await;
    let bad = r.first_bad.expect("not detected");
    assert_eq!(bad.seq, 3, "{}", bad.reason);
    assert!(bad.reason.contains("altered in the audit journal"), "{}", bad.reason);
    assert_eq!(r.records, 2);
}

#[tokio::test]
async fn a_removed_journal_line_is_a_gap() {
    let (tmp, store, _audit) = fresh(4).await;
    let kept: Vec<String> = lines(tmp.path()).into_iter().filter(|l| !l.starts_with("2\t")).collect();
    std::fs::write(journal(tmp.path()), kept.join("\n") + "\n").unwrap();
    let r = verify_offline(&store, tmp.path()).await;
    let bad = r.first_bad.expect("not detected");
    assert_eq!(bad.seq, 2, "{}", bad.reason);
    assert!(bad.reason.contains("record 2 is missing"), "{}", bad.reason);
}

#[tokio::test]
async fn folds_and_rotation_keep_the_journal_short_and_lose_nothing() {
    let (tmp, store, audit) = fresh(0).await;
    // ~1.3 KB a line: ~21 MB written in all, so the journal must be rotated twice or more.
    let n = 16_000usize;
    let query = "code=".to_string() + &"x".repeat(1000);
    let mut longest = 0;
    for chunk in (1..=n).collect::<Vec<_>>().chunks(100) {
        audit.record(chunk.iter().map(|i| entry(*i).with_query(query.clone())).collect()).await.unwrap();
        longest = longest.max(std::fs::metadata(journal(tmp.path())).unwrap().len());
    }
    assert!(audit.commits() >= 5, "records were folded as they came ({} folds)", audit.commits());
    let rotate = lantern_audit::journal::ROTATE_AT;
    assert!(longest < rotate + (4 << 20), "the journal grew to {longest} bytes: it was not rotated");
    assert_intact(&audit, n as u64).await;
    assert_eq!(seqs(&store).await.len(), n);
}

/// Audited writes alone, with no read recorded to start a fold, keep the journal folded: a
/// server that only takes writes (a feed overnight, a bulk load) must never reach the cap.
/// (Found by `bench ingest` to ten million: at 65,536 write jobs every write was refused.)
#[tokio::test]
async fn audited_writes_alone_keep_the_journal_folded() {
    let (_tmp, store, audit) = fresh(0).await;
    let fold_at = lantern_audit::journal::FOLD_AT;
    let n = 3 * fold_at + 10;
    for i in 1..=n {
        audited_write(&store, i).await;
    }
    // A fold queued by the last writes runs before this job.
    store.write(|_| Ok(())).await.unwrap();
    let in_tables =
        store.with_reader(|c, _| c.query_int("SELECT COUNT(*) FROM audit", &[])).await.unwrap().unwrap_or(0)
            as usize;
    assert!(in_tables + fold_at >= n, "only {in_tables} of {n} records were folded without a read");
    assert!(audit.commits() >= 2, "the writes' own folds ({})", audit.commits());
    assert_intact(&audit, n as u64).await;
}

#[tokio::test]
async fn a_second_process_cannot_take_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let first = open_with_journal(tmp.path()).await.unwrap();
    let second = open(tmp.path());
    let err = install(&second, &journal(tmp.path())).unwrap_err().to_string();
    assert!(err.contains("another Lantern process holds the audit journal"), "{err}");
    // Installing twice on one store is harmless.
    install(&first, &journal(tmp.path())).unwrap();
    Audit::new(first.clone()).record_one(entry(1)).await.unwrap();
    Audit::new(first.clone()).flush().await.unwrap();

    // Opened to read beside the holder: reads work, records and audited writes are refused.
    let third = open(tmp.path());
    assert!(!lantern_audit::journal::install_or_read_only(&third, &journal(tmp.path())).unwrap());
    let audit = Audit::new(third.clone());
    let refused = audit.record_one(entry(2)).await.unwrap_err().to_string();
    assert!(refused.contains("another Lantern process holds the audit journal"), "{refused}");
    let write = third.write(|tx| lantern_audit::append(tx, &[entry(3)])).await.unwrap_err().to_string();
    assert!(write.contains("another Lantern process holds the audit journal"), "{write}");
    assert_eq!(seqs(&third).await, vec![1]);
    assert_eq!(Audit::new(first).record_one(entry(2)).await.unwrap(), 2);
}

#[tokio::test]
async fn records_that_cannot_be_folded_stop_the_log_before_memory_runs_out() {
    let (_tmp, store, audit) = fresh(1).await;
    audit.flush().await.unwrap();
    // Someone moves the tables' head: no fold can follow it any more.
    common::exec(&store, "UPDATE audit_head SET seq = 99 WHERE id = 1", vec![]).await;
    audit.record_one(entry(2)).await.unwrap();
    let err = audit.flush().await.unwrap_err().to_string();
    assert!(err.contains("refusing to fold"), "{err}");
    // Reads are held back to the folds' pace, so the failing fold soon fails them, with its
    // reason.
    let mut recorded = 2;
    let refused = loop {
        match audit.record((0..1000).map(entry).collect()).await {
            Ok(_) => recorded += 1000,
            Err(e) => break e.to_string(),
        }
        assert!(recorded <= 2 * lantern_audit::journal::BACKLOG, "reads went on past the backlog");
    };
    assert!(refused.contains("refusing to fold"), "{refused}");
    // Write jobs cannot wait for a fold: the cap stops them.
    let cap = lantern_audit::journal::MAX_UNFOLDED;
    let refused = loop {
        let batch: Vec<_> = (0..1000).map(entry).collect();
        match store.write(move |tx| lantern_audit::append(tx, &batch)).await {
            Ok(_) => recorded += 1000,
            Err(e) => break e.to_string(),
        }
        assert!(recorded <= cap + 2000, "the journal kept accepting records it could not fold");
    };
    assert!(refused.contains("could not be folded"), "{refused}");
    assert!(recorded >= cap - 1000, "refused too early, after {recorded}");
}

/// The patient rows of every record `seqs` names (what `audit_patient` must hold for them).
fn pairs_of(seqs: std::ops::RangeInclusive<usize>) -> i64 {
    seqs.map(|i| if i.is_multiple_of(5) { 2 } else { 1 }).sum()
}

async fn count(store: &Store, sql: &str) -> i64 {
    let sql = sql.to_string();
    store.with_reader(move |c, _| c.query_int(&sql, &[])).await.unwrap().unwrap_or(0)
}

/// Folds queued so far have run.
async fn settle(store: &Store) {
    for _ in 0..3 {
        store.write(|_| Ok(())).await.unwrap();
    }
}

/// The patient index is written in batches, not with every fold of records; until then the
/// log still verifies, `audit list` beside the server still finds the records, and a restart
/// writes the rows the previous run left unwritten.
#[tokio::test]
async fn the_patient_index_is_written_in_batches_and_rebuilt_at_start_up() {
    let (tmp, store, audit) = fresh(0).await;
    let n = 3 * lantern_audit::journal::FOLD_AT;
    common::seed(&audit, n).await;
    settle(&store).await;
    assert!(count(&store, "SELECT COUNT(*) FROM audit").await >= 512, "records were folded");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_patient").await, 0, "their index rows wait");
    let r = verify_offline(&store, tmp.path()).await;
    assert!(r.is_intact(), "{}", r.summary());
    let q = lantern_audit::Query { patients: vec!["Patient/p1".into()], count: 1000, ..Default::default() };
    let path = journal(tmp.path());
    let found = store
        .with_reader(move |c, _| lantern_audit::list_with_journal(c, &q, Some(&path)))
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(found, (1..=n).filter(|i| i % 3 == 1).count(), "list beside the server");

    // The process dies before the rows are written: start-up writes them.
    drop((audit, store));
    let store = open_with_journal(tmp.path()).await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_patient").await, pairs_of(1..=n));
    let audit = Audit::new(store.clone());
    assert_intact(&audit, n as u64).await;

    // Enough waiting rows are written without a read of the log.
    let more = lantern_audit::journal::INDEX_AT + 2 * lantern_audit::journal::FOLD_AT;
    for chunk in (n + 1..=n + more).collect::<Vec<_>>().chunks(100) {
        audit.record(chunk.iter().map(|i| entry(*i)).collect()).await.unwrap();
    }
    settle(&store).await;
    let rows = count(&store, "SELECT COUNT(*) FROM audit_patient").await;
    assert!(rows >= pairs_of(1..=n) + lantern_audit::journal::INDEX_AT as i64, "{rows} index rows");
    // A read of the log writes the rest first.
    assert_eq!(audit.who_looked(vec!["p2".into()], None, 5).await.unwrap().items.len(), 5);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_patient").await, pairs_of(1..=n + more));
}

/// Removing the newest index rows cannot hide records from "who looked": the journal stops
/// (failing closed) instead of writing past the gap, and a restart writes them again.
#[tokio::test]
async fn removed_newest_index_rows_stop_the_fold_and_are_rebuilt() {
    let (tmp, store, audit) = fresh(40).await;
    audit.flush().await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_patient").await, pairs_of(1..=40));
    common::exec(&store, "DELETE FROM audit_patient WHERE seq > 30", vec![]).await;
    audit.record_one(entry(41)).await.unwrap();
    let err = audit.flush().await.unwrap_err().to_string();
    assert!(err.contains("patient index ends at record 30"), "{err}");
    drop((audit, store));

    let store = open_with_journal(tmp.path()).await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_patient").await, pairs_of(1..=41));
    assert_intact(&Audit::new(store), 41).await;
}

/// The newest row of the patient index is found through its `seq` index, not by reading every
/// row: the journal asks at each write of index rows, and a scan made every one of those
/// slower as the log grew.
#[tokio::test]
async fn the_index_end_is_found_without_a_scan() {
    let (_tmp, store, _audit) = fresh(3).await;
    let plan = index_end_plan(&store).await;
    assert!(plan.contains("audit_patient_seq") && !plan.contains("SCAN"), "{plan}");
}

/// A log made before that index existed (schema version 8) gets it at its next start.
#[tokio::test]
async fn an_older_log_gets_the_index_at_start_up() {
    let (tmp, store, audit) = fresh(20).await;
    audit.flush().await.unwrap();
    common::exec(&store, "DROP INDEX audit_patient_seq", vec![]).await;
    // Migration 10 made nothing on SQLite (its counter came with 7); 11 made the index state.
    common::exec(&store, "DROP TABLE index_state", vec![]).await;
    // 12 made the notifier's tables.
    common::exec(&store, "DROP TABLE subscription_owner", vec![]).await;
    common::exec(&store, "DROP TABLE notify_cursor", vec![]).await;
    // 13 made the Subscriptions' own places.
    common::exec(&store, "DROP TABLE notify_sub", vec![]).await;
    common::exec(&store, "DELETE FROM schema_version WHERE version >= 9", vec![]).await;
    let indexes = "SELECT COUNT(*) FROM audit_log.sqlite_master WHERE name = 'audit_patient_seq'";
    assert_eq!(count(&store, indexes).await, 0, "the index is gone");
    drop((audit, store));
    let store = open_with_journal(tmp.path()).await.unwrap();
    assert_eq!(count(&store, indexes).await, 1);
    let plan = index_end_plan(&store).await;
    assert!(plan.contains("audit_patient_seq") && !plan.contains("SCAN"), "{plan}");
    let version = "SELECT MAX(version) FROM schema_version";
    assert_eq!(count(&store, version).await, lantern_store::schema::latest());
    assert_intact(&Audit::new(store), 20).await;
}

/// How SQLite would find the newest row of the patient index.
async fn index_end_plan(store: &Store) -> String {
    store
        .with_reader(|c, _| {
            let mut detail = String::new();
            c.query("EXPLAIN QUERY PLAN SELECT MAX(seq) FROM audit_patient", &[], &mut |r| {
                detail.push_str(&r.text(3)?.unwrap_or_default());
                detail.push('\n');
                Ok(())
            })?;
            Ok(detail)
        })
        .await
        .unwrap()
}
