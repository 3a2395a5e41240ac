//! `lantern link --input FILE.csv --id-column COL`: train a matching model on a file of people,
//! link them, write linked pairs and clusters, and (with a ground-truth column) print precision,
//! recall and F1.
//!
//! Columns read (any may be missing or empty; others are ignored): `given_name`, `family_name`,
//! `previous_names` (`|`-separated), `date_of_birth` (YYYY-MM-DD), `sex`, `postcode`,
//! `address_line`, `town`, `phone`, `email`, `nhs_number`, `nhs_number_verified`, `birth_order`
//! (place in a multiple birth: records that give different places are not linked unasked).
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context};
use lantern_identity::eval::{cluster_metrics, pair_metrics, Metrics};
use lantern_identity::{link_records, Config, Decision, Record};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// CSV file with a header row.
    #[arg(long)]
    input: PathBuf,
    /// Column holding each record's unique id.
    #[arg(long)]
    id_column: String,
    /// Column holding the true person (ground truth): prints precision, recall and F1.
    #[arg(long)]
    cluster_column: Option<String>,
    /// Write linked pairs here as `id_l,id_r,score`.
    #[arg(long)]
    output_pairs: Option<PathBuf>,
    /// Write each record's cluster here as `id,cluster`.
    #[arg(long)]
    output_clusters: Option<PathBuf>,
    /// Write pairs sent to review here as `id_l,id_r,score`.
    #[arg(long)]
    output_review: Option<PathBuf>,
    /// Write the trained model (m/u, term frequencies) here as JSON.
    #[arg(long)]
    model_out: Option<PathBuf>,
    /// Matching configuration (TOML); defaults are used for anything not set.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the link threshold (match weight, log2 odds; 0 = probability 0.5).
    #[arg(long, allow_hyphen_values = true)]
    link_threshold: Option<f64>,
    /// Override the review threshold.
    #[arg(long, allow_hyphen_values = true)]
    review_threshold: Option<f64>,
    /// Print the explanation of this many linked pairs (those closest to the link threshold).
    #[arg(long, default_value_t = 0)]
    explain: usize,
}

fn column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name))
}

struct Input {
    ids: Vec<String>,
    truth: Option<Vec<u32>>,
    records: Vec<Record>,
}

fn read(a: &Args) -> anyhow::Result<Input> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&a.input)
        .with_context(|| format!("opening {}", a.input.display()))?;
    let headers = reader.headers()?.clone();
    let id_col = column(&headers, &a.id_column).ok_or_else(|| anyhow!("no column {}", a.id_column))?;
    let truth_col = match &a.cluster_column {
        Some(c) => Some(column(&headers, c).ok_or_else(|| anyhow!("no column {c}"))?),
        None => None,
    };
    let col = |n: &str| column(&headers, n);
    let cols = [
        col("given_name"),
        col("family_name"),
        col("date_of_birth"),
        col("sex"),
        col("postcode"),
        col("address_line"),
        col("town"),
        col("phone"),
        col("email"),
        col("nhs_number"),
    ];
    let (prev_col, verified_col) = (col("previous_names"), col("nhs_number_verified"));
    let order_col = col("birth_order");
    let mut input = Input { ids: Vec::new(), truth: truth_col.map(|_| Vec::new()), records: Vec::new() };
    let mut truth_ids: HashMap<String, u32> = HashMap::new();
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row)? {
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let [given_name, family_name, date_of_birth, sex, postcode, address_line, town, phone, email, nhs_number] =
            cols.map(get);
        input.records.push(Record {
            given_name,
            family_name,
            previous_family_names: get(prev_col)
                .map(|p| p.split('|').filter(|s| !s.trim().is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            date_of_birth,
            sex,
            postcode,
            address_line,
            town,
            phone,
            email,
            nhs_number,
            nhs_number_verified: get(verified_col)
                .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "y")),
            birth_order: get(order_col).and_then(|v| v.parse().ok()),
        });
        input.ids.push(row.get(id_col).unwrap_or_default().to_owned());
        if let (Some(tc), Some(truth)) = (truth_col, input.truth.as_mut()) {
            let key = row.get(tc).unwrap_or_default().to_owned();
            let next = truth_ids.len() as u32;
            truth.push(*truth_ids.entry(key).or_insert(next));
        }
    }
    Ok(input)
}

