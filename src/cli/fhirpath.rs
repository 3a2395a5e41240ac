//! `lantern fhirpath 'EXPR' FILE.json`: evaluate an expression and print the result as JSON.
//! The file may be FHIR XML too (told by its first character), as the FHIRPath specification's
//! own test resources are.
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The FHIRPath expression (may start with '-', e.g. `-1 < 2`).
    #[arg(allow_hyphen_values = true)]
    expression: String,
    /// A JSON (or FHIR XML) file holding the resource to evaluate against.
    file: PathBuf,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.file)?;
    let resource = read_resource(&text).with_context(|| format!("reading {}", a.file.display()))?;
    let out = lantern_fhirpath::evaluate_to_json(&a.expression, &resource)?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// A resource in JSON, or in FHIR XML when the text starts (after a byte-order mark and
/// whitespace) with `<`.
fn read_resource(text: &str) -> anyhow::Result<serde_json::Value> {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with('<') {
        return lantern_fhir::xml::parse(text).map_err(|e| anyhow::anyhow!("not FHIR XML: {e}"));
    }
    Ok(serde_json::from_str(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_or_xml() {
        let json = read_resource(r#"{"resourceType": "Patient", "active": true}"#).unwrap();
        let xml = read_resource(
            "\u{feff} <Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/></Patient>",
        )
        .unwrap();
        assert_eq!(json, xml);
        assert!(read_resource("<Patient/>").unwrap_err().to_string().contains("FHIR namespace"));
    }
}
