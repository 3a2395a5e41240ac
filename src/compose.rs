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

/// Opens the store (migrating it), installs the patient index on it (every Patient written
/// from here on is matched, whatever the entry point) and returns the FHIR service over it.
/// On SQLite this process takes the audit journal; if another process (a server) holds it,
/// this fails.
pub(crate) fn fhir(data: &Path, database: Option<&str>) -> anyhow::Result<Fhir> {
    open(data, database, false)
}

/// As [`fhir`], for commands that read beside a running server (`lantern feeds status`,
/// `dead-letters`): if the server holds the audit journal, the store is opened anyway, and
/// every audited write or audit record made through it fails with a message saying why.
pub(crate) fn fhir_beside_server(data: &Path, database: Option<&str>) -> anyhow::Result<Fhir> {
    open(data, database, true)
}

fn open(data: &Path, database: Option<&str>, beside_server: bool) -> anyhow::Result<Fhir> {
    let backend = backend(data, database)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let described = backend.describe();
    let store = Store::open(backend, clock).with_context(|| format!("opening the store at {described}"))?;
    if database.is_none() {
        // Embedded store: the audit chain goes through a journal file (see lantern_audit::journal).
        let journal = data.join(lantern_audit::journal::JOURNAL_FILE);
        let context = || format!("opening the audit journal {}", journal.display());
        if beside_server {
            if !lantern_audit::journal::install_or_read_only(&store, &journal).with_context(context)? {
                tracing::info!("another Lantern process holds {}: reading only", journal.display());
            }
        } else {
            lantern_audit::journal::install(&store, &journal).with_context(context)?;
        }
    }
    if std::env::var("LANTERN_IDENTITY").as_deref() != Ok("off") {
        lantern_mpi::Mpi::install(&store, identity_model()?.clone());
    }
    Ok(Fhir::new(store))
}

/// The patient index's matching model, loaded once: `LANTERN_IDENTITY_MODEL` (JSON written by
/// `lantern link --model-out`) or the shipped default, with `LANTERN_IDENTITY_CONFIG` (TOML,
/// thresholds and rules) applied. See `lantern_mpi::model`.
pub(crate) fn identity_model() -> anyhow::Result<&'static lantern_identity::Model> {
    static MODEL: std::sync::OnceLock<lantern_identity::Model> = std::sync::OnceLock::new();
    if let Some(m) = MODEL.get() {
        return Ok(m);
    }
    let read = |var: &str| -> anyhow::Result<Option<String>> {
        std::env::var_os(var)
            .map(|p| {
                std::fs::read_to_string(&p).with_context(|| format!("reading {var}={}", p.to_string_lossy()))
            })
            .transpose()
    };
    let (model, config) = (read("LANTERN_IDENTITY_MODEL")?, read("LANTERN_IDENTITY_CONFIG")?);
    let m = lantern_mpi::model::load(model.as_deref(), config.as_deref())?;
    Ok(MODEL.get_or_init(|| m))
}

/// The HTTP application state, with trust enforced; bulk export jobs are kept in
/// `DATA/exports`, so that finished ones survive a restart.
pub(crate) fn app(
    fhir: Fhir,
    trust: Arc<lantern_server::trust::Trust>,
    data: &Path,
) -> anyhow::Result<lantern_server::AppState> {
    let dir = data.join("exports");
    let exports = lantern_server::Exports::open(&dir, fhir.store.now_micros())
        .with_context(|| format!("opening the export jobs in {}", dir.display()))?;
    let model = identity_model().cloned().unwrap_or_else(|_| lantern_mpi::model::default_model());
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), model);
    Ok(lantern_server::AppState {
        fhir,
        version: env!("CARGO_PKG_VERSION").to_string(),
        security: lantern_server::trust::Security::Enforced(trust),
        identity,
        exports,
    })
}

/// The access policy of `config` (its `[policy]` section; the regional default without one).
pub(crate) fn policy(config: Option<&Path>) -> anyhow::Result<Arc<lantern_policy::Policy>> {
    let cfg = match config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            lantern_policy::PolicyConfig::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => lantern_policy::PolicyConfig::default(),
    };
    Ok(Arc::new(lantern_policy::Policy::new(cfg).map_err(|e| anyhow::anyhow!("policy: {e}"))?))
}

/// Opens the store and the FHIR service with the policy's labeller installed: every write,
/// whatever its entry point, is labelled and asserts its care relationships and opt-outs.
pub(crate) fn fhir_with_policy(
    data: &Path,
    database: Option<&str>,
    policy: &Arc<lantern_policy::Policy>,
) -> anyhow::Result<Fhir> {
    Ok(with_labeller(fhir(data, database)?, policy))
}

/// `fhir` with `policy` labelling every write.
pub(crate) fn with_labeller(fhir: Fhir, policy: &Arc<lantern_policy::Policy>) -> Fhir {
    let p = policy.clone();
    fhir.with_labeller(Arc::new(move |rtype, id, body, now| p.label(rtype, id, body, now)))
}

