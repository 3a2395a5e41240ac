//! Parse and map every message in the shared sample corpus (`../shared/data/hl7v2`): each must
//! either map to a transaction bundle or fail with a reasoned error that becomes an ACK.

use lantern_hl7v2::ack::{response_ack, AckContext, Outcome};
use lantern_hl7v2::map::{map_message, FeedConfig};
use lantern_hl7v2::{parse, Severity};
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hl7v2")
}

#[test]
fn every_corpus_message_maps_or_is_rejected_with_a_reason() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared not found");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    let cfg = FeedConfig::new("corpus", "X99", "Sample Corpus Feed");
    let ctx = AckContext { control_id: "ACK".into(), timestamp: "20240101000000+0000".into() };
    let (mut mapped, mut rejected, mut with_warnings) = (0, 0, 0);
    let mut resource_count = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (msg, parse_issues) = parse(&bytes);
        assert!(
            parse_issues.iter().all(|i| i.severity != Severity::Error),
            "{name}: parse errors {parse_issues:?}"
        );
        match map_message(&msg, &cfg) {
            Ok((out, issues)) => {
                mapped += 1;
                let entries = out.bundle["entry"].as_array().unwrap();
                resource_count += entries.len();
                assert!(entries.len() >= 2, "{name}: bundle has no resources");
                for e in entries {
                    let url = e["request"]["url"].as_str().unwrap();
                    assert!(url.contains("?identifier=") || url.starts_with("Provenance/"), "{name}: {url}");
                    assert!(e["resource"]["meta"]["source"]
                        .as_str()
                        .unwrap()
                        .ends_with(msg.header().unwrap().control_id()));
                }
                // Same message, same bundle: idempotent by construction.
                let (again, _) = map_message(&msg, &cfg).unwrap();
                assert_eq!(again.bundle, out.bundle, "{name}: mapping is not deterministic");
                let warnings: Vec<_> = issues.iter().filter(|i| i.severity == Severity::Warning).collect();
                if !warnings.is_empty() {
                    with_warnings += 1;
                    println!(
                        "MAPPED  {name}: {} entries, {} warnings: {}",
                        entries.len(),
                        warnings.len(),
                        warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(" | ")
                    );
                } else {
                    println!("MAPPED  {name}: {} entries", entries.len());
                }
                assert!(issues.iter().all(|i| i.severity != Severity::Error), "{name}: {issues:?}");
            }
            Err(e) => {
                rejected += 1;
                let issue = e.to_issue();
                let ack =
                    response_ack(&msg, Outcome::from_issues(std::slice::from_ref(&issue)), &[issue], &ctx)
                        .unwrap();
                let text = ack.encode();
                assert!(
                    ["MSA|AR|", "MSA|AE|", "MSA|CR|", "MSA|CE|"].iter().any(|c| text.contains(c)),
                    "{name}: {text}"
                );
                assert!(text.contains("\rERR|"), "{name}: {text}");
                println!("REJECTED {name}: {e}");
            }
        }
    }
    println!("{} files: {mapped} mapped ({with_warnings} with warnings, {resource_count} entries), {rejected} rejected", files.len());
    assert!(mapped + rejected == files.len());
}
