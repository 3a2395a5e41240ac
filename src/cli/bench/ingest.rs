//! `lantern bench ingest`: generated transaction bundles through the same service call the HTTP
//! API uses (`Fhir::bundle`), from several concurrent submitters. Reports the rate in windows as
//! the store grows, so a slowdown with size shows up, and bytes on disk per resource.
use super::{dir_bytes, synth};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    store: super::StoreArgs,
    /// Patients to load (one transaction bundle each).
    #[arg(long, default_value_t = 2000)]
    patients: u64,
    /// Resources per patient bundle.
    #[arg(long, default_value_t = 100)]
    per_patient: usize,
    /// Resources in the first patient's bundle (the `$everything` benchmark's patient).
    #[arg(long, default_value_t = 2000)]
    big_patient: usize,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Patient numbering starts here (to grow an existing store with new patients).
    #[arg(long, default_value_t = 0)]
    first: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Subscriptions (`Encounter?class=AMB`, every encounter the bundles hold) delivered while
    /// loading, by the notifier `lantern serve` runs, to a local endpoint that answers 200: what
    /// notifications cost ingest.
    #[arg(long, default_value_t = 0)]
    subscribe: usize,
}

/// A local endpoint that counts what it is sent.
async fn counting_endpoint() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let got = Arc::new(AtomicU64::new(0));
    let count = got.clone();
    let app = axum::Router::new().fallback(move || {
        count.fetch_add(1, Ordering::Relaxed);
        async { axum::http::StatusCode::OK }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, got))
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let fhir = a.store.open()?;
        let ctx = lantern_service::Ctx::system("http://localhost/fhir");
        let next = Arc::new(AtomicU64::new(a.first));
        let done = Arc::new(AtomicU64::new(0));
        let end = a.first + a.patients;
        let total_resources = (a.patients.saturating_sub(1)) * a.per_patient as u64 + a.big_patient as u64;
        eprintln!(
            "loading {} patients ({} resources) into {} with {} submitters",
            a.patients,
            total_resources,
            fhir.store.describe(),
            a.concurrency
        );
        let mut notified = None;
        if a.subscribe > 0 {
            let (url, got) = counting_endpoint().await?;
            for _ in 0..a.subscribe {
                let sub = serde_json::json!({"resourceType": "Subscription", "status": "requested",
                    "reason": "bench", "criteria": "Encounter?class=AMB",
                    "channel": {"type": "rest-hook", "endpoint": url, "payload": "application/fhir+json"}});
                fhir.create(&ctx, "Subscription", sub, None).await?;
            }
            let notifier =
                lantern_notify::Notifier::new(fhir.clone(), None, None).map_err(|e| anyhow::anyhow!(e))?;
            tokio::spawn(notifier.run(std::time::Duration::from_secs(1)));
            notified = Some(got);
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..a.concurrency {
            let (fhir, ctx, next, done) = (fhir.clone(), ctx.clone(), next.clone(), done.clone());
            let (seed, per, big, first) = (a.seed, a.per_patient, a.big_patient, a.first);
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let size = if n == first && first == 0 { big } else { per };
                    // Generate and serialise off the async threads, then parse as HTTP would.
                    let text =
                        tokio::task::spawn_blocking(move || synth::patient_bundle(seed, n, size).to_string())
                            .await?;
                    let bundle: serde_json::Value = serde_json::from_str(&text)?;
                    fhir.bundle(&ctx, bundle, false)
                        .await
                        .map_err(|e| anyhow::anyhow!("patient {n}: {e}"))?;
                    done.fetch_add(size as u64, Ordering::Relaxed);
                }
            }));
        }
        let reporter = {
            let done = done.clone();
            let data = a.store.data.clone();
            let is_sqlite = a.store.database.is_none();
            tokio::spawn(async move {
                let mut last = (Instant::now(), 0u64);
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    let d = done.load(Ordering::Relaxed);
                    let window = (d - last.1) as f64 / last.0.elapsed().as_secs_f64();
                    let size = if is_sqlite {
                        format!(", {:.0} B/resource on disk", dir_bytes(&data) as f64 / d.max(1) as f64)
                    } else {
                        String::new()
                    };
                    eprintln!("{d:>10} resources  {window:>8.0}/s in the last window{size}");
                    last = (Instant::now(), d);
                }
            })
        };
        for t in tasks {
            t.await??;
        }
        reporter.abort();
        let secs = start.elapsed().as_secs_f64();
        let d = done.load(Ordering::Relaxed);
        println!(
            "ingested {d} resources in {secs:.1} s: {:.0} resources/s ({} submitters)",
            d as f64 / secs,
            a.concurrency
        );
        if let Some(got) = notified {
            println!(
                "notifications received by the end: {} ({} subscriptions)",
                got.load(Ordering::Relaxed),
                a.subscribe
            );
        }
        if a.store.database.is_none() {
            let count = fhir
                .store
                .with_reader(|c, _| c.query_int("SELECT COUNT(*) FROM resource", &[]))
                .await?
                .unwrap_or(0);
            let bytes = dir_bytes(&a.store.data);
            println!(
                "store holds {count} resources in {bytes} bytes: {:.0} bytes/resource",
                bytes as f64 / count.max(1) as f64
            );
        }
        Ok(())
    })
}
