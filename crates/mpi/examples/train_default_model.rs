//! Regenerates `src/default_model.json`, the model the patient index uses when no trained model
//! is configured: `cargo run --release -p lantern-mpi --example train_default_model`.
//!
//! It is trained by the engine's own procedure (u from random pairs, m by EM) on 50,000 records of
//! the engine's synthetic UK population (`lantern_identity::gen`, seed 2024), with the default
//! configuration except that term-frequency adjustment is off and the frequency tables are
//! dropped: frequencies describe one population, and a synthetic one is not the deployment's.
//! Train on your own records (`lantern link --model-out`) to get them.
use lantern_identity::gen::{generate, GenConfig};
use lantern_identity::{train_model, Config};

fn main() {
    let mut config = Config::default();
    for c in &mut config.comparisons {
        c.tf_adjust = false;
    }
    let g = generate(&GenConfig { records: 50_000, seed: 2024 });
    let mut model = train_model(&g.records, &config).expect("training");
    for t in &mut model.tf {
        *t = Default::default();
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/default_model.json");
    std::fs::write(&out, model.to_json().expect("json") + "\n").expect("write");
    eprintln!(
        "wrote {} (prior weight {:.2} bits, converged {})",
        out.display(),
        model.prior_weight(),
        model.training.converged
    );
}