/// The `[auth]` section of `config` (the defaults without a file).
fn auth_config(config: Option<&Path>) -> anyhow::Result<lantern_auth::AuthConfig> {
    let Some(path) = config else { return Ok(lantern_auth::AuthConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    lantern_auth::AuthConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Authentication (the `[auth]` section of `config`, plus the development issuer whose key is
/// kept in `data`), the policy and the audit log, for the HTTP server.
pub(crate) async fn trust(
    fhir: &Fhir,
    data: &Path,
    config: Option<&Path>,
    policy: Arc<lantern_policy::Policy>,
) -> anyhow::Result<Arc<lantern_server::trust::Trust>> {
    let auth = auth_config(config)?;
    let dev = if auth.dev_issuer {
        std::fs::create_dir_all(data)?;
        Some(lantern_auth::DevIssuer::open(data).with_context(|| "opening the development issuer's key")?)
    } else {
        None
    };
    let verifier =
        lantern_auth::Verifier::from_config(&auth, dev).await.map_err(|e| anyhow::anyhow!("auth: {e}"))?;
    Ok(Arc::new(lantern_server::trust::Trust::new(verifier, policy, fhir.clone())))
}

/// The viewer's sign-in: demo users from `data/demo/` signed by the development issuer, when
/// the configuration leaves that issuer on, and the OpenID Connect provider of `[auth.sign_in]`
/// (its endpoints discovered now, so a wrong address stops start-up).
pub(crate) async fn viewer(
    data: &Path,
    config: Option<&Path>,
) -> anyhow::Result<lantern_server::viewer::Config> {
    let auth = auth_config(config)?;
    let issuer = if auth.dev_issuer { Some(lantern_auth::DevIssuer::open(data)?) } else { None };
    let mut cfg = lantern_server::viewer::Config::from_data_dir(data, issuer);
    cfg.sign_in = lantern_auth::SignIn::from_config(&auth).await?.map(Arc::new);
    Ok(cfg)
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

/// Opens the feeds' receive queue in `data` and starts applying it: what an earlier run
/// acknowledged and did not apply is applied first.
///
/// An ACK sent on receipt promises what a commit of the store would: on SQLite (run with
/// `synchronous = NORMAL`) a commit survives the process being killed, and so does a plain
/// append to the queue; a PostgreSQL commit also survives a power cut, so on PostgreSQL every
/// append is `fdatasync`ed too (~85 µs on this project's machine).
pub(crate) async fn start_queue(feeds: &lantern_feeds::Feeds, data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join(lantern_feeds::queue_file::QUEUE_FILE);
    let sync = feeds.fhir().store.dialect() == lantern_store::conn::Dialect::Postgres;
    let found = feeds.start_queue(&path, sync).await?;
    if found > 0 {
        eprintln!("Lantern: applying {found} messages left in {}", path.display());
    }
    Ok(())
}

/// Starts the MLLP listeners: the shared one (`--mllp`, routed by MSH-4) and one per feed whose
/// transport names an address. Returns the bound addresses.
pub(crate) async fn mllp(
    feeds: &lantern_feeds::Feeds,
    shared: Option<&str>,
    shared_allow: &[String],
    config: Option<&Path>,
) -> anyhow::Result<Vec<(String, std::net::SocketAddr)>> {
    use lantern_server::mllp::{parse_allow, serve_mllp, MllpConfig};
    let allow = |list: &[String]| -> anyhow::Result<Vec<_>> {
        list.iter().map(|s| parse_allow(s).map_err(anyhow::Error::msg)).collect()
    };
    let mut wanted: Vec<(String, lantern_feeds::Route, Vec<ipnet::IpNet>)> = Vec::new();
    if let Some(a) = shared {
        wanted.push((a.to_string(), lantern_feeds::Route::ByFacility, allow(shared_allow)?));
    }
    if let Some(path) = config {
        let text = std::fs::read_to_string(path)?;
        let file = lantern_feeds::FeedsFile::from_toml(&text).map_err(anyhow::Error::msg)?;
        for f in file.feeds {
            if let Some(a) = f.transport.listen {
                let nets = allow(&f.transport.allow).with_context(|| format!("feed {}", f.config.feed_id))?;
                wanted.push((a, lantern_feeds::Route::Feed(f.config.feed_id), nets));
            }
        }
    }
    let mut out = Vec::new();
    for (addr, route, allow) in wanted {
        let l = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding MLLP {addr}"))?;
        let name = match &route {
            lantern_feeds::Route::Feed(f) => f.clone(),
            lantern_feeds::Route::ByFacility => "by sending facility".to_string(),
        };
        out.push((name, l.local_addr()?));
        let cfg = MllpConfig { route, allow, ..MllpConfig::default() };
        tokio::spawn(serve_mllp(l, feeds.clone(), cfg));
    }
    Ok(out)
}
