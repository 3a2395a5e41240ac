//! `lantern identity explain --data DIR PATIENT_A PATIENT_B`: why the patient index would (or
//! would not) link two source records — each field's values, agreement level and weight in
//! words, the total and the decision — and whether they are one person now.
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub(crate) enum Identity {
    /// Explain the match score of two Patient records (ids or Patient/ids).
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
pub(crate) struct ExplainArgs {
    #[arg(long, default_value = "./lantern-data")]
    data: PathBuf,
    #[arg(long)]
    database: Option<String>,
    /// Print the evaluation as JSON instead of words.
    #[arg(long)]
    json: bool,
    patient_a: String,
    patient_b: String,
}

pub(crate) fn run(cmd: Identity) -> anyhow::Result<()> {
    let Identity::Explain(a) = cmd;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let fhir = crate::compose::fhir(&a.data, a.database.as_deref())?;
        let mpi = lantern_mpi::Mpi::new(fhir.store.clone(), crate::compose::identity_model()?.clone());
        let e = mpi.explain(&a.patient_a, &a.patient_b).await?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&e)?);
        } else {
            println!("Patient/{} vs Patient/{}:", e.a, e.b);
            println!("{}", e.text);
            println!(
                "Currently {}.",
                if e.same_person { "linked to the same person" } else { "different persons" }
            );
        }
        Ok(())
    })
}
