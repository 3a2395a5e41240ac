//! The chain on both backends: concurrent appends stay gapless and verify, and every way of
//! tampering with the tables by direct SQL is found and the first bad record named.
mod common;

use common::{entry, exec, hash_of, seed, seqs};
use lantern_audit::chain::link_hash;
use lantern_audit::{Action, Agent, Anchor, Audit, Entry, VerifyReport};
use lantern_service::Fhir;
use lantern_testkit::backend_tests;

async fn verify(audit: &Audit) -> VerifyReport {
    audit.verify(None).await.unwrap()
}

/// Asserts the report names `seq` as the first bad record, with `words` in the reason.
fn assert_bad(r: &VerifyReport, seq: i64, words: &str) {
    let bad = r.first_bad.as_ref().unwrap_or_else(|| panic!("tampering not detected: {}", r.summary()));
    assert_eq!(bad.seq, seq, "{}", bad.reason);
    assert!(bad.reason.contains(words), "'{}' does not say '{words}'", bad.reason);
    assert!(!r.is_intact());
}

async fn empty_log_is_intact(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    let r = verify(&audit).await;
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, 0);
    assert!(r.last.is_none());
}

async fn concurrent_appends_are_gapless_and_verify(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    let mut tasks = Vec::new();
    for t in 0..8 {
        let audit = audit.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..20 {
                if i % 4 == 0 {
                    let batch: Vec<Entry> = (0..5).map(|k| entry(t * 1000 + i * 10 + k)).collect();
                    mine.extend(audit.record(batch).await.unwrap());
                } else {
                    mine.push(audit.record_one(entry(t * 1000 + i)).await.unwrap());
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let mine = t.await.unwrap();
        // A batch's records are consecutive.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        all.extend(mine);
    }
    all.sort_unstable();
    let n = 8 * (15 + 5 * 5) as i64;
    assert_eq!(all, (1..=n).collect::<Vec<_>>());
    assert_eq!(seqs(&fhir.store).await, all);
    let r = verify(&audit).await;
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, n as u64);
    let last = r.last.unwrap();
    assert_eq!(last.seq, n);
    assert_eq!(last.hash.to_vec(), hash_of(&fhir.store, n).await);
}

async fn at_is_stamped_and_kept(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    let before = fhir.store.now_micros();
    audit.record_one(entry(1)).await.unwrap();
    audit.record_one(entry(2).at(42)).await.unwrap();
    let page = audit.list(Default::default()).await.unwrap();
    assert_eq!(page.items[0].entry.at, 42);
    assert!(page.items[1].entry.at >= before);
}

async fn altered_record_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    let n = exec(
        &fhir.store,
        "UPDATE audit SET record = replace(record, '\"u1\"', '\"u9\"') WHERE seq = 7",
        vec![],
    )
    .await;
    assert_eq!(n, 1);
    assert_bad(&verify(&audit).await, 7, "record 7 was altered: its hash does not match its content");
}

async fn altered_and_rehashed_record_breaks_the_link(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    let forged = entry(7).at(1).canonical().unwrap();
    let prev = hash_of(&fhir.store, 6).await;
    let hash = link_hash(&prev, forged.as_bytes()).to_vec();
    exec(
        &fhir.store,
        "UPDATE audit SET record = ?, at = 1, hash = ? WHERE seq = 7",
        vec![forged.into(), hash.into()],
    )
    .await;
    assert_bad(&verify(&audit).await, 8, "record 8 does not follow record 7");
}

async fn altered_column_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    exec(&fhir.store, "UPDATE audit SET user_id = 'mallory' WHERE seq = 9", vec![]).await;
    assert_bad(&verify(&audit).await, 9, "its user_id column");
}

async fn removed_record_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    exec(&fhir.store, "DELETE FROM audit WHERE seq = 5", vec![]).await;
    assert_bad(&verify(&audit).await, 5, "record 5 is missing (the sequence jumps from 4 to 6)");
}

