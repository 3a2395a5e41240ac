//! `lantern serve --database postgres://...` opens its store from inside the tokio runtime. The
//! PostgreSQL driver is synchronous and may not run on a runtime thread, so opening, migrating
//! and dropping a store must all work when called straight from async code (the test kit hides
//! this by opening stores on blocking threads; this test does not).
use lantern_service::{Ctx, Fhir};
use lantern_store::{Backend, Store, SystemClock};
use lantern_store_postgres::PostgresBackend;
use std::sync::Arc;

/// A backend made by `make` in a fresh schema, or None (the test skips) when PostgreSQL is not
/// reachable and not required.
fn backend(make: impl FnOnce(&str) -> PostgresBackend) -> Option<Arc<PostgresBackend>> {
    let url = lantern_testkit::postgres_url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    match make(&url).with_schema(&schema) {
        Ok(b) => Some(Arc::new(b)),
        Err(e) => {
            assert!(
                std::env::var("LANTERN_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL is required but not reachable at {url}: {e}"
            );
            eprintln!("skipped: PostgreSQL not reachable at {url} (set LANTERN_TEST_POSTGRES)");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_a_postgres_store_from_async_code() {
    let Some(backend) = backend(PostgresBackend::new) else { return };
    let dynb: Arc<dyn Backend> = backend.clone();
    let store = Store::open(dynb, Arc::new(SystemClock)).expect("open from async code");
    let fhir = Fhir::new(store);
    let ctx = Ctx::system("http://localhost/fhir");
    let w = fhir
        .update(&ctx, "Patient", "p1", serde_json::json!({"resourceType": "Patient", "id": "p1"}), None)
        .await
        .expect("write");
    assert_eq!(w.stored.version, 1);
    assert_eq!(fhir.read(&ctx, "Patient", "p1").await.expect("read").version, 1);
    drop(fhir);
    backend.drop_schema().expect("drop the test schema from async code");
}

/// The store keeps PostgreSQL's statistics of its tables current itself, with or without
/// autovacuum: after a load, `resource` is analyzed within a few rounds of the statistics
/// thread. (The 30 s bound is shorter than autovacuum's default round of a minute, so the test
/// does not pass on autovacuum's work alone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_kept_current() {
    let Some(backend) =
        backend(|url| PostgresBackend::new(url).with_analyze_every(std::time::Duration::from_millis(200)))
    else {
        return;
    };
    let dynb: Arc<dyn Backend> = backend.clone();
    let fhir = Fhir::new(Store::open(dynb, Arc::new(SystemClock)).expect("open"));
    let ctx = Ctx::system("http://localhost/fhir");
    let entries: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            serde_json::json!({"resource": {"resourceType": "Patient", "name": [{"family": format!("F{i}")}]},
            "request": {"method": "POST", "url": "Patient"}})
        })
        .collect();
    fhir.bundle(
        &ctx,
        serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
        false,
    )
    .await
    .expect("load");
    let analyzed = |fhir: &Fhir| {
        let store = fhir.store.clone();
        async move {
            store
                .with_reader(|c, _| {
                    c.query_int(
                        "SELECT COUNT(*) FROM pg_stat_user_tables WHERE schemaname = current_schema() \
                         AND relname = 'resource' AND COALESCE(last_analyze, last_autoanalyze) IS NOT NULL",
                        &[],
                    )
                })
                .await
                .expect("pg_stat_user_tables")
                == Some(1)
        }
    };
    let started = std::time::Instant::now();
    while !analyzed(&fhir).await {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "resource was never analyzed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(fhir);
    backend.drop_schema().expect("drop the test schema");
}