fn write_pairs(
    path: &PathBuf,
    ids: &[String],
    pairs: impl Iterator<Item = (u32, u32, f32)>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(["id_l", "id_r", "score"])?;
    for (l, r, s) in pairs {
        w.write_record([ids[l as usize].as_str(), ids[r as usize].as_str(), &format!("{s:.3}")])?;
    }
    w.flush()?;
    Ok(())
}

fn print_metrics(what: &str, m: &Metrics) {
    println!(
        "{what}: precision {:.4}  recall {:.4}  F1 {:.4}  (true pairs {}, predicted {}, true positives {})",
        m.precision, m.recall, m.f1, m.true_pairs, m.predicted_pairs, m.true_positives
    );
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut config = match &a.config {
        Some(p) => Config::from_toml(&std::fs::read_to_string(p)?)?,
        None => Config::default(),
    };
    if let Some(t) = a.link_threshold {
        config.link_threshold = t;
    }
    if let Some(t) = a.review_threshold {
        config.review_threshold = t;
    }
    config.review_threshold = config.review_threshold.min(config.link_threshold);
    let input = read(&a)?;
    let read_secs = start.elapsed().as_secs_f64();
    let out = link_records(&input.records, &config)?;
    let link_secs = start.elapsed().as_secs_f64() - read_secs;

    let links = || out.pairs.iter().filter(|p| p.decision == Decision::Link);
    if let Some(p) = &a.output_pairs {
        write_pairs(p, &input.ids, links().map(|p| (p.left, p.right, p.score)))?;
    }
    if let Some(p) = &a.output_review {
        let reviews = out.pairs.iter().filter(|p| p.decision == Decision::Review);
        write_pairs(p, &input.ids, reviews.map(|p| (p.left, p.right, p.score)))?;
    }
    if let Some(p) = &a.output_clusters {
        let mut w = csv::Writer::from_path(p).with_context(|| format!("creating {}", p.display()))?;
        w.write_record(["id", "cluster"])?;
        for (i, &c) in out.clusters.iter().enumerate() {
            w.write_record([input.ids[i].as_str(), input.ids[c as usize].as_str()])?;
        }
        w.flush()?;
    }
    if let Some(p) = &a.model_out {
        std::fs::write(p, out.model.to_json()?)?;
    }

    let r = &out.report;
    let t = &out.model.training;
    println!(
        "records {}  invalid NHS numbers {}  candidate pairs {}  links {}  reviews {}  clusters {}  refused links {}",
        r.records, r.invalid_nhs_numbers, r.candidate_pairs, r.links, r.reviews, r.clusters, r.refused_links
    );
    println!(
        "model: lambda {:.3e} (prior {:+.1}), converged {}",
        out.model.lambda,
        out.model.prior_weight(),
        t.converged
    );
    for s in &t.sessions {
        println!(
            "  EM session {}: {} pairs ({} used, {} patterns), {} iterations, match rate {:.4}, implied matches {:.0}",
            s.rule, s.pairs, s.em_pairs, s.patterns, s.iterations, s.match_rate, s.implied_matches
        );
    }
    for (name, n) in r.skipped_blocks.iter().filter(|(_, n)| *n > 0) {
        println!("blocking rule {name}: {n} oversized blocks skipped");
    }
    let stages: Vec<String> = r.timings.iter().map(|(n, s)| format!("{n} {s:.2}s")).collect();
    println!("time: read {read_secs:.2}s  link {link_secs:.2}s ({})", stages.join(", "));
    if let Some(truth) = &input.truth {
        print_metrics("pairs", &pair_metrics(truth, links().map(|p| (p.left, p.right))));
        print_metrics("clusters", &cluster_metrics(truth, &out.clusters));
    }
    if a.explain > 0 {
        let mut near: Vec<_> = links().collect();
        near.sort_by(|x, y| x.score.total_cmp(&y.score));
        for p in near.iter().take(a.explain) {
            println!(
                "\n{} vs {}:\n{}",
                input.ids[p.left as usize],
                input.ids[p.right as usize],
                out.explain(p.left, p.right).render()
            );
        }
    }
    println!("total {:.2}s", start.elapsed().as_secs_f64());
    Ok(())
}
