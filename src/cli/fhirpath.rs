//! `lantern fhirpath 'EXPR' FILE.json`: evaluate an expression and print the result as JSON.
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The FHIRPath expression (may start with '-', e.g. `-1 < 2`).
    #[arg(allow_hyphen_values = true)]
    expression: String,
    /// A JSON file holding the resource to evaluate against.
    file: PathBuf,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.file)?;
    let resource: serde_json::Value = serde_json::from_str(&text)?;
    let out = lantern_fhirpath::evaluate_to_json(&a.expression, &resource)?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
