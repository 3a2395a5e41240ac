//! Test support shared by the service, server and root test suites: every behavioural test is
//! written once, as an async function taking a [`Fhir`] service, and run on both backends.
//!
//! - SQLite: a fresh temporary directory per test, removed at the end.
//! - PostgreSQL: the URL in `LANTERN_TEST_POSTGRES` (default
//!   `postgres://postgres@127.0.0.1:5432/test`), a fresh schema `t_<random>` per test, dropped
//!   at the end. If the server cannot be reached the PostgreSQL half is skipped with one message,
//!   unless `LANTERN_REQUIRE_POSTGRES=1`, in which case the test fails.
//!
//! [`backend_tests!`] generates `mod sqlite { #[tokio::test] fn name() }` and `mod postgres {..}`
//! for a list of such functions.
use lantern_service::{Ctx, Fhir};
use lantern_store::{Backend, Store, SystemClock};
use lantern_store_postgres::PostgresBackend;
use lantern_store_sqlite::SqliteBackend;
use serde_json::Value;
use std::sync::{Arc, Once};

pub mod client;
pub mod hook;

pub use serde_json::json;

/// The base URL the tests' request contexts use.
pub const BASE: &str = "http://lantern.test/fhir";

/// A store that cleans up after itself when dropped.
pub struct TestStore {
    pub fhir: Fhir,
    pub backend: &'static str,
    guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(Arc<PostgresBackend>),
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Guard::Postgres(b) = &self.guard {
            // The synchronous driver runs its own runtime, so never on a tokio worker.
            let b = b.clone();
            let _ = std::thread::spawn(move || b.drop_schema()).join();
        }
    }
}

/// A fresh SQLite-backed service.
pub fn sqlite() -> TestStore {
    sqlite_with(|_, _| {})
}

/// A fresh SQLite-backed service, with `prepare` run on its store and data directory before
/// the service is built (e.g. to install the audit journal as `lantern serve` does).
pub fn sqlite_with(prepare: impl FnOnce(&Store, &std::path::Path)) -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(dir.path()).expect("sqlite backend"));
    let store = Store::open(backend, Arc::new(SystemClock)).expect("open sqlite store");
    prepare(&store, dir.path());
    TestStore { fhir: Fhir::new(store), backend: "sqlite", guard: Guard::Sqlite(dir) }
}

/// The PostgreSQL URL the tests use.
pub fn postgres_url() -> String {
    std::env::var("LANTERN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

static SKIP_NOTICE: Once = Once::new();

/// A fresh PostgreSQL-backed service in its own schema, or None (after saying so once) when
/// PostgreSQL is not reachable and `LANTERN_REQUIRE_POSTGRES` is not `1`.
pub fn postgres() -> Option<TestStore> {
    let url = postgres_url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let backend = match PostgresBackend::new(&url).with_schema(&schema) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            if std::env::var("LANTERN_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PostgreSQL is required (LANTERN_REQUIRE_POSTGRES=1) but not reachable at {url}: {e}");
            }
            SKIP_NOTICE.call_once(|| {
                eprintln!("skipped: PostgreSQL not reachable at {url} (set LANTERN_TEST_POSTGRES)");
            });
            return None;
        }
    };
    let dynb: Arc<dyn Backend> = backend.clone();
    let store = match Store::open(dynb, Arc::new(SystemClock)) {
        Ok(s) => s,
        Err(e) => {
            let _ = backend.drop_schema();
            panic!("opening the PostgreSQL store in schema {schema}: {e}");
        }
    };
    Some(TestStore { fhir: Fhir::new(store), backend: "postgres", guard: Guard::Postgres(backend) })
}

/// A full-access, lenient request context.
pub fn ctx() -> Ctx {
    Ctx::system(BASE)
}

/// A full-access context that refuses unknown search parameters.
pub fn strict() -> Ctx {
    let mut c = Ctx::system(BASE);
    c.handling = lantern_service::Handling::Strict;
    c
}

/// Runs `f` on a fresh store of the named backend; returns false if that backend is unavailable.
pub async fn run_on<F, Fut>(backend: &str, f: F) -> bool
where
    F: FnOnce(Fhir) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = match backend {
        "sqlite" => sqlite(),
        // The synchronous PostgreSQL driver must not connect from a runtime thread.
        _ => match tokio::task::spawn_blocking(postgres).await.expect("postgres set-up") {
            Some(s) => s,
            None => return false,
        },
    };
    f(store.fhir.clone()).await;
    tokio::task::spawn_blocking(move || drop(store)).await.expect("store clean-up");
    true
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(fhir: Fhir)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::run_on("sqlite", super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::run_on("postgres", super::$name).await;
                }
            )*
        }
    };
}

/// Parses JSON text returned by the service.
pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("the service returned JSON")
}
