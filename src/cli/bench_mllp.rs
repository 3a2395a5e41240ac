//! `lantern bench mllp`: HL7 v2 ADT over MLLP against an in-process server on a temporary
//! SQLite store. N connections each send a message, wait for its ACK, and send the next
//! (generated A01 admits, then A08 updates, over many patients). Reports acknowledged messages
//! per second and ACK latency percentiles. With `--rate`, the offered load is fixed (spread over
//! the connections) and latency is measured from each message's scheduled send time, so a
//! stall is not hidden by the sender slowing down (no coordinated omission).
//!
//! With `--ack received` (the server's default) an ACK means the message is parsed, mapped and
//! in the receive queue, and the applier takes it in after; the bench then also waits until
//! every message is applied and reports that rate, so the figure for acknowledgements is never
//! read as the rate at which data reaches the record.
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Concurrent MLLP connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Messages to send in total.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Distinct patients (the first message about each is an A01, later ones A08).
    #[arg(long, default_value_t = 5_000)]
    patients: usize,
    /// Offered load in messages/s over all connections (default: as fast as ACKs come back).
    #[arg(long)]
    rate: Option<f64>,
    /// Store directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// When the server acknowledges: `received` (queued, as `lantern serve` by default) or
    /// `applied`.
    #[arg(long, default_value = "received")]
    ack: lantern_feeds::AckWhen,
}

/// One of the benchmark's people: distinct, as in a real hospital, so the patient index does the
/// work it does in production (a few candidates per arrival), not the pathological work of
/// thousands of near-identical "Pat BenchN" born on the same day.
struct Person {
    nhs: String,
    given: &'static str,
    family: String,
    birth: String,
    female: bool,
    street: String,
    town: &'static str,
    postcode: String,
}

fn people(n: usize, seed: u64) -> Vec<Person> {
    use lantern_identity::gen::{parts, Rng};
    let mut rng = Rng::new(seed);
    let surnames = parts::surnames();
    let (women, men) = (parts::forenames(true), parts::forenames(false));
    let streets = parts::streets(&mut rng, (n / 20).max(10));
    (0..n)
        .map(|i| {
            let female = rng.chance(0.5);
            let street = rng.pick(&streets);
            // Test-range NHS numbers (999 ...), each with its Modulus 11 check digit.
            let nhs = (0..)
                .find_map(|k| lantern_identity::NhsNumber::from_first_nine(999_000_000 + (i as u64) * 7 + k))
                .map(|n| n.digits())
                .unwrap_or_default();
            Person {
                nhs,
                given: if female { women.sample(&mut rng) } else { men.sample(&mut rng) },
                family: surnames.sample(&mut rng),
                birth: format!("{}{:02}{:02}", 1930 + rng.below(90), 1 + rng.below(12), 1 + rng.below(28)),
                female,
                street: format!("{} {}", 1 + rng.below(120), street.name(false)),
                town: street.town,
                postcode: street.postcode.clone(),
            }
        })
        .collect()
}

