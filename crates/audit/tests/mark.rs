//! Where the log lives and what ties it to the writes it records: the resource store's mark
//! (`audit_mark`, the newest record an audited write committed with) on both backends, and on
//! SQLite the log's own file and the order in which a group commit reaches the two files.
mod common;

use common::{entry, exec, hash_of, seed, seqs};
use lantern_audit::{Audit, VerifyReport};
use lantern_service::Fhir;
use lantern_store::Store;
use lantern_testkit::backend_tests;

async fn verify(audit: &Audit) -> VerifyReport {
    audit.verify(None).await.unwrap()
}

fn assert_bad(r: &VerifyReport, seq: i64, words: &str) {
    let bad = r.first_bad.as_ref().unwrap_or_else(|| panic!("not detected: {}", r.summary()));
    assert_eq!(bad.seq, seq, "{}", bad.reason);
    assert!(bad.reason.contains(words), "'{}' does not say '{words}'", bad.reason);
}

/// Appends `entry(i)` as the record of a write (marked), in a job of its own.
async fn audited_write(store: &Store, i: usize) -> i64 {
    store.write(move |tx| lantern_audit::append(tx, &[entry(i)])).await.unwrap()[0]
}

async fn mark(store: &Store) -> Option<(i64, Vec<u8>)> {
    store
        .with_reader(|c, _| {
            let mut out = None;
            c.query("SELECT seq, hash FROM audit_mark WHERE id = 1", &[], &mut |r| {
                out = Some((r.int(0)?.unwrap_or_default(), r.blob(1)?.unwrap_or_default()));
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap()
}

/// Records of accesses leave the mark alone; a write's record moves it.
async fn writes_move_the_mark_and_reads_do_not(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 3).await;
    assert_eq!(mark(&fhir.store).await, None);
    assert_eq!(audited_write(&fhir.store, 4).await, 4);
    seed_from(&audit, 5, 6).await;
    assert_eq!(mark(&fhir.store).await, Some((4, hash_of(&fhir.store, 4).await)));
    let r = verify(&audit).await;
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, 6);
}

async fn seed_from(audit: &Audit, from: usize, to: usize) {
    for i in from..=to {
        assert_eq!(audit.record_one(entry(i)).await.unwrap(), i as i64);
    }
}

/// The newest records removed and the head moved back: invisible to the chain alone (see
/// chain.rs), but a write audited in a removed record is caught by the mark, with no anchor.
async fn log_that_lost_an_audited_write_is_caught(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 5).await;
    audited_write(&fhir.store, 6).await;
    seed_from(&audit, 7, 8).await;
    let h4 = hash_of(&fhir.store, 4).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("DELETE FROM {table} WHERE seq > 4"), vec![]).await;
    }
    exec(&fhir.store, "UPDATE audit_head SET seq = 4, hash = ? WHERE id = 1", vec![h4.into()]).await;
    assert_bad(
        &verify(&audit).await,
        5,
        "records 5 to 6 are missing: a write in the resource store was audited as record 6",
    );
}

/// A log cut back and then appended to again (as after restoring an older copy of the audit
/// file) has a different record where the mark points.
async fn log_restarted_under_the_mark_is_caught(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 3).await;
    audited_write(&fhir.store, 4).await;
    let h3 = hash_of(&fhir.store, 3).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("DELETE FROM {table} WHERE seq > 3"), vec![]).await;
    }
    exec(&fhir.store, "UPDATE audit_head SET seq = 3, hash = ? WHERE id = 1", vec![h3.into()]).await;
    // A different record 4 (another entry, so another hash) in the mark's place.
    assert_eq!(audit.record_one(entry(44)).await.unwrap(), 4);
    assert_bad(&verify(&audit).await, 4, "record 4 is not the record a write in the resource store");
}

