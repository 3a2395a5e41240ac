//! `lantern reindex`: makes every stored resource's search index rows again with this build's
//! extraction, when an older build made them. `lantern serve` does the same in the background
//! at start-up; this is the way to do it with the server stopped (and to see it end).
use std::path::PathBuf;
use std::time::Instant;

/// Resources per step: one reader page and one write job. A few hundred keep each job short
/// (the writer serves other writes between them) while the per-job costs stay small.
pub(crate) const PAGE: usize = 500;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directory of the embedded SQLite store.
    #[arg(long, default_value = "./lantern-data")]
    data: PathBuf,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://user@host/db.
    #[arg(long)]
    database: Option<String>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let fhir = crate::compose::fhir(&a.data, a.database.as_deref())?;
        let before = fhir.index_state().await?;
        if before.version >= lantern_fhir::index::EXTRACTION_VERSION {
            println!(
                "the search index is already at extraction version {} (this build's is {}): nothing to do",
                before.version,
                lantern_fhir::index::EXTRACTION_VERSION
            );
            return Ok(());
        }
        let started = Instant::now();
        let mut last_note = started;
        let n = fhir
            .reindex_all(PAGE, |step| {
                if last_note.elapsed().as_secs() >= 5 {
                    last_note = Instant::now();
                    eprintln!("  ... up to resource key {}", step.upto);
                }
            })
            .await?;
        println!(
            "re-indexed {n} resources in {:.1} s: the search index is now at extraction version {}",
            started.elapsed().as_secs_f64(),
            lantern_fhir::index::EXTRACTION_VERSION
        );
        Ok(())
    })
}
