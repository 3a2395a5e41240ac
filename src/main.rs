//! The `lantern` binary: glue that parses the command line and wires the crates together.
//!
//! Each subcommand lives in its own file under `cli/`; this file only dispatches.
mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    cli::run(args)
}