/// Message `n`, about person `patient`: an A01 admit if `first`, else an A08 update.
fn adt(n: usize, patient: usize, p: &Person, first: bool) -> Vec<u8> {
    let (ev, ty) = if first { ("A01", "ADT_A01") } else { ("A08", "ADT_A01") };
    format!(
        "MSH|^~\\&|BENCHPAS|BENCH|LANTERN|REGION|20240501100000||ADT^{ev}^{ty}|B{n}|P|2.5.1\r\
         EVN|{ev}|20240501100000\r\
         PID|1||{nhs}^^^NHS^NH~P{patient}^^^BENCH^MR||{family}^{given}^^^^^L||{birth}|{sex}|||{street}^^{town}^^{postcode}\r\
         PV1|1|I|WARD{ward}^BED{bed}^1||||C{doctor}^Doctor^Dee|||MED|||||||||V{patient}|||||||||||||||||||||||||20240501100000\r",
        nhs = p.nhs,
        family = p.family,
        given = p.given,
        birth = p.birth,
        sex = if p.female { "F" } else { "M" },
        street = p.street,
        town = p.town,
        postcode = p.postcode,
        ward = patient % 10,
        bed = patient % 20,
        doctor = patient % 50,
    )
    .into_bytes()
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let (dir, temp) = match &a.data {
        Some(d) => (d.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
            (std::env::temp_dir().join(format!("lantern-bench-mllp-{}-{nanos}", std::process::id())), true)
        }
    };
    let result = rt.block_on(bench(&a, &dir));
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn bench(a: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    use lantern_hl7v2::mllp::{read_frame, write_frame, FrameDecoder};
    let fhir = crate::compose::fhir(dir, None)?;
    let feeds = crate::compose::feeds(fhir, None).await?;
    feeds.set_default_ack(a.ack);
    crate::compose::start_queue(&feeds, dir).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(lantern_server::mllp::serve_mllp(listener, feeds.clone(), Default::default()));
    // Pre-build the messages: message n is about patient n % patients; the first message
    // about a patient is an A01 admit.
    let who = people(a.patients.max(1), 2026);
    let msgs: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..a.messages)
            .map(|n| {
                let p = n % who.len();
                adt(n, p, &who[p], n < who.len())
            })
            .collect(),
    );
    let conns = a.connections.max(1);
    let interval = a.rate.map(|r| Duration::from_secs_f64(conns as f64 / r.max(0.001)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let msgs = msgs.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let mut dec = FrameDecoder::default();
            let mut lat = Vec::new();
            let mut bad = 0usize;
            let offset = interval.map(|i| i.mul_f64(c as f64 / conns as f64)).unwrap_or_default();
            for (k, m) in msgs.iter().skip(c).step_by(conns).enumerate() {
                let due = match interval {
                    Some(i) => {
                        let due = start + offset + i * k as u32;
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                write_frame(&mut s, m).await?;
                let f = read_frame(&mut s, &mut dec)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("connection closed"))?;
                lat.push(due.elapsed().as_secs_f64() * 1000.0);
                if !f.payload.windows(7).any(|w| w == b"\rMSA|AA") {
                    bad += 1;
                }
            }
            anyhow::Ok((lat, bad))
        }));
    }
    let mut lat = Vec::new();
    let mut bad = 0;
    for t in tasks {
        let (l, b) = t.await??;
        lat.extend(l);
        bad += b;
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|x, y| x.total_cmp(y));
    let pct = |p: f64| lat[((p / 100.0) * (lat.len() - 1) as f64).round() as usize];
    println!(
        "{} ADT messages over {conns} MLLP connections in {secs:.2}s: {:.0} acknowledged/s{}",
        lat.len(),
        lat.len() as f64 / secs,
        a.rate.map(|r| format!(" (offered {r:.0}/s)")).unwrap_or_default()
    );
    println!(
        "ACK latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}; not AA: {bad}",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0)
    );
    let backlog = feeds.queued();
    feeds.queue_drained().await;
    let applied_secs = start.elapsed().as_secs_f64();
    let counts = feeds.fhir().store.inbox_counts().await?;
    let applied = counts.iter().find(|(s, _)| s == "processed").map_or(0, |c| c.1);
    println!(
        "applied: {applied} of {} messages {:.2}s after the first was sent: {:.0} applied/s \
         ({backlog} were still queued when the last ACK came back); inbox {counts:?}",
        a.messages,
        applied_secs,
        applied as f64 / applied_secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{adt, people};

    /// The benchmark's admit must exercise the whole ADT mapping, not a Patient alone.
    #[test]
    fn the_generated_admit_maps_to_patient_encounter_location_and_practitioner() {
        let who = people(10, 1);
        let (msg, _) = lantern_hl7v2::parse(&adt(1, 7, &who[7], true));
        let config = lantern_hl7v2::map::FeedConfig::new("bench", "BENCH", "Bench PAS");
        let (mapped, issues) = lantern_hl7v2::map::map_message(&msg, &config).unwrap();
        let types: Vec<&str> = mapped.bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"]["resourceType"].as_str())
            .collect();
        for t in ["Patient", "Encounter", "Location", "Practitioner", "Provenance"] {
            assert!(types.contains(&t), "{t} missing from {types:?}; issues: {issues:?}");
        }
        // A distinct person with a valid NHS number and an address.
        let patient = &mapped.bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resource"]["resourceType"] == "Patient")
            .unwrap()["resource"];
        assert!(patient["identifier"].to_string().contains(&who[7].nhs), "{patient}");
        assert_eq!(patient["name"][0]["family"], who[7].family.as_str());
        assert!(
            who.iter()
                .map(|p| (&p.family, p.given, &p.birth))
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= 9
        );
    }
}
