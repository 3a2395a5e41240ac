//! Command-line interface: one file per subcommand.
mod audit;
mod bench;
mod bench_mllp;
mod demo;
mod feeds;
mod fhirpath;
mod identity;
mod import;
mod link;
pub(crate) mod reindex;
mod serve;
mod token;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lantern", version, about = "Lantern shared care record server")]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a FHIRPath expression against a JSON resource and print the result as a JSON array.
    Fhirpath(fhirpath::Args),
    /// Serve the FHIR API over HTTP (and HL7 v2 over MLLP with --mllp/--config).
    Serve(serve::Args),
    /// Build a synthetic region (GP practices, hospital, community, mental health, social care),
    /// feed it in through the real paths, and serve it.
    Demo(demo::Args),
    /// Feeds: status, dead letters, replay.
    Feeds(feeds::Args),
    /// Import HL7 v2, FHIR JSON bundles, NDJSON or CSV files through the feeds inbox.
    Import(import::Args),
    /// Link people in a CSV file with the patient-matching model (batch evaluation mode).
    Link(link::Args),
    /// The audit log: verify its hash chain, list records.
    Audit(audit::Args),
    /// Make the search index again from the stored resources, for this version of Lantern
    /// (`serve` does it in the background when it finds an older index).
    Reindex(reindex::Args),
    /// Print a development bearer token (signed with the key in DATA/auth/).
    Token(token::Args),
    /// The patient index: explain a pair of records.
    #[command(subcommand)]
    Identity(identity::Identity),
    /// Whole-system load benchmarks.
    #[command(subcommand)]
    Bench(bench::Bench),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Fhirpath(a) => fhirpath::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Feeds(a) => feeds::run(a),
        Command::Import(a) => import::run(a),
        Command::Link(a) => link::run(a),
        Command::Token(a) => token::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Reindex(a) => reindex::run(a),
        Command::Identity(c) => identity::run(c),
        Command::Bench(b) => bench::run(b),
    }
}
