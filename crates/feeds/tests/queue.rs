//! Acknowledge on receipt, on both backends: the ACK goes out once the message is in the receive
//! queue, the applier takes it in afterwards in the order received, a restart applies what the
//! queue still holds exactly once, and a message that fails when applied is a dead letter.
use lantern_feeds::queue_file::{older_path, Frame, QueueFile, QUEUE_FILE};
use lantern_feeds::{AckWhen, Disposition, Feeds, Route};
use lantern_service::Fhir;
use lantern_testkit::backend_tests;
use lantern_testkit::client::ids;
use std::path::Path;

/// `enhanced`: MSH-15/16 ask for a commit ACK and no application ACK (else original mode).
fn adt(event: &str, control: &str, mrn: &str, family: &str, enhanced: &str) -> Vec<u8> {
    let modes = if enhanced.is_empty() { String::new() } else { format!("|||{enhanced}|NE") };
    format!(
        "MSH|^~\\&|PAS|RVJ|LANTERN|REGION|20240501100000||ADT^{event}^ADT_A01|{control}|P|2.5.1{modes}\r\
         EVN|{event}|20240501100000\r\
         PID|1||{mrn}^^^RVJ^MR||{family}^Ann||19800101|F\r\
         PV1|1|I|W1^B1^1||||||||||||||||V{mrn}\r"
    )
    .into_bytes()
}

fn ack_code(ack: &[u8]) -> String {
    let s = String::from_utf8_lossy(ack);
    s.split('\r').find(|l| l.starts_with("MSA")).unwrap().split('|').nth(1).unwrap().to_string()
}

async fn queued_feeds(fhir: &Fhir, dir: &Path) -> (Feeds, usize) {
    let f = Feeds::open(fhir.clone()).await.unwrap();
    f.set_default_ack(AckWhen::Received);
    let found = f.start_queue(&dir.join(QUEUE_FILE), false).await.unwrap();
    (f, found)
}

async fn family(fhir: &Fhir, mrn: &str) -> String {
    let id = ids(fhir, "Patient", &format!("identifier={mrn}")).await;
    assert_eq!(id.len(), 1, "one Patient for {mrn}");
    let p = fhir.store.read("Patient", &id[0]).await.unwrap().unwrap();
    let p: serde_json::Value = serde_json::from_str(p.body.as_deref().unwrap()).unwrap();
    p["name"][0]["family"].as_str().unwrap().to_string()
}

async fn acknowledges_on_receipt_and_applies_in_order(fhir: Fhir) {
    let dir = tempfile::tempdir().unwrap();
    let (f, found) = queued_feeds(&fhir, dir.path()).await;
    assert_eq!(found, 0);
    // Admit, then two updates of the same patient: the last one received wins.
    let msgs = [
        adt("A01", "C1", "M1", "Smith", ""),
        adt("A08", "C2", "M1", "Jones", ""),
        adt("A08", "C3", "M1", "Brown", "AL"),
    ];
    let mut codes = Vec::new();
    for m in &msgs {
        let r = f.ingest_v2(m, &Route::ByFacility).await;
        assert_eq!(r.disposition, Disposition::Queued);
        codes.push(ack_code(r.ack.as_ref().unwrap()));
    }
    // Original mode AA; enhanced mode (MSH-15 AL) the commit accept its sender asked for.
    assert_eq!(codes, ["AA", "AA", "CA"]);
    // What cannot be parsed or mapped is still refused before any ACK, and kept.
    let bad = b"MSH|^~\\&|PAS|RVJ|L|R|20240501100000||ZZZ^Z01|C9|P|2.5.1\rPID|1||M3^^^RVJ^MR\r";
    let r = f.ingest_v2(bad, &Route::ByFacility).await;
    assert_eq!(
        (r.disposition, ack_code(r.ack.as_ref().unwrap()).as_str()),
        (Disposition::DeadLettered, "AR")
    );

    f.queue_drained().await;
    assert_eq!(f.queued(), 0);
    assert_eq!(family(&fhir, "M1").await, "Brown");
    // A re-sent message, now applied, is answered as before and not applied again (it is
    // queued, and the applier finds it in the inbox); one queued twice is queued once.
    let again = f.ingest_v2(&msgs[0], &Route::ByFacility).await;
    assert_eq!(
        (again.disposition, ack_code(again.ack.as_ref().unwrap()).as_str()),
        (Disposition::Queued, "AA")
    );
    let resent = adt("A08", "C4", "M1", "Green", "");
    assert_eq!(f.ingest_v2(&resent, &Route::ByFacility).await.disposition, Disposition::Queued);
    let twice = f.ingest_v2(&resent, &Route::ByFacility).await.disposition;
    assert!(matches!(twice, Disposition::Duplicate | Disposition::Queued), "{twice:?}");
    f.queue_drained().await;
    assert_eq!(family(&fhir, "M1").await, "Green");
    let again = f.ingest_v2(bad, &Route::ByFacility).await;
    assert_eq!((again.disposition, again.code), (Disposition::DeadLettered, "AR"));
    let counts = fhir.store.inbox_counts().await.unwrap();
    assert_eq!(counts, vec![("dead".to_string(), 1), ("processed".to_string(), 4)]);
}

