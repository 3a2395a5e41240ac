//! Command-line interface: one file per subcommand.
mod bench;
mod fhirpath;
mod link;
mod serve;

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
    /// Serve the FHIR API over HTTP.
    Serve(serve::Args),
    /// Link people in a CSV file with the patient-matching model (batch evaluation mode).
    Link(link::Args),
    /// Whole-system load benchmarks.
    #[command(subcommand)]
    Bench(bench::Bench),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Fhirpath(a) => fhirpath::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Link(a) => link::run(a),
        Command::Bench(b) => bench::run(b),
    }
}
