//! The feeds service over a real SQLite store: apply, dedupe, dead-letter, replay, import.
use lantern_feeds::{Disposition, Feeds, ImportOptions, Route};
use lantern_service::Fhir;
use lantern_store::{Store, SystemClock};
use std::sync::Arc;

async fn feeds(dir: &std::path::Path) -> Feeds {
    let backend = Arc::new(lantern_store_sqlite::SqliteBackend::in_dir(dir).unwrap());
    let store = Store::open(backend, Arc::new(SystemClock)).unwrap();
    Feeds::open(Fhir::new(store)).await.unwrap()
}

fn adt(control: &str, mrn: &str, family: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|PAS|RVJ|LANTERN|REGION|20240501100000||ADT^A01^ADT_A01|{control}|P|2.5.1\r\
         EVN|A01|20240501100000\r\
         PID|1||{mrn}^^^RVJ^MR~9434765919^^^NHS^NH||{family}^Ann||19800101|F\r\
         PV1|1|I|W1^B1^1||||||||||||||||V{control}\r"
    )
    .into_bytes()
}

fn ack_code(ack: &[u8]) -> String {
    let s = String::from_utf8_lossy(ack);
    s.split('\r').find(|l| l.starts_with("MSA")).unwrap().split('|').nth(1).unwrap().to_string()
}

#[tokio::test]
async fn applies_once_dead_letters_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let f = feeds(dir.path()).await;
    let m = adt("C1", "M1", "Smith");
    let r = f.ingest_v2(&m, &Route::ByFacility).await;
    assert_eq!(
        r.disposition,
        Disposition::Processed,
        "{:?}",
        r.ack.map(|a| String::from_utf8_lossy(&a).to_string())
    );
    assert_eq!(ack_code(r.ack.as_ref().unwrap()), "AA");
    assert_eq!(r.feed, "default-RVJ");
    let again = f.ingest_v2(&m, &Route::ByFacility).await;
    assert_eq!(again.disposition, Disposition::Duplicate);
    assert_eq!(ack_code(again.ack.as_ref().unwrap()), "AA");
    // The same control id with other content is a new message.
    let other = f.ingest_v2(&adt("C1", "M2", "Jones"), &Route::ByFacility).await;
    assert_eq!(other.disposition, Disposition::Processed);

    // Unsupported message type: AR with an ERR segment, kept as a dead letter.
    let bad = b"MSH|^~\\&|PAS|RVJ|L|R|20240501100000||ZZZ^Z01|C9|P|2.5.1\rPID|1||M3^^^RVJ^MR\r".to_vec();
    let r = f.ingest_v2(&bad, &Route::ByFacility).await;
    assert_eq!(r.disposition, Disposition::DeadLettered);
    let ack = String::from_utf8_lossy(r.ack.as_ref().unwrap()).to_string();
    assert_eq!(ack_code(r.ack.as_ref().unwrap()), "AR");
    assert!(ack.contains("\rERR|"), "{ack}");
    let dead = f.fhir().store.inbox_list("dead", 0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].detail.as_deref().unwrap().contains("ZZZ"));
    // Re-sent: the same answer, still one dead letter.
    let r2 = f.ingest_v2(&bad, &Route::ByFacility).await;
    assert_eq!((r2.disposition, r2.code), (Disposition::Duplicate, "AR"));
    assert!(f.replay(dead[0].seq).await.is_err());
    let counts = f.fhir().store.inbox_counts().await.unwrap();
    assert_eq!(counts, vec![("dead".to_string(), 1), ("processed".to_string(), 2)]);

    // Each applied message is in the audit log, by its feed, naming what it wrote; a duplicate
    // wrote nothing and adds no record. The chain is intact.
    let audit = lantern_audit::Audit::new(f.fhir().store.clone());
    let page = audit.list(lantern_audit::Query { count: 100, ..Default::default() }).await.unwrap();
    let by_feed: Vec<_> =
        page.items.iter().filter(|r| r.entry.action == lantern_audit::Action::FeedMessage).collect();
    assert_eq!(by_feed.len(), 2, "{:?}", page.items);
    assert!(by_feed.iter().any(|r| r.entry.query.as_deref() == Some("default-RVJ#C1")), "{by_feed:?}");
    assert!(
        by_feed.iter().all(|r| !r.entry.entities.is_empty() && !r.entry.patients.is_empty()),
        "{by_feed:?}"
    );
    assert!(audit.verify(None).await.unwrap().first_bad.is_none());
}

#[tokio::test]
async fn imports_ndjson_and_csv_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let f = feeds(dir.path()).await;
    let nd = concat!(
        r#"{"resourceType":"Patient","id":"p1","name":[{"family":"A"}]}"#,
        "\n",
        r#"{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"2"}]}"#,
        "\n",
        "not json\n",
        r#"{"resourceType":"Patient","gender":"not-a-gender","id":"p3"}"#,
        "\n",
    );
    let opts = ImportOptions::default();
    let r = f.import_ndjson("a.ndjson", nd, &opts).await;
    assert_eq!(r.resources, 2, "{r:?}");
    assert_eq!(r.dead_letters.len(), 2, "{r:?}");
    let again = f.import_ndjson("a.ndjson", nd, &opts).await;
    assert_eq!(again.processed, 0, "{again:?}");
    let mapping = lantern_feeds::tabular::CsvMapping::from_toml(
        "resource_type = \"Patient\"\n[identifier]\ncolumn = \"mrn\"\nsystem = \"urn:mrn\"\n[[column]]\nname = \"family\"\npath = \"name[0].family\"\n",
    )
    .unwrap();
    let opts = ImportOptions { csv_mapping: Some(mapping), ..Default::default() };
    let csv = "mrn,family\nA1,Smith\nA2,Jones\n";
    let r = f.import_csv("p.csv", csv, &opts).await.unwrap();
    assert_eq!((r.processed, r.resources), (1, 2));
    let r = f.import_csv("p.csv", csv, &opts).await.unwrap();
    assert_eq!(r.duplicates, 1);
}