async fn a_restart_applies_what_the_queue_holds_exactly_once(fhir: Fhir) {
    let dir = tempfile::tempdir().unwrap();
    // One message applied the ordinary way before the "crash"...
    let plain = Feeds::open(fhir.clone()).await.unwrap();
    let first = adt("A01", "C1", "M1", "Smith", "");
    assert_eq!(plain.ingest_v2(&first, &Route::ByFacility).await.disposition, Disposition::Processed);
    // ...and the queue as a crash would leave it: a segment set aside with that message again
    // (its frame not yet cleared) and one never applied; the current segment with a frame of a
    // feed since removed and a torn last frame.
    let path = dir.path().join(QUEUE_FILE);
    let frame = |feed: &str, raw: Vec<u8>| Frame { feed: feed.into(), received: 1, raw };
    let (mut older, _) = QueueFile::open(&older_path(&path), false).unwrap();
    older.append(&frame("default-RVJ", first)).unwrap();
    older.append(&frame("default-RVJ", adt("A01", "C2", "M2", "Jones", ""))).unwrap();
    drop(older);
    let (mut q, _) = QueueFile::open(&path, false).unwrap();
    q.append(&frame("gone", adt("A01", "C3", "M3", "Brown", ""))).unwrap();
    drop(q);
    let torn = frame("default-RVJ", adt("A01", "C4", "M4", "White", "")).encode();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(&torn[..torn.len() / 2]);
    std::fs::write(&path, bytes).unwrap();

    let (f, found) = queued_feeds(&fhir, dir.path()).await;
    assert_eq!(found, 3);
    f.queue_drained().await;
    assert!(!older_path(&path).exists(), "the set-aside segment is removed once applied");
    assert_eq!(family(&fhir, "M1").await, "Smith");
    assert_eq!(family(&fhir, "M2").await, "Jones");
    assert!(ids(&fhir, "Patient", "identifier=M4").await.is_empty(), "a torn frame was never acknowledged");
    let counts = fhir.store.inbox_counts().await.unwrap();
    assert_eq!(counts, vec![("dead".to_string(), 1), ("processed".to_string(), 2)]);
    let dead = fhir.store.inbox_list("dead", 0, 10).await.unwrap();
    let detail = dead[0].detail.clone().unwrap();
    assert!(detail.contains("'gone' is no longer configured") && detail.contains("on receipt"), "{detail}");
    // The patient applied before the crash was not written twice.
    let m1 = ids(&fhir, "Patient", "identifier=M1").await;
    assert_eq!(fhir.store.read("Patient", &m1[0]).await.unwrap().unwrap().version, 1);
}

backend_tests!(
    acknowledges_on_receipt_and_applies_in_order,
    a_restart_applies_what_the_queue_holds_exactly_once
);
