//! `lantern bench export`: how fast a bulk export reads a loaded store (one made by `bench
//! ingest`) and writes its NDJSON files, through the service call the `$export` job makes
//! (`Fhir::export_to_dir`). System access, so every resource is read; the figure is resources/s from the first
//! page to the last file flushed.
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    store: super::StoreArgs,
    /// Patient-level export (`Patient/$export`): only patients' compartments.
    #[arg(long)]
    patients_only: bool,
    /// Exports to run; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let fhir = a.store.open()?;
        let ctx = lantern_service::Ctx::system("http://localhost/fhir");
        let req = lantern_service::ExportRequest::parse(&[], a.patients_only)?;
        let mut rates = Vec::new();
        for round in 1..=a.rounds.max(1) {
            let dir = std::env::temp_dir().join(format!("lantern-bench-export-{}-{round}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let started = Instant::now();
            let out = fhir.export_to_dir(&ctx, &req, &dir, |_| true).await?;
            let (resources, bytes, files) = (out.files.iter().map(|f| f.1).sum::<u64>(), out.bytes, out.files.len());
            let secs = started.elapsed().as_secs_f64();
            std::fs::remove_dir_all(&dir)?;
            let rate = resources as f64 / secs;
            eprintln!(
                "round {round}: {resources} resources, {files} files, {:.1} MB in {secs:.2} s: {rate:.0} resources/s",
                bytes as f64 / 1e6
            );
            rates.push(rate);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "bulk export ({}): median {:.0} resources/s over {} rounds",
            if a.patients_only { "Patient/$export" } else { "$export" },
            super::percentile(&rates, 50.0),
            rates.len()
        );
        Ok(())
    })
}
