//! `lantern bench trust`: what authentication, the access policy and the audit log cost, over
//! HTTP, as clients see it.
//!
//! Builds a small region in a fresh store — patients held by a GP practice, each with an
//! admission at the acute trust (so the trust's doctors have a care relationship) — and serves
//! it three ways from the same store: trust disabled, enforced without recording reads, and
//! enforced. The same mix of reads and searches is driven against each by concurrent clients,
//! in alternating rounds, and the throughput medians and their ratios are printed. With trust
//! on, every request verifies a JWT, runs under the compiled filter (own data, agreements,
//! relationship probes, opt-out and label checks on every row) and commits an audit record
//! before it is answered. `--prior-records` starts the rounds with a log that already holds
//! records; on PostgreSQL the tables are analyzed after the load, as a running server's are.
use super::percentile;
use lantern_auth::{DevClaims, DevIssuer, Verifier};
use lantern_server::trust::{Security, Trust};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directory for the benchmark's own store (emptied first).
    #[arg(long, default_value = "./lantern-bench-trust")]
    data: PathBuf,
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 500)]
    patients: usize,
    /// Conditions, blood-pressure Observations and MedicationStatements each patient has, of
    /// each. The default keeps records small, so that responses are small and what trust adds
    /// per request weighs the most; a Synthea-sized record has tens of each.
    #[arg(long, default_value_t = 6)]
    records: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests per round. Many short rounds rather than a few long ones: a slow phase of a
    /// shared machine then falls on rounds of every mode alike, and the medians move less
    /// between runs of one binary (measured in BENCHMARKS.md, trust section).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Rounds per mode (alternating off/on).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Only these modes (off, policy, on), e.g. `--only on` to profile one of them.
    #[arg(long, value_delimiter = ',', default_value = "off,policy,on")]
    only: Vec<String>,
    /// Audit records already in the log before the rounds, as on a server that has been
    /// running a while: what the log costs must not grow with its size.
    #[arg(long, default_value_t = 0)]
    prior_records: usize,
}

