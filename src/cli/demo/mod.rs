//! `lantern demo`: builds a synthetic region (`lantern-region`) and serves it.
//!
//! The region's organisations feed it through Lantern's real paths, as live feeds would: the
//! hospital PAS's HL7 v2 over a real MLLP connection to an in-process listener (each message
//! waits for its ACK), the GP practices' and trusts' FHIR transaction bundles through the feeds
//! service's bundle import (the inbox, the policy's labeller, the patient index), the council's
//! CSV through the mapped-CSV import. Then it serves exactly as `lantern serve --data DIR
//! --config DIR/demo/lantern.toml --http ADDR` does.
//!
//! DIR/demo/ holds `lantern.toml` (policy + feeds), `users.json` and `showcase.json` (read by the
//! viewer), `truth.csv` (which person each source record really is) and `region.json` (the
//! marker: what was built, and whether the build finished).
mod load;
mod mllp_client;
mod summary;

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directory for the demo's store and files.
    #[arg(long, default_value = "./lantern-demo")]
    data: PathBuf,
    /// How many people live in the region.
    #[arg(long, default_value_t = 10_000)]
    patients: usize,
    /// Seed of the generator (the same seed gives the same region).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Address for the HTTP API and viewer.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Build the region, then exit.
    #[arg(long)]
    no_serve: bool,
    /// Build again even if DIR already holds a region (DIR is emptied first).
    #[arg(long)]
    rebuild: bool,
}

/// What the marker file says.
#[derive(Debug, PartialEq)]
enum Marker {
    None,
    Building,
    Built(serde_json::Value),
}

fn marker(demo: &Path) -> Marker {
    let Ok(text) = std::fs::read_to_string(demo.join("region.json")) else { return Marker::None };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v["status"] == "built" => Marker::Built(v),
        _ => Marker::Building,
    }
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let demo = a.data.join("demo");
    let config = demo.join("lantern.toml");
    match marker(&demo) {
        Marker::Built(v) if !a.rebuild => {
            eprintln!(
                "Lantern demo: {} already holds a region ({} people, seed {}); not building it again (--rebuild to do so)",
                a.data.display(),
                v["patients"],
                v["seed"]
            );
        }
        m => {
            let empty = std::fs::read_dir(&a.data).map(|mut d| d.next().is_none()).unwrap_or(true);
            if m == Marker::None && !empty {
                anyhow::bail!(
                    "{} is not empty and holds no demo region; give another --data directory",
                    a.data.display()
                );
            }
            if !empty {
                eprintln!("Lantern demo: emptying {} to build again", a.data.display());
                std::fs::remove_dir_all(&a.data).with_context(|| format!("removing {}", a.data.display()))?;
            }
            build(&a, &demo, &config)?;
        }
    }
    if a.no_serve {
        return Ok(());
    }
    super::serve::run(super::serve::Args {
        data: a.data.clone(),
        http: a.http.clone(),
        database: None,
        config: Some(config),
        mllp: None,
        mllp_allow: Vec::new(),
        mllp_ack: lantern_feeds::AckWhen::Received,
        max_body_mb: lantern_server::DEFAULT_MAX_BODY >> 20,
        cors_origin: Vec::new(),
        notify_endpoint: Vec::new(),
    })
}

fn build(a: &Args, demo: &Path, config: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(demo)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let write_marker = |status: &str, extra: serde_json::Value| -> anyhow::Result<()> {
        let mut v = serde_json::json!({"status": status, "patients": a.patients, "seed": a.seed, "now": now});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        std::fs::write(demo.join("region.json"), serde_json::to_string_pretty(&v)?)?;
        Ok(())
    };
    write_marker("building", serde_json::json!({}))?;
    eprintln!("Lantern demo: generating a region of {} people (seed {})", a.patients, a.seed);
    let region = Arc::new(lantern_region::Region::new(lantern_region::RegionConfig {
        patients: a.patients,
        seed: a.seed,
        now,
    }));
    std::fs::write(config, region.config_toml())?;
    let users: Vec<serde_json::Value> = region.users().iter().map(|u| u.to_json()).collect();
    std::fs::write(demo.join("users.json"), serde_json::to_string_pretty(&users)?)?;
    let showcase: Vec<serde_json::Value> = region.showcase().iter().map(|s| s.to_json()).collect();
    std::fs::write(demo.join("showcase.json"), serde_json::to_string_pretty(&showcase)?)?;
    region.write_truth_csv(std::fs::File::create(demo.join("truth.csv"))?)?;
    let planned = started.elapsed();

    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(async {
        let policy = crate::compose::policy(Some(config))?;
        let fhir = crate::compose::fhir_with_policy(&a.data, None, &policy)?;
        let feeds = crate::compose::feeds(fhir.clone(), Some(config)).await?;
        let listeners = crate::compose::mllp(&feeds, Some("127.0.0.1:0"), &[], None).await?;
        let (_, mllp) = listeners.first().cloned().context("the MLLP listener did not start")?;
        let loaded = load::load(region.clone(), feeds, mllp).await?;
        let summary = summary::summarise(&fhir, &region).await?;
        anyhow::Ok((loaded, summary))
    })?;
    // Everything the build opened (store, writer, listener) closes before serving reopens it.
    drop(rt);
    let (loaded, summary) = report;
    let total = started.elapsed();
    println!("\nLantern demo: region built in {:.1}s", total.as_secs_f64());
    println!("  generate the plan and write DIR/demo/: {:.1}s", planned.as_secs_f64());
    loaded.print();
    summary.print();
    write_marker(
        "built",
        serde_json::json!({
            "seconds": (total.as_secs_f64() * 10.0).round() / 10.0,
            "messages_acked": loaded.acked,
            "dead_letters": summary.dead_letters.len(),
        }),
    )?;
    if !summary.dead_letters.is_empty() || loaded.not_acked > 0 {
        eprintln!("Lantern demo: WARNING: the build left dead letters or unacknowledged messages (above)");
    }
    Ok(())
}
