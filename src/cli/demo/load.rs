//! Feeding the region in: one generator thread makes each person's deliveries (the region's
//! payloads are made on demand, so memory stays flat) and hands them to senders — MLLP
//! connections for the PAS (a person's messages in order on one connection, several
//! connections in parallel) and bundle submitters for the GP, community and mental-health
//! feeds (several in parallel, so the store's writer can commit many in one group). The
//! council's CSV rows are gathered and imported last, clients before involvements.
use super::mllp_client::{ack_code, Client};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lantern_feeds::{Disposition, Feeds, ImportOptions, ImportReport};
use lantern_region::{Payload, Region};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

/// Parallel MLLP connections and bundle submitters.
const CONNECTIONS: usize = 16;
const SUBMITTERS: usize = 16;

/// What loading did.
#[derive(Default)]
pub(super) struct Loaded {
    pub(super) messages: usize,
    pub(super) acked: usize,
    pub(super) not_acked: usize,
    /// (control id, MSA-1, ERR text) of the first few messages not accepted.
    pub(super) rejected: Vec<(String, String, String)>,
    pub(super) bundles: ImportReport,
    pub(super) csv: ImportReport,
    pub(super) stage: Vec<(String, Duration)>,
}

impl Loaded {
    pub(super) fn print(&self) {
        for (what, d) in &self.stage {
            println!("  {what}: {:.1}s", d.as_secs_f64());
        }
        println!(
            "  HL7 v2 over MLLP: {} messages, {} acknowledged AA, {} not",
            self.messages, self.acked, self.not_acked
        );
        for (id, code, why) in &self.rejected {
            println!("    {id}: {code} {why}");
        }
        let b = &self.bundles;
        println!(
            "  FHIR bundles: {} sent, {} applied ({} resources), {} duplicate(s), {} dead letter(s)",
            b.units,
            b.processed,
            b.resources,
            b.duplicates,
            b.dead_letters.len()
        );
        let c = &self.csv;
        println!(
            "  CSV: {} chunk(s) applied ({} rows), {} dead letter(s)",
            c.processed,
            c.resources,
            c.dead_letters.len()
        );
        for (seq, why) in b.dead_letters.iter().chain(&c.dead_letters).take(10) {
            println!("    dead letter {seq}: {why}");
        }
    }
}

struct Bars {
    by_org: Vec<ProgressBar>,
}

fn bars(region: &Region) -> Bars {
    let multi = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:>48} {bar:30.cyan/blue} {pos:>6}/{len:6} records {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut counts = vec![0u64; region.organisations().len()];
    for p in region.people() {
        for r in &p.records {
            counts[r.org] += 1;
        }
    }
    let by_org = region
        .organisations()
        .iter()
        .zip(counts)
        .map(|(o, n)| {
            let b = multi.add(ProgressBar::new(n));
            b.set_style(style.clone());
            b.set_prefix(o.name);
            b
        })
        .collect();
    Bars { by_org }
}