/// An emptied log (a lost audit file) is not restarted at record 1 while the resources say
/// writes were audited.
async fn emptied_log_fails_closed(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    audited_write(&fhir.store, 1).await;
    seed_from(&audit, 2, 3).await;
    for table in ["audit", "audit_patient", "audit_head"] {
        exec(&fhir.store, &format!("DELETE FROM {table}"), vec![]).await;
    }
    assert_bad(&verify(&audit).await, 1, "record 1 is missing: a write in the resource store");
    let err = audit.record_one(entry(9)).await.unwrap_err();
    assert!(err.to_string().contains("audited writes were recorded up to record 1"), "{err}");
    assert!(seqs(&fhir.store).await.is_empty());
}

/// A write job that fails rolls its record and the mark back together.
async fn mark_rolls_back_with_its_job(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    audited_write(&fhir.store, 1).await;
    let r: Result<(), _> = fhir
        .store
        .write(|tx| {
            lantern_audit::append(tx, &[entry(2)])?;
            Err(lantern_store::StoreError::Conflict("later step failed".into()))
        })
        .await;
    assert!(r.is_err());
    assert_eq!(mark(&fhir.store).await.map(|m| m.0), Some(1));
    assert!(verify(&audit).await.is_intact());
}

backend_tests!(
    writes_move_the_mark_and_reads_do_not,
    log_that_lost_an_audited_write_is_caught,
    log_restarted_under_the_mark_is_caught,
    emptied_log_fails_closed,
    mark_rolls_back_with_its_job,
);

/// SQLite: the log is in `audit.db`, the resources' file holds no audit table, and recording
/// accesses does not change the resources' file at all (so readers keep their caches).
#[tokio::test]
async fn sqlite_log_has_its_own_file() {
    let t = lantern_testkit::sqlite();
    let store = t.fhir.store.clone();
    let audit = Audit::new(store.clone());
    audited_write(&store, 1).await;
    let tables = |schema: &'static str| {
        let store = store.clone();
        async move {
            store
                .with_reader(move |c, _| {
                    let mut out = Vec::new();
                    c.query(
                        &format!(
                            "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' \
                             AND name LIKE 'audit%' ORDER BY name"
                        ),
                        &[],
                        &mut |r| {
                            out.push(r.text(0)?.unwrap_or_default());
                            Ok(())
                        },
                    )?;
                    Ok(out)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(tables("main").await, vec!["audit_mark"]);
    assert_eq!(tables("audit_log").await, vec!["audit", "audit_head", "audit_patient"]);
    let main_file = store
        .with_reader(|c, _| {
            let mut out = String::new();
            c.query("PRAGMA database_list", &[], &mut |r| {
                if r.text(1)?.as_deref() == Some("main") {
                    out = r.text(2)?.unwrap_or_default();
                }
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap();
    assert!(main_file.ends_with("lantern.db"), "{main_file}");
    // Reads' records reach only the audit file: the resource file's WAL does not change.
    let wal =
        |name: &str| std::fs::read(std::path::Path::new(&main_file).with_file_name(name)).unwrap_or_default();
    let before = wal("lantern.db-wal");
    seed_from(&audit, 2, 40).await;
    assert_eq!(wal("lantern.db-wal"), before, "an access record changed the resource file");
    assert!(!wal("audit.db-wal").is_empty());
    assert!(verify(&audit).await.is_intact());
}

/// SQLite: the writer's connection has the audit file as `main`, which is what makes a group
/// commit write the log before the resources (SQLite commits attached files in order).
#[tokio::test]
async fn sqlite_writer_commits_the_log_first() {
    let t = lantern_testkit::sqlite();
    let files = t
        .fhir
        .store
        .write(|tx| {
            let mut out = Vec::new();
            tx.conn().query("PRAGMA database_list", &[], &mut |r| {
                out.push((r.text(1)?.unwrap_or_default(), r.text(2)?.unwrap_or_default()));
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap();
    assert_eq!(files[0].0, "main");
    assert!(files[0].1.ends_with("audit.db"), "{files:?}");
    assert!(files.iter().any(|(_, f)| f.ends_with("lantern.db")), "{files:?}");
}
