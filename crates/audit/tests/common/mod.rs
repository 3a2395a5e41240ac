//! Helpers shared by the audit tests: seeding a log and tampering with it by direct SQL, as
//! someone with database access would.
#![allow(dead_code, unreachable_pub)]
use lantern_audit::{Action, Agent, Audit, Entry};
use lantern_store::{SqlValue, Store};

/// Record `i` is a read by `u{i%2}` (organisation RVJ) of `p{i%3}`'s Observation `o{i}`; every
/// fifth record also concerns `p9`.
pub fn entry(i: usize) -> Entry {
    let mut e = Entry::new(
        Action::Read,
        Agent::user(format!("u{}", i % 2), Some("doctor".into()), Some("RVJ".into()))
            .with_purpose("direct-care"),
    )
    .patient(&format!("p{}", i % 3))
    .entity(format!("Observation/o{i}"));
    if i.is_multiple_of(5) {
        e = e.patient("p9");
    }
    e
}

/// Appends records 1..=n one at a time (so record i is `entry(i)`).
pub async fn seed(audit: &Audit, n: usize) {
    for i in 1..=n {
        let seq = audit.record_one(entry(i)).await.unwrap();
        assert_eq!(seq, i as i64);
    }
}

/// Runs one statement outside the store's writer, as a tamperer would.
pub async fn exec(store: &Store, sql: &str, params: Vec<SqlValue>) -> u64 {
    let sql = sql.to_string();
    store.with_reader(move |c, _| c.execute(&sql, &params)).await.unwrap()
}

/// A record's stored hash.
pub async fn hash_of(store: &Store, seq: i64) -> Vec<u8> {
    store
        .with_reader(move |c, _| {
            let mut out = Vec::new();
            c.query("SELECT hash FROM audit WHERE seq = ?", &[seq.into()], &mut |r| {
                out = r.blob(0)?.unwrap_or_default();
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap()
}

/// The seqs in the log, in order.
pub async fn seqs(store: &Store) -> Vec<i64> {
    store
        .with_reader(|c, _| {
            let mut out = Vec::new();
            c.query("SELECT seq FROM audit ORDER BY seq", &[], &mut |r| {
                out.push(r.int(0)?.unwrap_or_default());
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap()
}
