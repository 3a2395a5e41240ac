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

/// The feeds service over `fhir`, with the feeds of `config` (a TOML file, see
/// `lantern_feeds::config`) registered in the store; without one, the feeds registered before.
pub(crate) async fn feeds(fhir: Fhir, config: Option<&Path>) -> anyhow::Result<lantern_feeds::Feeds> {
    let feeds = lantern_feeds::Feeds::open(fhir).await?;
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file = lantern_feeds::FeedsFile::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        feeds.configure(&file).await?;
    }
    Ok(feeds)
}

/// Starts the MLLP listeners: the shared one (`--mllp`, routed by MSH-4) and one per feed whose
/// transport names an address. Returns the bound addresses.
pub(crate) async fn mllp(
    feeds: &lantern_feeds::Feeds,
    shared: Option<&str>,
    config: Option<&Path>,
) -> anyhow::Result<Vec<(String, std::net::SocketAddr)>> {
    use lantern_server::mllp::{serve_mllp, MllpConfig};
    let mut wanted: Vec<(String, lantern_feeds::Route)> = Vec::new();
    if let Some(a) = shared {
        wanted.push((a.to_string(), lantern_feeds::Route::ByFacility));
    }
    if let Some(path) = config {
        let text = std::fs::read_to_string(path)?;
        let file = lantern_feeds::FeedsFile::from_toml(&text).map_err(anyhow::Error::msg)?;
        for f in file.feeds {
            if let Some(a) = f.transport.listen {
                wanted.push((a, lantern_feeds::Route::Feed(f.config.feed_id)));
            }
        }
    }
    let mut out = Vec::new();
    for (addr, route) in wanted {
        let l = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding MLLP {addr}"))?;
        let name = match &route {
            lantern_feeds::Route::Feed(f) => f.clone(),
            lantern_feeds::Route::ByFacility => "by sending facility".to_string(),
        };
        out.push((name, l.local_addr()?));
        let cfg = MllpConfig { route, ..MllpConfig::default() };
        tokio::spawn(serve_mllp(l, feeds.clone(), cfg));
    }
    Ok(out)
}
