//! The `lantern` binary: glue that parses the command line and wires the crates together.
//!
//! Each subcommand lives in its own file under `cli/`; this file only dispatches.
mod cli;
mod compose;

use clap::Parser;

// Ingest allocates many small strings and JSON maps; mimalloc is markedly faster than glibc's
// allocator for that pattern (measured with `lantern bench ingest`, see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,lantern=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log redirected to a file or a service journal
        // stays plain text that grep and log shippers read.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = cli::Cli::parse();
    cli::run(args)
}
