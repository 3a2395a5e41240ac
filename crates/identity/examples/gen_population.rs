//! Writes a synthetic UK population with realistic errors and ground truth as CSV.
//!
//! `cargo run --release -p lantern-identity --example gen_population -- --records 100000 --seed 1 --out people.csv`
use std::fs::File;

use lantern_identity::gen::{generate, write_csv, GenConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut records = 100_000usize;
    let mut seed = 1u64;
    let mut out = String::from("people.csv");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).ok_or("missing value")?;
        match args[i].as_str() {
            "--records" => records = value.parse()?,
            "--seed" => seed = value.parse()?,
            "--out" => out = value.clone(),
            other => return Err(format!("unknown argument {other}").into()),
        }
        i += 2;
    }
    let g = generate(&GenConfig { records, seed });
    let persons = g.truth.iter().collect::<std::collections::HashSet<_>>().len();
    write_csv(&g, File::create(&out)?)?;
    eprintln!("wrote {} records of {persons} persons to {out}", g.records.len());
    Ok(())
}
