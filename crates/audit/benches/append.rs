//! Append throughput on SQLite (a fresh store in a temporary directory, default durability),
//! through `Audit::record` and the store's writer, as the server will call it:
//! - `single`: one record per write job, awaited one after another (a commit each);
//! - `batch64`: 64 records in one job;
//! - `concurrent64`: 64 tasks each recording one record at once — separate jobs that the
//!   writer folds into one group commit, which is what concurrent reads produce.
//!
//! Throughput is per record (`Throughput::Elements`). `append_sqlite` appends straight to the
//! log's tables (as on PostgreSQL); `append_sqlite_journal` goes through the audit journal, as
//! `lantern serve` does on SQLite (lines written on the caller's thread, folded into the tables
//! every 256 records, the folds included in the time).
//!
//! And the price of audit on reads (`read_sqlite`): 64 concurrent clients each making 16
//! service reads of stored Patients one after another, without (`plain`) and with (`audited`)
//! each read awaiting its audit record before "answering". The issue asks audited read
//! throughput to stay at or above 85% of plain; a store-level read is far cheaper than an HTTP
//! one, so this ratio is the pessimistic one.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_audit::{Action, Agent, Audit, Entry};
use lantern_store::{Backend, Store, SystemClock};
use lantern_store_sqlite::SqliteBackend;
use std::sync::Arc;

/// A typical read's record: a user with role, organisation and purpose, one patient, one
/// versioned resource.
fn entry(i: usize) -> Entry {
    Entry::new(
        Action::Read,
        Agent::user(format!("user-{}", i % 50), Some("Consultant".into()), Some("RVJ".into()))
            .with_name("Dr A Jones")
            .with_purpose("direct-care")
            .with_token("6f1c2e7a-4a39-4c39-9f0e-1d2b3c4d5e6f")
            .with_address("10.20.30.40"),
    )
    .patient(&format!("patient-{}", i % 1000))
    .entity(format!("Observation/{i}/_history/1"))
}

fn append(c: &mut Criterion) {
    for journal in [false, true] {
        append_to(c, journal);
    }
}

fn append_to(c: &mut Criterion, journal: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(dir.path()).unwrap());
    let store = Store::open(backend, Arc::new(SystemClock)).unwrap();
    if journal {
        lantern_audit::journal::install(&store, &dir.path().join(lantern_audit::journal::JOURNAL_FILE))
            .unwrap();
    }
    let audit = Audit::new(store);
    let mut i = 0usize;

    let mut g = c.benchmark_group(if journal { "append_sqlite_journal" } else { "append_sqlite" });
    g.throughput(Throughput::Elements(1));
    g.bench_function("single", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(audit.record_one(entry(i))).unwrap()
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch64", |b| {
        b.iter(|| {
            i += 64;
            let batch: Vec<Entry> = (i..i + 64).map(entry).collect();
            rt.block_on(audit.record(batch)).unwrap()
        })
    });
    g.bench_function("concurrent64", |b| {
        b.iter(|| {
            i += 64;
            let base = i;
            rt.block_on(async {
                let tasks: Vec<_> = (0..64)
                    .map(|k| {
                        let a = audit.clone();
                        tokio::spawn(async move { a.record_one(entry(base + k)).await })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap().unwrap();
                }
            })
        })
    });
    g.finish();
    let t = std::time::Instant::now();
    let report = rt.block_on(audit.verify(None)).unwrap();
    assert!(report.is_intact(), "{}", report.summary());
    eprintln!("verify: {} records in {:?}", report.records, t.elapsed());
}

/// Concurrent clients, each making this many reads one after another per iteration.
const CLIENTS: usize = 64;
const READS: usize = 16;

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(dir.path()).unwrap());
    let store = Store::open(backend, Arc::new(SystemClock)).unwrap();
    let fhir = lantern_service::Fhir::new(store.clone());
    let audit = Audit::new(store);
    let ctx = lantern_service::Ctx::system("http://lantern.bench/fhir");
    let ids: Arc<Vec<String>> = Arc::new(rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..1000 {
            let body = serde_json::json!({"resourceType": "Patient", "name": [{"family": format!("Family{i}"), "given": ["Ann"]}],
                "birthDate": "1980-01-01", "gender": "female",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": format!("{}", 9_000_000_000u64 + i)}]});
            ids.push(match fhir.create(&ctx, "Patient", body, None).await.unwrap() {
                lantern_service::Created::New(w) => w.stored.id,
                lantern_service::Created::Existing(s) => s.id,
            });
        }
        ids
    }));
    let mut g = c.benchmark_group("read_sqlite");
    g.throughput(Throughput::Elements((CLIENTS * READS) as u64));
    g.sample_size(20);
    for audited in [false, true] {
        let mut n = 0usize;
        g.bench_function(if audited { "audited" } else { "plain" }, |b| {
            b.iter(|| {
                n += CLIENTS * READS;
                rt.block_on(async {
                    let tasks: Vec<_> = (0..CLIENTS)
                        .map(|k| {
                            let (fhir, audit, ctx, ids) =
                                (fhir.clone(), audit.clone(), ctx.clone(), ids.clone());
                            tokio::spawn(async move {
                                for r in 0..READS {
                                    let i = n + k * READS + r;
                                    let id = &ids[(i * 7919) % ids.len()];
                                    let got = fhir.read(&ctx, "Patient", id).await.unwrap();
                                    if audited {
                                        let what = format!("Patient/{}/_history/{}", got.id, got.version);
                                        audit.record_one(entry(i).entity(what).patient(id)).await.unwrap();
                                    }
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, append, reads);
criterion_main!(benches);