async fn removed_first_record_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 5).await;
    exec(&fhir.store, "DELETE FROM audit WHERE seq = 1", vec![]).await;
    assert_bad(&verify(&audit).await, 1, "the log starts at record 2");
}

/// Swaps two records' positions, with their patient rows, so only the chain can tell.
async fn reordered_records_are_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("UPDATE {table} SET seq = -1 WHERE seq = 5"), vec![]).await;
        exec(&fhir.store, &format!("UPDATE {table} SET seq = 5 WHERE seq = 6"), vec![]).await;
        exec(&fhir.store, &format!("UPDATE {table} SET seq = 6 WHERE seq = -1"), vec![]).await;
    }
    assert_bad(&verify(&audit).await, 5, "record 5 does not follow record 4");
}

/// A careful forger: a well-formed record with a correct hash linked to its predecessor,
/// everything after it renumbered, and the head moved on.
async fn inserted_record_is_found(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("UPDATE {table} SET seq = -seq WHERE seq >= 10"), vec![]).await;
        exec(&fhir.store, &format!("UPDATE {table} SET seq = 1 - seq WHERE seq < 0"), vec![]).await;
    }
    let forged = Entry::new(Action::Read, Agent::user("u0", Some("doctor".into()), Some("RVJ".into())))
        .at(1)
        .patient("p0");
    let text = forged.canonical().unwrap();
    let prev = hash_of(&fhir.store, 9).await;
    let hash = link_hash(&prev, text.as_bytes()).to_vec();
    exec(
        &fhir.store,
        "INSERT INTO audit (seq, at, action, outcome, user_id, org, record, prev, hash) \
         VALUES (10, 1, 'read', 'success', 'u0', 'RVJ', ?, ?, ?)",
        vec![text.into(), prev.into(), hash.into()],
    )
    .await;
    exec(&fhir.store, "INSERT INTO audit_patient (patient, seq) VALUES ('p0', 10)", vec![]).await;
    exec(&fhir.store, "UPDATE audit_head SET seq = 21 WHERE id = 1", vec![]).await;
    assert_bad(&verify(&audit).await, 11, "record 11 does not follow record 10");
}

async fn removed_patient_row_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    exec(&fhir.store, "DELETE FROM audit_patient WHERE seq = 10 AND patient = 'p9'", vec![]).await;
    assert_bad(
        &verify(&audit).await,
        10,
        "record 10's patient index does not match its record (1 row(s) missing",
    );
}

async fn added_patient_row_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    // p1 is named by other records of the page, not by record 8 (which is p2's).
    exec(&fhir.store, "INSERT INTO audit_patient (patient, seq) VALUES ('p1', 8)", vec![]).await;
    assert_bad(&verify(&audit).await, 8, "0 row(s) missing, 1 extra");
}

async fn added_patient_row_for_a_stranger_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    // No record names this patient: only the row count can tell, then the walk names it.
    exec(&fhir.store, "INSERT INTO audit_patient (patient, seq) VALUES ('stranger', 12)", vec![]).await;
    exec(&fhir.store, "INSERT INTO audit_patient (patient, seq) VALUES ('stranger', 14)", vec![]).await;
    assert_bad(&verify(&audit).await, 12, "record 12's patient index has a row its record does not name");
}

async fn truncated_tail_is_caught_by_the_head(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("DELETE FROM {table} WHERE seq > 17"), vec![]).await;
    }
    assert_bad(
        &verify(&audit).await,
        18,
        "records 18 to 20 are missing: the head names record 20 but the log ends at record 17",
    );
}

