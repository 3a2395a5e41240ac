//! `lantern serve`: the FHIR API over HTTP on an embedded SQLite store or PostgreSQL.
//! `lantern demo` serves through [`run`] too, so the demo is exactly `serve` on its region.
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directory of the embedded SQLite store (created if missing).
    #[arg(long, default_value = "./lantern-data")]
    pub(super) data: PathBuf,
    /// Address for the HTTP API (FHIR at /fhir).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(super) http: String,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://user@host/db.
    #[arg(long)]
    pub(super) database: Option<String>,
    /// Feeds configuration (TOML, `[[feed]]` tables); kept in the store.
    #[arg(long)]
    pub(super) config: Option<PathBuf>,
    /// Address for the shared HL7 v2 MLLP listener (messages routed by MSH-4).
    #[arg(long)]
    pub(super) mllp: Option<String>,
    /// Peers (IP or CIDR, repeatable) allowed to send to the shared MLLP listener; loopback only
    /// if none is given.
    #[arg(long = "mllp-allow")]
    pub(super) mllp_allow: Vec<String>,
    /// When feeds that do not say so in their configuration acknowledge an HL7 v2 message:
    /// `received` (once parsed, mapped and written to the receive queue in DIR; applied just
    /// after) or `applied` (once applied, so the ACK reports the outcome).
    #[arg(long = "mllp-ack", default_value = "received")]
    pub(super) mllp_ack: lantern_feeds::AckWhen,
    /// Largest HTTP request body accepted, in MiB (a transaction bundle of one patient's whole
    /// history can run to tens of MB).
    #[arg(long = "max-body-mb", default_value_t = lantern_server::DEFAULT_MAX_BODY >> 20)]
    pub(super) max_body_mb: usize,
    /// An origin (e.g. https://app.example.org, repeatable, or `*`) whose browser apps may call
    /// the API across origins (CORS); none by default.
    #[arg(long = "cors-origin")]
    pub(super) cors_origin: Vec<String>,
    /// A URL prefix (repeatable, e.g. https://gp.example.nhs.uk/) that Subscription endpoints
    /// must start with; without any, any http or https endpoint is notified (for development).
    #[arg(long = "notify-endpoint")]
    pub(super) notify_endpoint: Vec<String>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let policy = crate::compose::policy(a.config.as_deref())?;
        let fhir = crate::compose::fhir_with_policy(&a.data, a.database.as_deref(), &policy)?;
        let trust = crate::compose::trust(&fhir, &a.data, a.config.as_deref(), policy).await?;
        let listener = tokio::net::TcpListener::bind(&a.http).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen for HTTP on {}: {e} (another server there? choose one with --http)",
                a.http
            )
        })?;
        let addr = listener.local_addr()?;
        tracing::info!(store = %fhir.store.describe(), "serving FHIR R4 at http://{addr}/fhir");
        eprintln!("Lantern: FHIR R4 at http://{addr}/fhir ({})", fhir.store.describe());
        reindex_in_background(&fhir).await?;
        // Subscriptions: each change is looked at within about a second of its commit.
        let notifier = lantern_notify::Notifier::new(
            fhir.clone(),
            Some(trust.policy.clone()),
            Some(trust.audit.clone()),
        )
        .map_err(|e| anyhow::anyhow!(e))?
        .with_allowed_endpoints(a.notify_endpoint.clone());
        if a.notify_endpoint.is_empty() {
            eprintln!(
                "Lantern: Subscriptions may notify any http(s) endpoint (limit them with --notify-endpoint)"
            );
        }
        tokio::spawn(notifier.run(std::time::Duration::from_secs(1)));
        let feeds = crate::compose::feeds(fhir.clone(), a.config.as_deref()).await?;
        feeds.set_default_ack(a.mllp_ack);
        crate::compose::start_queue(&feeds, &a.data).await?;
        for (feed, at) in
            crate::compose::mllp(&feeds, a.mllp.as_deref(), &a.mllp_allow, a.config.as_deref()).await?
        {
            eprintln!("Lantern: HL7 v2 MLLP at {at} ({feed})");
        }
        eprintln!(
            "Lantern: every request needs a bearer token (`lantern token --data DIR --system` for tools)"
        );
        let viewer = crate::compose::viewer(&a.data, a.config.as_deref()).await?;
        match &viewer.sign_in {
            Some(s) => eprintln!("Lantern: clinician viewer at http://{addr}/ (sign-in with {})", s.label()),
            None => eprintln!("Lantern: clinician viewer at http://{addr}/"),
        }
        let mut app = lantern_server::app(
            crate::compose::app(fhir, trust, &a.data)?,
            Some(feeds),
            viewer,
            a.max_body_mb << 20,
        );
        if !a.cors_origin.is_empty() {
            app = lantern_server::with_cors(app, &a.cors_origin)
                .map_err(|e| anyhow::anyhow!("--cors-origin: {e}"))?;
            eprintln!("Lantern: cross-origin requests answered for {}", a.cors_origin.join(", "));
        }
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// An index an older build made (or a re-index it left part-way) is brought up to this build's
/// extraction while the server serves: a page of resources per short write job, so writes
/// and feeds go on in between. Searches that depend on the new rows (`:of-type`) say so until
/// it is done; every other search works throughout.
async fn reindex_in_background(fhir: &lantern_service::Fhir) -> anyhow::Result<()> {
    if !fhir.index_is_stale().await? {
        return Ok(());
    }
    eprintln!("Lantern: re-indexing stored resources for this version, in the background");
    let fhir = fhir.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut last_note = started;
        let result = fhir
            .reindex_all(crate::cli::reindex::PAGE, |step| {
                if last_note.elapsed() >= std::time::Duration::from_secs(10) {
                    last_note = std::time::Instant::now();
                    tracing::info!(upto = step.upto, "re-indexing");
                }
            })
            .await;
        match result {
            Ok(n) => {
                tracing::info!(resources = n, seconds = started.elapsed().as_secs(), "re-index finished")
            }
            Err(e) => {
                tracing::error!(error = %e, "re-index stopped; it goes on from there at the next start")
            }
        }
    });
    Ok(())
}
