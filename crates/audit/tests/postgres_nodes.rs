//! Two API nodes sharing one PostgreSQL database: each has its own store and writer, so only
//! the head row's lock keeps the chain single. Appending from both at once must leave one
//! gapless, verifiable chain. And a record's text, which travels to PostgreSQL inside JSON,
//! must arrive byte for byte (its hash is of those bytes).
mod common;

use lantern_audit::Audit;
use lantern_store::{Backend, Store, SystemClock};
use lantern_store_postgres::PostgresBackend;
use std::sync::Arc;

fn open(url: &str, schema: &str) -> Option<(Arc<PostgresBackend>, Store)> {
    let backend = match PostgresBackend::new(url).with_schema(schema) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            if std::env::var("LANTERN_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PostgreSQL is required but not reachable at {url}: {e}");
            }
            eprintln!("skipped: PostgreSQL not reachable at {url}");
            return None;
        }
    };
    let dynb: Arc<dyn Backend> = backend.clone();
    let store = Store::open(dynb, Arc::new(SystemClock)).expect("open store");
    Some((backend, store))
}

/// A schema name of its own for one test.
fn new_schema() -> String {
    format!("t_{}", uuid::Uuid::new_v4().simple())
}

/// A node (a store of its own) on `schema` of the test database; None when PostgreSQL is not
/// reachable and not required.
async fn node(schema: &str) -> Option<(Arc<PostgresBackend>, Store)> {
    let (url, schema) = (lantern_testkit::postgres_url(), schema.to_string());
    tokio::task::spawn_blocking(move || open(&url, &schema)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_append_to_one_chain() {
    let schema = new_schema();
    let Some((backend, a)) = node(&schema).await else { return };
    let (_, b) = node(&schema).await.unwrap();
    let mut tasks = Vec::new();
    for (node, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..4 {
            let audit = Audit::new(store.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let e = common::entry(node * 10_000 + t * 100 + i);
                    if i.is_multiple_of(5) {
                        audit.record(vec![e.clone(), e]).await.unwrap();
                    } else {
                        audit.record_one(e).await.unwrap();
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = 2 * 4 * 30;
    assert_eq!(common::seqs(&a).await, (1..=n).collect::<Vec<i64>>());
    let r = Audit::new(b.clone()).verify(None).await.unwrap();
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, n as u64);
    drop((a, b));
    tokio::task::spawn_blocking(move || backend.drop_schema()).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_text_is_stored_byte_for_byte() {
    let Some((backend, store)) = node(&new_schema()).await else { return };
    let audit = Audit::new(store.clone());
    let odd = "q=\"quoted\" back\\slash \\u0041 tab\t new\nline \u{1} é ü 😀 'single' $1 ?";
    let entries: Vec<_> = (0..20)
        .map(|i| common::entry(i).with_query(format!("{odd} {i}")).patient(&format!("pé'{i}")))
        .collect();
    audit.record(entries.clone()).await.unwrap();
    let r = audit.verify(None).await.unwrap();
    assert!(r.is_intact(), "{}", r.summary());
    assert_eq!(r.records, 20);
    let q = lantern_audit::Query { patients: vec!["pé'7".into()], ..Default::default() };
    let page = audit.list(q).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].entry.query.as_deref(), Some(format!("{odd} 7").as_str()));
    drop((audit, store));
    tokio::task::spawn_blocking(move || backend.drop_schema()).await.unwrap().unwrap();
}

/// As on SQLite (tests/journal.rs): `MAX(seq)` of the patient index has an index to read, and
/// a database made before it (schema version 8) gets it from migration 9 at the next start
/// (and migration 10's counter with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_index_has_an_index_by_seq() {
    let schema = new_schema();
    let Some((backend, store)) = node(&schema).await else { return };
    assert!(index_defs(&store).await.contains("audit_patient_seq ON"), "a new database");
    common::exec(&store, "DROP INDEX audit_patient_seq", vec![]).await;
    // And what migration 10 made (its function's triggers go with it).
    common::exec(&store, "DROP TABLE access_epoch", vec![]).await;
    common::exec(&store, "DROP FUNCTION access_epoch_bump() CASCADE", vec![]).await;
    // And migration 11's.
    common::exec(&store, "DROP TABLE index_state", vec![]).await;
    // And 12's.
    common::exec(&store, "DROP TABLE subscription_owner", vec![]).await;
    common::exec(&store, "DROP TABLE notify_cursor", vec![]).await;
    // 13 made the Subscriptions' own places.
    common::exec(&store, "DROP TABLE notify_sub", vec![]).await;
    common::exec(&store, "DELETE FROM schema_version WHERE version >= 9", vec![]).await;
    assert!(!index_defs(&store).await.contains("audit_patient_seq"));
    drop(store);
    let (_, store) = node(&schema).await.unwrap();
    let defs = index_defs(&store).await;
    assert!(defs.contains("audit_patient_seq ON") && defs.contains("(seq)"), "{defs}");
    drop(store);
    tokio::task::spawn_blocking(move || backend.drop_schema()).await.unwrap().unwrap();
}

/// The definitions of `audit_patient`'s indexes in the store's schema.
async fn index_defs(store: &Store) -> String {
    store
        .with_reader(|c, _| {
            let mut defs = String::new();
            c.query(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_patient'",
                &[],
                &mut |r| {
                    defs.push_str(&r.text(0)?.unwrap_or_default());
                    defs.push('\n');
                    Ok(())
                },
            )?;
            Ok(defs)
        })
        .await
        .unwrap()
}
