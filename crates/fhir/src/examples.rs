//! The R4 specification's example resources, for the tests that check every one of them
//! (validation, the XML round trip): `$LANTERN_R4_PACKAGE`, else `target/r4pkg/package`, where
//! `.ci/run` unpacks the npm package `hl7.fhir.r4.examples@4.0.1`.
use serde_json::Value;

/// Every example resource (file name, resource) in name order; `None`, said on stderr, when
/// the package is not there, so that the caller skips cleanly.
pub(crate) fn r4_examples() -> Option<Vec<(String, Value)>> {
    let dir = std::env::var("LANTERN_R4_PACKAGE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/r4pkg/package").into());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: no R4 package at {dir}");
        return None;
    };
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if !name.ends_with(".json") || name == "package.json" || name.starts_with('.') {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
        if v.get("resourceType").is_some() {
            out.push((name, v));
        }
    }
    Some(out)
}
