//! `lantern import FILE...`: HL7 v2 messages, FHIR bundles (transaction, batch, collection) or
//! resources in JSON or XML, NDJSON (Bulk Data) and CSV extracts with a column mapping, through the same feeds
//! service and inbox as live feeds (see `lantern_feeds::import`). Prints counts per file, and
//! each dead letter with its reason.
use anyhow::Context;
use lantern_feeds::{ImportOptions, ImportReport};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Files to import: .hl7 (also .er7/.txt), .json, .xml (FHIR XML), .ndjson (.jsonl), .csv.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, default_value = "./lantern-data")]
    data: PathBuf,
    #[arg(long)]
    database: Option<String>,
    /// Feeds configuration (as for `serve --config`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The feed the data comes from (HL7 v2: default, route by MSH-4; others: `import`).
    #[arg(long)]
    feed: Option<String>,
    /// Column mapping for CSV files (TOML, see `lantern_feeds::tabular`).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Resources per transaction for NDJSON, CSV and collection bundles.
    #[arg(long, default_value_t = 100)]
    chunk: usize,
}

enum Format {
    V2,
    Json,
    Xml,
    Ndjson,
    Csv,
}

fn format_of(path: &std::path::Path, bytes: &[u8]) -> Format {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "hl7" | "er7" | "hl7v2" => return Format::V2,
        "ndjson" | "jsonl" => return Format::Ndjson,
        "json" => return Format::Json,
        "xml" => return Format::Xml,
        "csv" => return Format::Csv,
        _ => {}
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |i| &bytes[i..]);
    if start.starts_with(b"{") {
        if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
            Format::Json
        } else {
            Format::Ndjson
        }
    } else if start.starts_with(b"<") || start.starts_with("\u{feff}<".as_bytes()) {
        Format::Xml
    } else if [&b"MSH"[..], b"FHS", b"BHS", b"\x0b"].iter().any(|p| start.starts_with(p)) {
        Format::V2
    } else {
        Format::Csv
    }
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let policy = crate::compose::policy(a.config.as_deref())?;
        let fhir = crate::compose::fhir_with_policy(&a.data, a.database.as_deref(), &policy)?;
        let feeds = crate::compose::feeds(fhir, a.config.as_deref()).await?;
        let csv_mapping = match &a.mapping {
            Some(p) => Some(
                lantern_feeds::tabular::CsvMapping::from_toml(&std::fs::read_to_string(p)?)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            ),
            None => None,
        };
        let opts = ImportOptions { feed: a.feed.clone(), csv_mapping, chunk: a.chunk };
        let mut total = ImportReport::default();
        for path in &a.files {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file").to_string();
            let r = match format_of(path, &bytes) {
                Format::V2 => feeds.import_v2(&bytes, &opts).await,
                Format::Json => {
                    let v = serde_json::from_slice(&bytes)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    feeds.import_json(&name, v, &opts).await
                }
                Format::Xml => {
                    let text = std::str::from_utf8(&bytes)
                        .with_context(|| format!("{} is not UTF-8", path.display()))?;
                    let v = lantern_fhir::xml::parse(text)
                        .map_err(|e| anyhow::anyhow!("{} is not FHIR XML: {e}", path.display()))?;
                    feeds.import_json(&name, v, &opts).await
                }
                Format::Ndjson => feeds.import_ndjson(&name, &String::from_utf8_lossy(&bytes), &opts).await,
                Format::Csv => feeds
                    .import_csv(&name, &String::from_utf8_lossy(&bytes), &opts)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            };
            println!(
                "{}: {} unit(s): {} processed ({} resources), {} duplicate(s), {} dead letter(s){}",
                path.display(),
                r.units,
                r.processed,
                r.resources,
                r.duplicates,
                r.dead_letters.len(),
                if r.not_stored > 0 { format!(", {} NOT STORED", r.not_stored) } else { String::new() }
            );
            for (seq, why) in &r.dead_letters {
                println!("  dead letter {seq}: {why}");
            }
            total.add(&r);
        }
        if a.files.len() > 1 {
            println!(
                "total: {} unit(s): {} processed, {} duplicate(s), {} dead letter(s)",
                total.units,
                total.processed,
                total.duplicates,
                total.dead_letters.len()
            );
        }
        if total.not_stored > 0 {
            anyhow::bail!("{} unit(s) could not be stored; run the import again", total.not_stored);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_format_comes_from_the_extension_else_the_content() {
        let of = |name: &str, content: &str| format_of(Path::new(name), content.as_bytes());
        assert!(matches!(of("a.xml", "whatever"), Format::Xml));
        assert!(matches!(of("a", "  <Bundle xmlns=\"http://hl7.org/fhir\"/>"), Format::Xml));
        assert!(matches!(of("a", "\u{feff}<Patient/>"), Format::Xml));
        assert!(matches!(of("a", "{\"resourceType\": \"Patient\"}"), Format::Json));
        assert!(matches!(of("a", "{\"a\": 1}\n{\"b\": 2}"), Format::Ndjson));
        assert!(matches!(of("a", "MSH|^~\\&|"), Format::V2));
        assert!(matches!(of("a", "id,name"), Format::Csv));
    }
}
