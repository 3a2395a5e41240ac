//! The International Patient Summary's example documents (`hl7.fhir.uv.ips@2.0.0`, CC0), sent
//! as transactions, as a shared care record receiving a summary would take them: every entry
//! created, and every reference between entries (written `urn:uuid:...`, or relative to an
//! absolute fullUrl such as `https://fhir.example.com/Composition/...`) leading to what was
//! created from the entry it names. Reads `$LANTERN_IPS_PACKAGE`, else
//! `target/ipspkg/package`, where `.ci/run` unpacks it; skipped cleanly without it.
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, ctx, parse};
use serde_json::{json, Value};
use std::path::PathBuf;

fn examples() -> Option<PathBuf> {
    let dir = std::env::var_os("LANTERN_IPS_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ipspkg/package"))
        .join("example");
    dir.is_dir().then_some(dir)
}

/// Every `reference` string in `v`.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                match (k.as_str(), c) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => references(c, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| references(c, out)),
        _ => {}
    }
}

async fn documents_arrive_whole(fhir: Fhir) {
    let Some(dir) = examples() else {
        eprintln!("skipping: no IPS package (set LANTERN_IPS_PACKAGE, or run .ci/run once)");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("Bundle-")))
        .collect();
    files.sort();
    let (mut documents, mut followed) = (0, 0);
    for path in files {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if doc["type"] != "document" {
            continue;
        }
        documents += 1;
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let entries = doc["entry"].as_array().unwrap();
        let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries.iter().map(|e| json!({
            "fullUrl": e["fullUrl"],
            "resource": e["resource"],
            "request": {"method": "POST", "url": e["resource"]["resourceType"]}
        })).collect::<Vec<_>>()});
        let out = parse(&fhir.bundle(&ctx(), tx, true).await.unwrap_or_else(|e| panic!("{name}: {e:?}")));
        let made = out["entry"].as_array().unwrap();
        assert_eq!(made.len(), entries.len(), "{name}");
        // Where each entry's resource now is, by the fullUrl it arrived with.
        let mut now_at = std::collections::HashMap::new();
        for (sent, m) in entries.iter().zip(made) {
            let r = &m["resource"];
            let at = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
            now_at.insert(sent["fullUrl"].as_str().unwrap().to_string(), at);
        }
        for (sent, m) in entries.iter().zip(made) {
            let (mut before, mut after) = (Vec::new(), Vec::new());
            references(&sent["resource"], &mut before);
            references(&m["resource"], &mut after);
            // A relative reference reads against the fullUrl's base (`https://x/fhir`).
            let base = sent["fullUrl"].as_str().and_then(|f| f.rsplitn(3, '/').nth(2)).unwrap_or("");
            for r in &before {
                let Some(target) = now_at.get(r).or_else(|| now_at.get(&format!("{base}/{r}"))) else {
                    continue; // not to another entry of the document
                };
                assert!(
                    after.contains(target),
                    "{name}: {r} should now be {target}; the resource has {after:?}"
                );
                followed += 1;
                let (t, id) = target.split_once('/').unwrap();
                assert!(fhir.read(&ctx(), t, id).await.is_ok(), "{name}: {target} does not read");
            }
        }
    }
    assert!(documents >= 4, "only {documents} documents");
    assert!(followed > 100, "only {followed} references between entries were followed");
}

backend_tests!(documents_arrive_whole);
