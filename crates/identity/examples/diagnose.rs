//! Where recall goes: links a CSV with ground truth and sorts the missed true pairs by cause
//! (never a candidate, person guard, below the threshold), printing a few of each with their
//! evidence. A development tool for tuning the default configuration honestly.
//!
//! `cargo run --release -p lantern-identity --example diagnose -- FILE.csv [SAMPLES [CONFIG.toml]]`
//! (columns as `lantern link` reads them; `record_id` and `cluster` as id and truth).
use std::collections::{HashMap, HashSet};

use lantern_identity::{link_records, Config, Decision, Matcher, Reason, Record};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: diagnose FILE.csv [SAMPLES]")?;
    let samples: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let config = match args.get(2) {
        Some(p) => Config::from_toml(&std::fs::read_to_string(p)?)?,
        None => Config::default(),
    };
    let mut reader = csv::Reader::from_path(path)?;
    let headers = reader.headers()?.clone();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (mut records, mut truth, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for row in reader.records() {
        let row = row?;
        let get =
            |n: &str| col(n).and_then(|c| row.get(c)).filter(|s| !s.trim().is_empty()).map(str::to_owned);
        records.push(Record {
            given_name: get("given_name"),
            family_name: get("family_name"),
            previous_family_names: get("previous_names")
                .map(|p| p.split('|').map(str::to_owned).collect())
                .unwrap_or_default(),
            date_of_birth: get("date_of_birth"),
            sex: get("sex"),
            postcode: get("postcode"),
            address_line: get("address_line"),
            town: get("town"),
            phone: get("phone"),
            email: get("email"),
            nhs_number: get("nhs_number"),
            nhs_number_verified: None,
            birth_order: get("birth_order").and_then(|v| v.parse().ok()),
        });
        truth.push(get("cluster").unwrap_or_default());
        ids.push(get("record_id").unwrap_or_default());
    }
    let out = link_records(&records, &config)?;
    println!("timings {:?}", out.report.timings);
    let linked: HashSet<(u32, u32)> =
        out.pairs.iter().filter(|p| p.decision == Decision::Link).map(|p| (p.left, p.right)).collect();
    let mut by_cluster: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, t) in truth.iter().enumerate() {
        by_cluster.entry(t.as_str()).or_default().push(i as u32);
    }
    let fp = linked.iter().filter(|(i, j)| truth[*i as usize] != truth[*j as usize]).count();
    let mut matcher = Matcher::new(&out.model);
    let mut causes: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    let mut true_pairs = 0usize;
    for members in by_cluster.values() {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                true_pairs += 1;
                let (i, j) = (i.min(j), i.max(j));
                if linked.contains(&(i, j)) {
                    continue;
                }
                let ka: HashSet<String> = matcher.blocking_keys(&records[i as usize]).into_iter().collect();
                let kb = matcher.blocking_keys(&records[j as usize]);
                let cause = if !kb.iter().any(|k| ka.contains(k)) {
                    "not a candidate".to_owned()
                } else {
                    let e = out.explain(i, j);
                    match e.reason {
                        Reason::ForenameAndBirthDateDiffer => "person guard".to_owned(),
                        r => format!("{r:?}"),
                    }
                };
                causes.entry(cause).or_default().push((i, j));
            }
        }
    }
    println!("true pairs {true_pairs}, linked {}, false links {fp}", linked.len());
    let mut keys: Vec<_> = causes.keys().cloned().collect();
    keys.sort_by_key(|k| std::cmp::Reverse(causes[k].len()));
    for k in keys {
        let v = &causes[&k];
        println!("\n=== {k}: {} missed pairs", v.len());
        for &(i, j) in v.iter().take(samples) {
            println!("-- {} vs {}\n{}", ids[i as usize], ids[j as usize], out.explain(i, j).render());
        }
    }
    // False links, a few.
    println!("\n=== false links: {fp}");
    for &(i, j) in linked.iter().filter(|(i, j)| truth[*i as usize] != truth[*j as usize]).take(samples) {
        println!("-- {} vs {}\n{}", ids[i as usize], ids[j as usize], out.explain(i, j).render());
    }
    Ok(())
}