const GP: &str = "A81001";
const ACUTE: &str = "RVJ";

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        if a.database.is_none() {
            let _ = std::fs::remove_dir_all(&a.data);
        }
        std::fs::create_dir_all(&a.data)?;
        let cfg = lantern_policy::PolicyConfig::from_toml(&format!(
            "[[policy.organisation]]\nods = \"{GP}\"\nkind = \"gp\"\n[[policy.organisation]]\nods = \"{ACUTE}\"\nkind = \"acute\"\n"
        ))
        .map_err(anyhow::Error::msg)?;
        let policy = Arc::new(lantern_policy::Policy::new(cfg).map_err(anyhow::Error::msg)?);
        let fhir = crate::compose::fhir_with_policy(&a.data, a.database.as_deref(), &policy)?;
        let ids = load(&fhir, a.patients, a.records).await?;
        let persons = fhir
            .store
            .with_reader(|c, _| c.query_int("SELECT COUNT(DISTINCT person) FROM person_link", &[]))
            .await?
            .unwrap_or(0);
        eprintln!("loaded {} patients ({persons} persons in the patient index)", ids.len());
        if a.prior_records > 0 {
            let started = Instant::now();
            prior_records(&fhir.store, &ids, a.prior_records).await?;
            eprintln!(
                "{} audit records already in the log ({:.1} s to write)",
                a.prior_records,
                started.elapsed().as_secs_f64()
            );
        }
        if fhir.store.dialect() == lantern_store::Dialect::Postgres {
            // PostgreSQL plans from its statistics, which a bulk load leaves stale until the
            // store's analyze thread (or autovacuum) next looks, seconds later: the rounds measure
            // a server that has been running, not the first seconds after a load.
            fhir.store.write(|tx| tx.conn().batch("ANALYZE")).await?;
        }
        let dev = DevIssuer::open(&a.data)?;
        let trust = Arc::new(Trust::new(Verifier::dev_only(&dev), policy.clone(), fhir.clone()));
        let no_audit = Arc::new(Trust::new(Verifier::dev_only(&dev), policy, fhir.clone()).without_read_audit());
        let off = serve(&fhir, Security::Disabled).await?;
        let on = serve(&fhir, Security::Enforced(trust.clone())).await?;
        let policy_only = serve(&fhir, Security::Enforced(no_audit)).await?;
        let token = dev.issue(&DevClaims::user("dr-bench", ACUTE, "ae-doctor")?, Duration::from_secs(3600));
        let ids = Arc::new(ids);
        // Warm both.
        drive(&off, Some(&token), &ids, a.clients, a.requests / 4).await?;
        drive(&on, Some(&token), &ids, a.clients, a.requests / 4).await?;
        drive(&policy_only, Some(&token), &ids, a.clients, a.requests / 4).await?;
        // Rounds alternate the modes so drift on a noisy machine hits all of them alike.
        let all_modes: [(&str, &str, &str, Option<&str>); 3] = [
            // Every mode gets the same requests, the bearer token included: a client sends it
            // whatever the server does with it, so "off" differs only in the server's work.
            ("off", "trust off", &off, Some(&token)),
            ("policy", "JWT + policy, reads not audited", &policy_only, Some(&token)),
            ("on", "trust on (JWT + policy + audit)", &on, Some(&token)),
        ];
        let modes: Vec<(&str, &str, Option<&str>)> = all_modes
            .iter()
            .filter(|m| a.only.iter().any(|o| o == m.0))
            .map(|&(_, name, base, tok)| (name, base, tok))
            .collect();
        anyhow::ensure!(!modes.is_empty(), "--only names none of the modes off, policy, on");
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut lats: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        // The process's CPU time per request (server and clients alike): on a shared machine
        // it says what a mode costs even when the throughput is limited by the other load.
        let mut cpu = vec![(0.0f64, 0.0f64); modes.len()];
        for round in 0..a.rounds {
            let mut line = format!("round {}:", round + 1);
            for (i, (name, base, tok)) in modes.iter().enumerate() {
                let before = cpu_seconds();
                let (t, mut l) = drive(base, *tok, &ids, a.clients, a.requests).await?;
                let after = cpu_seconds();
                cpu[i].0 += after.0 - before.0;
                cpu[i].1 += after.1 - before.1;
                rates[i].push(t);
                lats[i].append(&mut l);
                line.push_str(&format!(" {name} {t:.0} req/s;"));
            }
            eprintln!("{line}");
        }
        // Each mode against "off" in the same round, before the rates are sorted: the machine's
        // drift between rounds (other load, a noisy neighbour) then cancels out of the ratio.
        let off_first = modes.first().is_some_and(|m| m.0 == all_modes[0].1);
        let mut paired: Vec<Vec<f64>> = (0..modes.len())
            .map(|i| rates[i].iter().zip(&rates[0]).map(|(r, off)| 100.0 * r / off).collect())
            .collect();
        for v in rates.iter_mut().chain(lats.iter_mut()).chain(paired.iter_mut()) {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "| mode | throughput (median of {} rounds) | p50 ms | p99 ms | CPU µs per request (user + kernel) |",
            a.rounds
        );
        println!("|---|---|---|---|---|");
        let per_request = |s: f64| 1e6 * s / (a.rounds * a.requests) as f64;
        for (i, (name, _, _)) in modes.iter().enumerate() {
            let (user, kernel) = (per_request(cpu[i].0), per_request(cpu[i].1));
            println!(
                "| {name} | {:.0} req/s | {:.2} | {:.2} | {:.0} ({user:.0} + {kernel:.0}) |",
                percentile(&rates[i], 50.0),
                percentile(&lats[i], 50.0),
                percentile(&lats[i], 99.0),
                user + kernel
            );
        }
        if off_first {
            let m_off = percentile(&rates[0], 50.0);
            println!();
            for (i, (name, _, _)) in modes.iter().enumerate().skip(1) {
                // The CPU ratio says what the mode costs when the machine is saturated, and moves
                // less than throughput when other load comes and goes; it is a diagnostic beside
                // the throughput ratios, not a substitute for them.
                let cpu_ratio = 100.0 * (cpu[0].0 + cpu[0].1) / (cpu[i].0 + cpu[i].1);
                println!(
                    "{name} / off: {:.1}% (medians); {:.1}% (median of the rounds' own ratios); \
                     {cpu_ratio:.1}% by CPU per request",
                    100.0 * percentile(&rates[i], 50.0) / m_off,
                    percentile(&paired[i], 50.0)
                );
            }
        }
        let report = lantern_audit::Audit::new(fhir.store.clone()).verify(None).await?;
        let commits = trust.audit.commits();
        println!("audit commits to the log's tables (group commits, or journal folds on SQLite): {commits}");
        if let Some(t) = trust.audit.fold_time() {
            // What the folds cost the one writer thread: every other write waits behind them.
            println!(
                "journal folds queued by appends: {}, {:.1} ms each on average, {:.1} ms the longest (start to commit)",
                t.folds,
                t.total.as_secs_f64() * 1e3 / t.folds.max(1) as f64,
                t.longest.as_secs_f64() * 1e3
            );
        }
        println!("audit records written and verified intact: {} ({})", report.records, if report.is_intact() { "intact" } else { "BROKEN" });
        Ok(())
    })
}

/// User and system (kernel) CPU time of this process so far, in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return (0.0, 0.0) };
    // Fields after the command name (which may hold spaces, so split after its ')'):
    // utime and stime are the 12th and 13th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// Writes `n` records of reads by a few hundred users, each of one of the patients, through the
