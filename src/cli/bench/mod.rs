//! `lantern bench ...`: whole-system load benchmarks whose figures go in BENCHMARKS.md.
//! Speed is measured here, never asserted in tests.
mod export;
mod ingest;
mod search;
pub(crate) mod synth;
mod trust;

#[derive(clap::Subcommand)]
pub(crate) enum Bench {
    /// Load generated Synthea-shaped transaction bundles and report resources/s as the store grows.
    Ingest(ingest::Args),
    /// Latency percentiles of typical searches and $everything on a loaded store.
    Search(search::Args),
    /// HL7 v2 ADT over MLLP: acknowledged messages/s and ACK latency.
    Mllp(crate::cli::bench_mllp::Args),
    /// Reads and searches over HTTP with trust (JWT, policy, audit) off and on: the cost ratio.
    Trust(trust::Args),
    /// Bulk export of a loaded store: resources/s, NDJSON files written.
    Export(export::Args),
}

pub(crate) fn run(b: Bench) -> anyhow::Result<()> {
    match b {
        Bench::Ingest(a) => ingest::run(a),
        Bench::Search(a) => search::run(a),
        Bench::Mllp(a) => crate::cli::bench_mllp::run(a),
        Bench::Trust(a) => trust::run(a),
        Bench::Export(a) => export::run(a),
    }
}

/// The bench store that `ingest` loads and `search` and `export` read.
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Store directory (SQLite; `bench ingest` adds to what is there).
    #[arg(long, default_value = "./lantern-bench")]
    pub data: std::path::PathBuf,
    /// Use PostgreSQL instead of SQLite.
    #[arg(long)]
    pub database: Option<String>,
}

impl StoreArgs {
    pub(crate) fn open(&self) -> anyhow::Result<lantern_service::Fhir> {
        crate::compose::fhir(&self.data, self.database.as_deref())
    }
}

/// Bytes on disk under `dir` (the SQLite database, WAL included).
pub(crate) fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The `p`th percentile (0-100) of sorted durations, in milliseconds.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