/// One person's PAS messages, or one bundle.
enum Work {
    V2 { org: usize, records: u64, messages: Vec<String> },
    Bundle { org: usize, feed: &'static str, text: String },
}

fn records_at(region: &Region, person: usize, org: usize) -> u64 {
    region.people()[person].records.iter().filter(|r| r.org == org).count() as u64
}

pub(super) async fn load(
    region: Arc<Region>,
    feeds: Feeds,
    mllp: std::net::SocketAddr,
) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let bars = Arc::new(bars(&region));
    let (v2_tx, v2_rx) = mpsc::channel::<Work>(256);
    let (fhir_tx, fhir_rx) = mpsc::channel::<Work>(256);
    let generator = {
        let region = region.clone();
        std::thread::spawn(move || {
            let mut csv: BTreeMap<&'static str, Vec<Vec<String>>> = BTreeMap::new();
            for i in 0..region.people().len() {
                let mut v2: HashMap<usize, Vec<String>> = HashMap::new();
                for d in region.deliveries_for(i) {
                    match d.payload {
                        Payload::V2(m) => v2.entry(d.org).or_default().push(m),
                        Payload::Bundle(text) => {
                            if fhir_tx.blocking_send(Work::Bundle { org: d.org, feed: d.feed, text }).is_err()
                            {
                                return csv;
                            }
                        }
                        Payload::Csv { table, rows } => csv.entry(table).or_default().extend(rows),
                    }
                }
                for (org, messages) in v2 {
                    let records = records_at(&region, i, org);
                    if v2_tx.blocking_send(Work::V2 { org, records, messages }).is_err() {
                        return csv;
                    }
                }
            }
            csv
        })
    };
    let v2_rx = Arc::new(Mutex::new(v2_rx));
    let fhir_rx = Arc::new(Mutex::new(fhir_rx));
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)]);
    let rejected = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for _ in 0..CONNECTIONS {
        let (rx, bars, counts, rejected) = (v2_rx.clone(), bars.clone(), counts.clone(), rejected.clone());
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(mllp).await?;
            loop {
                let work = rx.lock().await.recv().await;
                let Some(Work::V2 { org, records, messages }) = work else { break };
                for m in &messages {
                    let ack = client.send(m.as_bytes()).await?;
                    let (code, why) = ack_code(&ack);
                    counts[0].fetch_add(1, Ordering::Relaxed);
                    if code == "AA" {
                        counts[1].fetch_add(1, Ordering::Relaxed);
                    } else {
                        let control = m.split('|').nth(9).unwrap_or_default().to_string();
                        let mut r = rejected.lock().unwrap_or_else(|e| e.into_inner());
                        if r.len() < 10 {
                            r.push((control, code, why));
                        }
                    }
                }
                bars.by_org[org].inc(records);
            }
            anyhow::Ok(Instant::now())
        }));
    }
    let bundle_report = Arc::new(std::sync::Mutex::new(ImportReport::default()));
    let mut submitters = Vec::new();
    for _ in 0..SUBMITTERS {
        let (rx, bars, feeds, report) = (fhir_rx.clone(), bars.clone(), feeds.clone(), bundle_report.clone());
        submitters.push(tokio::spawn(async move {
            loop {
                let work = rx.lock().await.recv().await;
                let Some(Work::Bundle { org, feed, text }) = work else { break };
                let bundle: serde_json::Value = serde_json::from_str(&text)?;
                let n = bundle["entry"].as_array().map_or(0, Vec::len);
                // The bundle's own name (its meta.source fragment) is its control id, so a
                // re-sent bundle is recognised as the same one.
                let control = bundle
                    .pointer("/entry/0/resource/meta/source")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|s| s.split('#').nth(1))
                    .unwrap_or("bundle")
                    .to_string();
                let (d, seq, why) = feeds.ingest_fhir(feed, &control, "fhir", bundle, true).await;
                let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
                r.units += 1;
                match d {
                    // FHIR bundles are never queued; see lantern_feeds::queue.
                    Disposition::Processed | Disposition::Queued => {
                        r.processed += 1;
                        r.resources += n;
                    }
                    Disposition::Duplicate => r.duplicates += 1,
                    Disposition::DeadLettered => {
                        r.dead_letters.push((seq.unwrap_or(0), why.unwrap_or_default()))
                    }
                    Disposition::NotStored => r.not_stored += 1,
                }
                drop(r);
                bars.by_org[org].inc(1);
            }
            anyhow::Ok(Instant::now())
        }));
    }
    let mut stage = Vec::new();
    let mut last_v2 = started;
    for s in senders {
        last_v2 = last_v2.max(s.await??);
    }
    let mut last_fhir = started;
    for s in submitters {
        last_fhir = last_fhir.max(s.await??);
    }
    let csv_rows = generator.join().map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    stage.push(("hospital PAS over MLLP (in parallel with the bundles)".to_string(), last_v2 - started));
    stage.push(("GP, community and mental-health bundles".to_string(), last_fhir - started));

    let csv_started = Instant::now();
    let mut csv = ImportReport::default();
    let council = region.organisations().iter().position(|o| o.transport == lantern_region::Transport::Csv);
    for table in region.csv_tables() {
        let rows = csv_rows.get(table.name).cloned().unwrap_or_default();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&table.header)?;
        for r in &rows {
            w.write_record(r)?;
        }
        let text = String::from_utf8(w.into_inner()?)?;
        let mapping =
            lantern_feeds::tabular::CsvMapping::from_toml(&table.mapping).map_err(anyhow::Error::msg)?;
        let feed = council.map(|c| region.organisations()[c].feed.to_string());
        let opts = ImportOptions { feed, csv_mapping: Some(mapping), chunk: 100 };
        let r = feeds
            .import_csv(&format!("{}.csv", table.name), &text, &opts)
            .await
            .map_err(anyhow::Error::msg)?;
        csv.add(&r);
        if let Some(c) = council {
            if table.name == "clients" {
                bars.by_org[c].inc(rows.len() as u64);
            }
        }
    }
    for b in &bars.by_org {
        b.finish();
    }
    stage.push(("council CSV (after the rest)".to_string(), csv_started.elapsed()));
    let rejected = std::mem::take(&mut *rejected.lock().unwrap_or_else(|e| e.into_inner()));
    let bundles = std::mem::take(&mut *bundle_report.lock().unwrap_or_else(|e| e.into_inner()));
    let messages = counts[0].load(Ordering::Relaxed);
    let acked = counts[1].load(Ordering::Relaxed);
    Ok(Loaded { messages, acked, not_acked: messages - acked, rejected, bundles, csv, stage })
}