/// same log the rounds use, and folds them and their patient index rows into its tables.
async fn prior_records(store: &lantern_store::Store, ids: &[String], n: usize) -> anyhow::Result<()> {
    use lantern_audit::{Action, Agent, Entry};
    anyhow::ensure!(!ids.is_empty(), "--prior-records needs at least one patient (--patients)");
    let audit = lantern_audit::Audit::new(store.clone());
    let mut written = 0;
    while written < n {
        let batch: Vec<Entry> = (written..n.min(written + 1000))
            .map(|i| {
                let patient = &ids[i % ids.len()];
                let agent =
                    Agent::user(format!("user-{}", i % 300), Some("ae-doctor".into()), Some(ACUTE.into()))
                        .with_purpose("TREAT");
                Entry::new(Action::Read, agent)
                    .patient(patient)
                    .entity(format!("Patient/{patient}/_history/1"))
                    .with_query(format!("GET /fhir/Patient/{patient}"))
            })
            .collect();
        written += batch.len();
        audit.record(batch).await?;
    }
    audit.flush().await?;
    Ok(())
}

/// Patients at the GP practice, each with conditions, observations and medications, and an
/// admission at the acute trust.
async fn load(fhir: &lantern_service::Fhir, n: usize, records: usize) -> anyhow::Result<Vec<String>> {
    let gp = {
        let mut c = lantern_service::Ctx::system("http://localhost/fhir");
        c.org = Some(GP.into());
        c
    };
    let acute = {
        let mut c = lantern_service::Ctx::system("http://localhost/fhir");
        c.org = Some(ACUTE.into());
        c
    };
    let mut ids = Vec::with_capacity(n);
    // Distinct people: each has its own valid NHS number and its own name and birth date, so
    // the patient index keeps them apart (identical demographics would join every record into
    // one person, and each read would then render and check hundreds of links).
    const GIVEN: [&str; 8] = ["Alice", "Bilal", "Chen", "Dafydd", "Eilidh", "Femi", "Grace", "Hamza"];
    let mut nhs = 400_000_000u64;
    for i in 0..n {
        let pid = format!("bench-p{i}");
        let number = loop {
            nhs += 7;
            if let Some(v) = lantern_identity::nhs_number::NhsNumber::from_first_nine(nhs) {
                break v.digits();
            }
        };
        let birth = format!("{}-{:02}-{:02}", 1930 + i % 70, 1 + i % 12, 1 + (i * 7) % 28);
        let mut entries = vec![json!({"resource": {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
            "name": [{"family": format!("Bench{i}"), "given": [GIVEN[i % GIVEN.len()]]}],
            "gender": if i % 2 == 0 { "female" } else { "male" }, "birthDate": birth},
            "request": {"method": "PUT", "url": format!("Patient/{pid}")}})];
        for k in 0..records {
            // One of the Conditions is legally restricted (labelled on arrival, withheld
            // outside the practice): the label test runs on every row.
            entries.push(json!({"resource": {"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": if k == 5 { "15628003" } else { "38341003" }}]}},
                "request": {"method": "POST", "url": "Condition"}}));
            entries.push(json!({"resource": {"resourceType": "Observation", "status": "final", "subject": {"reference": format!("Patient/{pid}")},
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120 + k, "unit": "mm[Hg]"}},
                "request": {"method": "POST", "url": "Observation"}}));
            entries.push(json!({"resource": {"resourceType": "MedicationStatement", "status": "active", "subject": {"reference": format!("Patient/{pid}")},
                "medicationCodeableConcept": {"text": format!("drug {k}")}}, "request": {"method": "POST", "url": "MedicationStatement"}}));
        }
        fhir.bundle(&gp, json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}), false)
            .await?;
        let enc = json!({"resourceType": "Encounter", "status": "in-progress", "class": {"code": "IMP"},
            "subject": {"reference": format!("Patient/{pid}")}});
        fhir.create(&acute, "Encounter", enc, None).await?;
        ids.push(pid);
    }
    Ok(ids)
}

async fn serve(fhir: &lantern_service::Fhir, security: Security) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), crate::compose::identity_model()?.clone());
    let state = lantern_server::AppState {
        fhir: fhir.clone(),
        version: "bench".into(),
        security,
        identity,
        exports: Default::default(),
    };
    tokio::spawn(lantern_server::serve(listener, state));
    Ok(format!("http://{addr}/fhir"))
}

/// Runs `total` requests from `clients` concurrent clients; returns requests/s and latencies.
async fn drive(
    base: &str,
    token: Option<&str>,
    ids: &Arc<Vec<String>>,
    clients: usize,
    total: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let client = reqwest::Client::new();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, base, ids) = (client.clone(), base.to_string(), ids.clone());
        let token = token.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (c..total).step_by(clients) {
                let pid = &ids[(i * 7919) % ids.len()];
                let url = match i % 4 {
                    0 => format!("{base}/Patient/{pid}"),
                    1 => format!("{base}/Condition?patient={pid}"),
                    2 => format!("{base}/Observation?patient={pid}&code=8480-6"),
                    _ => format!("{base}/MedicationStatement?patient={pid}&_count=10"),
                };
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let s = Instant::now();
                let r = req.send().await?;
                let status = r.status();
                let body: Value = r.json().await?;
                anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
                lat.push(s.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((total as f64 / t0.elapsed().as_secs_f64(), all))
}
