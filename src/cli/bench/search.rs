//! `lantern bench search`: latency of typical clinical searches and `Patient/$everything` on a
//! store loaded by `bench ingest`, one request at a time, through the service layer.
use super::percentile;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    store: super::StoreArgs,
    /// Requests per search kind.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
}

/// Builds the i-th request of one search kind: the resource type and the query string.
type MakeQuery<'a> = Box<dyn Fn(usize) -> (Option<&'static str>, String) + 'a>;

fn q(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let fhir = a.store.open()?;
        let ctx = lantern_service::Ctx::system("http://localhost/fhir");
        // Sample patients to search for.
        let page: serde_json::Value =
            serde_json::from_str(&fhir.search(&ctx, Some("Patient"), &q("_count=500&_total=none")).await?)?;
        let ids: Vec<String> = page["entry"]
            .as_array()
            .map(|v| v.iter().filter_map(|e| e["resource"]["id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        anyhow::ensure!(!ids.is_empty(), "the store is empty: run `lantern bench ingest` first");
        let nhs: Vec<String> = page["entry"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|e| e["resource"]["identifier"][0]["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        // The patient with the most resources is the first one loaded (bench ingest --big-patient).
        let big: serde_json::Value = serde_json::from_str(
            &fhir
                .search(&ctx, Some("Patient"), &q("identifier=https://bench.lantern.health/mrn|MRN00000000"))
                .await?,
        )?;
        let big_id = big["entry"][0]["resource"]["id"].as_str().map(str::to_string);
        let kinds: Vec<(&str, MakeQuery<'_>)> = vec![
            (
                "token: Observation?code=loinc|8480-6 (first page)",
                Box::new(|_| (Some("Observation"), "code=http://loinc.org|8480-6".to_string())),
            ),
            (
                "token: Patient?identifier=nhs|N",
                Box::new(|i| {
                    (
                        Some("Patient"),
                        format!("identifier=https://fhir.nhs.uk/Id/nhs-number|{}", nhs[i % nhs.len()]),
                    )
                }),
            ),
            (
                "reference: Observation?subject=Patient/X",
                Box::new(|i| (Some("Observation"), format!("subject=Patient/{}", ids[i % ids.len()]))),
            ),
            (
                "reference+token: Observation?patient=X&code=8867-4",
                Box::new(|i| (Some("Observation"), format!("patient={}&code=8867-4", ids[i % ids.len()]))),
            ),
            (
                "date+reference: Encounter?patient=X&date=ge2015",
                Box::new(|i| (Some("Encounter"), format!("patient={}&date=ge2015", ids[i % ids.len()]))),
            ),
            (
                "string: Patient?family=smi&birthdate=ge1950",
                Box::new(|_| (Some("Patient"), "family=smi&birthdate=ge1950".to_string())),
            ),
            (
                "chain: Observation?subject.identifier=mrn|M&code=8480-6",
                Box::new(|i| {
                    (
                        Some("Observation"),
                        format!(
                            "subject.identifier=https://bench.lantern.health/mrn|MRN{:08}&code=8480-6",
                            1 + i % 50
                        ),
                    )
                }),
            ),
        ];
        println!("| search | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|");
        for (name, make) in &kinds {
            let mut times = Vec::with_capacity(a.iterations);
            for i in 0..a.iterations {
                let (t, qs) = make(i);
                let t0 = Instant::now();
                let _ = fhir.search(&ctx, t, &q(&qs)).await?;
                times.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| {name} | {:.2} | {:.2} | {:.2} |",
                percentile(&times, 50.0),
                percentile(&times, 95.0),
                percentile(&times, 99.0)
            );
        }
        if let Some(id) = big_id {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..(a.iterations / 10).max(5) {
                let t0 = Instant::now();
                let out = fhir.everything(&ctx, vec![id.clone()], &q("_count=5000")).await?;
                times.push(t0.elapsed().as_secs_f64() * 1000.0);
                n = out.matches("\"fullUrl\"").count();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| Patient/$everything ({n} resources, one page) | {:.2} | {:.2} | {:.2} |",
                percentile(&times, 50.0),
                percentile(&times, 95.0),
                percentile(&times, 99.0)
            );
        }
        Ok(())
    })
}
