//! The one place that wires Lantern's crates together. Every subcommand that needs a running
//! system gets it from here, so the choice of backend, clock and services is made once.
use anyhow::Context;
use lantern_service::Fhir;
use lantern_store::{Backend, Clock, Store, SystemClock};
use std::path::Path;
use std::sync::Arc;

/// Where the data lives: an embedded SQLite directory (the default) or a PostgreSQL URL.
pub(crate) fn backend(data: &Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Backend>> {
    Ok(match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(lantern_store_postgres::PostgresBackend::new(url))
        }
        Some(other) => anyhow::bail!("--database must be a postgres:// URL, not '{other}'"),
        None => Arc::new(lantern_store_sqlite::SqliteBackend::in_dir(data)?),
    })
}

/// Opens the store (migrating it) and the FHIR service over it.
pub(crate) fn fhir(data: &Path, database: Option<&str>) -> anyhow::Result<Fhir> {
    let backend = backend(data, database)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let described = backend.describe();
    let store = Store::open(backend, clock).with_context(|| format!("opening the store at {described}"))?;
    Ok(Fhir::new(store))
}

/// The HTTP application state.
pub(crate) fn app(fhir: Fhir) -> lantern_server::AppState {
    lantern_server::AppState { fhir, version: env!("CARGO_PKG_VERSION").to_string() }
}
