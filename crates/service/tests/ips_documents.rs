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

/// The package's example documents (file name, Bundle) in name order; `None`, said on stderr,
/// without the package.
fn documents() -> Option<Vec<(String, Value)>> {
    let Some(dir) = examples() else {
        eprintln!("skipping: no IPS package (set LANTERN_IPS_PACKAGE, or run .ci/run once)");
        return None;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("Bundle-")))
        .collect();
    files.sort();
    let docs = files.into_iter().filter_map(|path| {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        (doc["type"] == "document").then_some((name, doc))
    });
    Some(docs.collect())
}

/// Sends a document's entries as one transaction; returns the response's entries and where
/// each sent entry's resource now is (`Type/id`), by the fullUrl it arrived with.
async fn store(
    fhir: &Fhir,
    name: &str,
    doc: &Value,
) -> (Vec<Value>, std::collections::HashMap<String, String>) {
    let entries = doc["entry"].as_array().unwrap();
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries.iter().map(|e| json!({
        "fullUrl": e["fullUrl"],
        "resource": e["resource"],
        "request": {"method": "POST", "url": e["resource"]["resourceType"]}
    })).collect::<Vec<_>>()});
    let out = parse(&fhir.bundle(&ctx(), tx, true).await.unwrap_or_else(|e| panic!("{name}: {e:?}")));
    let made = out["entry"].as_array().unwrap().clone();
    assert_eq!(made.len(), entries.len(), "{name}");
    let mut now_at = std::collections::HashMap::new();
    for (sent, m) in entries.iter().zip(&made) {
        let r = &m["resource"];
        let at = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
        now_at.insert(sent["fullUrl"].as_str().unwrap().to_string(), at);
    }
    (made, now_at)
}

async fn documents_arrive_whole(fhir: Fhir) {
    let Some(docs) = documents() else { return };
    let (mut documents, mut followed) = (0, 0);
    for (name, doc) in docs {
        documents += 1;
        let entries = doc["entry"].as_array().unwrap();
        let (made, now_at) = store(&fhir, &name, &doc).await;
        for (sent, m) in entries.iter().zip(&made) {
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

/// The sections of a document's Composition, by LOINC code: the entries each lists.
fn sections(doc: &Value) -> Vec<(String, Vec<String>)> {
    let composition = &doc["entry"][0]["resource"];
    composition["section"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let code = s["code"]["coding"][0]["code"].as_str().unwrap_or("").to_string();
            let refs = s["entry"].as_array().into_iter().flatten();
            (code, refs.filter_map(|r| r["reference"].as_str().map(str::to_string)).collect())
        })
        .collect()
}

/// What Lantern's own `Composition/[id]/$document` and `Patient/[id]/$summary` make of each
/// example document once stored. The document: every resource the example held, once each,
/// valid R4. The summary: a
/// document Bundle valid against R4, its Composition first with the IPS's three required
/// sections, every section entry resolvable inside the Bundle, and every problem, allergy,
/// medication, immunization and procedure the example's own Composition listed found again
/// (in whichever section its status puts it).
async fn summaries_give_back_what_documents_listed(fhir: Fhir) {
    let Some(docs) = documents() else { return };
    let (mut summaries, mut found_again) = (0, 0);
    for (name, doc) in docs {
        let (_, now_at) = store(&fhir, &name, &doc).await;
        // The stored Composition as a document again ($document): every resource the example
        // held, found by following references from the Composition.
        let composition = &now_at[doc["entry"][0]["fullUrl"].as_str().unwrap()];
        let again = parse(
            &fhir
                .document(&ctx(), composition.trim_start_matches("Composition/"), &[])
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:?}")),
        );
        assert_eq!(again["type"], "document");
        assert_eq!(again["entry"][0]["fullUrl"], format!("http://lantern.test/fhir/{composition}"));
        let issues = lantern_fhir::validate::validate(&again);
        assert!(issues.is_empty(), "{name}: the document is not valid R4: {issues:?}");
        let held: std::collections::BTreeSet<String> = again["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["fullUrl"].as_str().unwrap().trim_start_matches("http://lantern.test/fhir/").to_string()
            })
            .collect();
        let sent: std::collections::BTreeSet<String> = now_at.values().cloned().collect();
        let missing: Vec<&String> = sent.difference(&held).collect();
        assert!(missing.is_empty(), "{name}: $document left out {missing:?}");
        assert_eq!(held.len(), again["entry"].as_array().unwrap().len(), "{name}: each resource once");
        // Kept when asked (persist=true): the document reads back as a stored Bundle.
        let persist = [("persist".to_string(), "true".to_string())];
        let kept = parse(
            &fhir.document(&ctx(), composition.trim_start_matches("Composition/"), &persist).await.unwrap(),
        );
        let stored = fhir.read(&ctx(), "Bundle", kept["id"].as_str().unwrap()).await.unwrap();
        assert_eq!(parse(stored.body.as_deref().unwrap())["entry"], again["entry"], "{name}");
        let Some(patient) = now_at.values().find(|v| v.starts_with("Patient/")) else { continue };
        let id = patient.trim_start_matches("Patient/");
        let summary = parse(&fhir.summary(&ctx(), id, &[]).await.unwrap_or_else(|e| panic!("{name}: {e:?}")));
        summaries += 1;
        assert_eq!(summary["type"], "document");
        assert!(summary["identifier"]["value"].is_string() && summary["timestamp"].is_string());
        let issues = lantern_fhir::validate::validate(&summary);
        assert!(issues.is_empty(), "{name}: the summary is not valid R4: {issues:?}");
        let composition = &summary["entry"][0]["resource"];
        assert_eq!(composition["resourceType"], "Composition");
        assert_eq!(composition["type"]["coding"][0]["code"], "60591-5");
        let ours = sections(&summary);
        for required in ["11450-4", "48765-2", "10160-0"] {
            assert!(ours.iter().any(|(c, _)| c == required), "{name}: no section {required}");
        }
        let urls: Vec<&str> =
            summary["entry"].as_array().unwrap().iter().filter_map(|e| e["fullUrl"].as_str()).collect();
        for (code, refs) in &ours {
            for r in refs {
                assert!(urls.contains(&r.as_str()), "{name}: section {code} lists {r}, not in the Bundle");
            }
        }
        let listed: Vec<String> = ours
            .iter()
            .flat_map(|(_, refs)| refs.iter().map(|r| r.rsplitn(3, '/').take(2).collect::<Vec<_>>()))
            .map(|p| format!("{}/{}", p[1], p[0]))
            .collect();
        for (code, refs) in sections(&doc) {
            if !["11450-4", "48765-2", "10160-0", "11369-6", "47519-4"].contains(&code.as_str()) {
                continue;
            }
            let base =
                doc["entry"][0]["fullUrl"].as_str().and_then(|f| f.rsplitn(3, '/').nth(2)).unwrap_or("");
            for r in refs {
                let Some(at) = now_at.get(&r).or_else(|| now_at.get(&format!("{base}/{r}"))) else {
                    continue;
                };
                assert!(
                    listed.contains(at),
                    "{name}: its section {code} listed {r} (now {at}); ours has {ours:?}"
                );
                found_again += 1;
            }
        }
    }
    assert!(summaries >= 4, "only {summaries} summaries");
    assert!(found_again > 20, "only {found_again} section entries compared");
    eprintln!("{summaries} summaries; {found_again} entries of the examples' sections found again");
}

backend_tests!(documents_arrive_whole, summaries_give_back_what_documents_listed);
