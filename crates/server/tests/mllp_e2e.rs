//! End to end over real sockets: the HTTP API and the MLLP listener on free ports, every
//! message of the shared HL7 v2 sample corpus sent over MLLP from several connections.
//! Each must get AA, or AE/AR with an ERR segment; processed + dead-lettered must equal the
//! distinct messages sent; sending everything again must change nothing.
use lantern_feeds::{Feeds, Route};
use lantern_hl7v2::mllp::{read_frame, write_frame, FrameDecoder};
use lantern_server::mllp::{serve_mllp, MllpConfig};
use lantern_service::Fhir;
use lantern_store::{Store, SystemClock};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

fn corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hl7v2");
    let rd = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "hl7")) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for (i, m) in lantern_feeds::import::split_v2(&std::fs::read(&f).unwrap()).into_iter().enumerate() {
            out.push((format!("{name}#{i}"), m));
        }
    }
    Some(out)
}

async fn send_all(
    addr: std::net::SocketAddr,
    msgs: &[(String, Vec<u8>)],
    conns: usize,
) -> BTreeMap<String, String> {
    let mut tasks = Vec::new();
    for c in 0..conns {
        let mine: Vec<(String, Vec<u8>)> = msgs.iter().skip(c).step_by(conns).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut dec = FrameDecoder::default();
            let mut out = Vec::new();
            for (name, m) in mine {
                write_frame(&mut s, &m).await.unwrap();
                let f =
                    tokio::time::timeout(std::time::Duration::from_secs(60), read_frame(&mut s, &mut dec))
                        .await
                        .unwrap_or_else(|_| panic!("no ACK for {name}"))
                        .unwrap()
                        .unwrap_or_else(|| panic!("connection closed without ACK for {name}"));
                out.push((name, String::from_utf8_lossy(&f.payload).to_string()));
            }
            out
        }));
    }
    let mut acks = BTreeMap::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    acks
}

fn msa1(ack: &str) -> String {
    let msa = ack.split('\r').find(|l| l.starts_with("MSA")).unwrap_or_else(|| panic!("no MSA in {ack}"));
    msa.split('|').nth(1).unwrap_or("").to_string()
}

async fn resource_totals(store: &Store) -> (i64, i64) {
    store
        .with_reader(|c, _| {
            let n = c.query_int("SELECT COUNT(*) FROM resource", &[])?.unwrap_or(0);
            let v = c.query_int("SELECT COALESCE(SUM(ver), 0) FROM resource", &[])?.unwrap_or(0);
            Ok((n, v))
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_sample_message_is_acknowledged_and_accounted_for() {
    let Some(msgs) = corpus() else {
        println!("skipped: ../shared not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(lantern_store_sqlite::SqliteBackend::in_dir(dir.path()).unwrap());
    let store = Store::open(backend, Arc::new(SystemClock)).unwrap();
    let fhir = Fhir::new(store.clone());
    let feeds = Feeds::open(fhir.clone()).await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    let mllp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mllp_addr = mllp.local_addr().unwrap();
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), lantern_mpi::model::default_model());
    let state = lantern_server::AppState {
        fhir,
        version: "test".into(),
        security: lantern_server::trust::Security::Disabled,
        identity,
        exports: Default::default(),
    };
    tokio::spawn(lantern_server::serve_with_feeds(http, state, feeds.clone()));
    tokio::spawn(serve_mllp(mllp, feeds, MllpConfig { route: Route::ByFacility, ..MllpConfig::default() }));

    let acks = send_all(mllp_addr, &msgs, 4).await;
    assert_eq!(acks.len(), msgs.len());
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for (name, ack) in &acks {
        let code = msa1(ack);
        assert!(matches!(code.as_str(), "AA" | "AE" | "AR" | "CA" | "CE" | "CR"), "{name}: {ack}");
        if !matches!(code.as_str(), "AA" | "CA") {
            assert!(ack.contains("\rERR|"), "{name}: {code} without a reason: {ack}");
        }
        *codes.entry(code).or_default() += 1;
    }
    println!("ACK codes: {codes:?}");
    let distinct: HashSet<&Vec<u8>> = msgs.iter().map(|(_, m)| m).collect();
    let client = reqwest::Client::new();
    let counts: serde_json::Value =
        client.get(format!("http://{http_addr}/admin/inbox")).send().await.unwrap().json().await.unwrap();
    let processed = counts["processed"].as_i64().unwrap_or(0);
    let dead = counts["dead"].as_i64().unwrap_or(0);
    assert_eq!((processed + dead) as usize, distinct.len(), "{counts}");
    let dl: serde_json::Value = client
        .get(format!("http://{http_addr}/admin/dead-letters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dl.as_array().unwrap().len() as i64, dead);
    for d in dl.as_array().unwrap() {
        assert!(d["detail"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");
    }
    let before = resource_totals(&store).await;
    assert!(before.0 > 0);

    let again = send_all(mllp_addr, &msgs, 4).await;
    for (name, ack) in &again {
        assert_eq!(msa1(ack), msa1(&acks[name]), "{name}: a re-send must be answered as before");
    }
    assert_eq!(resource_totals(&store).await, before, "re-sending changed resources or versions");
    let counts2: serde_json::Value =
        client.get(format!("http://{http_addr}/admin/inbox")).send().await.unwrap().json().await.unwrap();
    assert_eq!(counts, counts2);
    println!(
        "processed {processed}, dead letters {dead}, resources {} (sum of versions {})",
        before.0, before.1
    );
}