/// Truncating the tail and moving the head back is invisible to the chain alone; only an
/// anchor kept from an earlier run catches it.
async fn truncated_tail_with_head_moved_needs_an_anchor(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 20).await;
    let anchor = verify(&audit).await.last.unwrap();
    assert_eq!(anchor.seq, 20);
    let text = anchor.to_string();
    assert_eq!(text.parse::<Anchor>().unwrap(), anchor);
    let h17 = hash_of(&fhir.store, 17).await;
    for table in ["audit", "audit_patient"] {
        exec(&fhir.store, &format!("DELETE FROM {table} WHERE seq > 17"), vec![]).await;
    }
    exec(&fhir.store, "UPDATE audit_head SET seq = 17, hash = ? WHERE id = 1", vec![h17.into()]).await;
    let plain = verify(&audit).await;
    assert!(plain.is_intact(), "{}", plain.summary());
    assert_eq!(plain.records, 17);
    let anchored = audit.verify(Some(anchor.clone())).await.unwrap();
    assert_bad(&anchored, 18, "the expected head names record 20 but the log ends at record 17");
    // An anchor inside the log checks that record's hash.
    let wrong = Anchor { seq: 12, hash: [7; 32] };
    assert_bad(&audit.verify(Some(wrong)).await.unwrap(), 12, "does not match the expected head");
}

async fn record_beyond_the_head_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 5).await;
    exec(&fhir.store, "UPDATE audit_head SET seq = 4 WHERE id = 1", vec![]).await;
    assert_bad(&verify(&audit).await, 5, "record 5 is beyond the head");
}

async fn record_below_the_chain_is_named(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 3).await;
    exec(
        &fhir.store,
        "INSERT INTO audit (seq, at, action, outcome, user_id, org, record, prev, hash) \
         SELECT -4, at, action, outcome, user_id, org, record, prev, hash FROM audit WHERE seq = 2",
        vec![],
    )
    .await;
    assert_bad(&verify(&audit).await, -4, "record -4 is outside the chain");
}

async fn missing_head_fails_closed(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 3).await;
    exec(&fhir.store, "DELETE FROM audit_head", vec![]).await;
    assert_bad(&verify(&audit).await, 1, "the chain head row is missing");
    let err = audit.record_one(entry(4)).await.unwrap_err();
    assert!(err.to_string().contains("head row was missing"), "{err}");
    assert_eq!(seqs(&fhir.store).await, vec![1, 2, 3]);
    // Once the head is restored, recording goes on where the chain ends.
    let h3 = hash_of(&fhir.store, 3).await;
    exec(&fhir.store, "INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, ?)", vec![h3.into()]).await;
    assert_eq!(audit.record_one(entry(4)).await.unwrap(), 4);
    assert!(verify(&audit).await.is_intact());
}

/// An append in a job that fails rolls back with it; the chain stays whole.
async fn append_rolls_back_with_its_job(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    seed(&audit, 2).await;
    let r: Result<(), _> = fhir
        .store
        .write(|tx| {
            lantern_audit::append(tx, &[entry(3)])?;
            Err(lantern_store::StoreError::Conflict("later step failed".into()))
        })
        .await;
    assert!(r.is_err());
    assert_eq!(audit.record_one(entry(3)).await.unwrap(), 3);
    let report = verify(&audit).await;
    assert!(report.is_intact(), "{}", report.summary());
    assert_eq!(seqs(&fhir.store).await, vec![1, 2, 3]);
}

backend_tests!(
    empty_log_is_intact,
    concurrent_appends_are_gapless_and_verify,
    at_is_stamped_and_kept,
    altered_record_is_named,
    altered_and_rehashed_record_breaks_the_link,
    altered_column_is_named,
    removed_record_is_named,
    removed_first_record_is_named,
    reordered_records_are_named,
    inserted_record_is_found,
    removed_patient_row_is_named,
    added_patient_row_is_named,
    added_patient_row_for_a_stranger_is_named,
    truncated_tail_is_caught_by_the_head,
    truncated_tail_with_head_moved_needs_an_anchor,
    record_beyond_the_head_is_named,
    record_below_the_chain_is_named,
    missing_head_fails_closed,
    append_rolls_back_with_its_job,
);
