//! `lantern identity explain --data DIR PATIENT_A PATIENT_B`: why the patient index would (or
//! would not) link two source records — each field's values, agreement level and weight in
//! words, the total and the decision — and whether they are one person now.
//! `lantern identity index --data DIR`: match the Patients stored before the index existed.
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub(crate) enum Identity {
    /// Explain the match score of two Patient records (ids or Patient/ids).
    Explain(ExplainArgs),
    /// Match every stored Patient the index has not seen yet (a store from before the index).
    Index(IndexArgs),
}

#[derive(clap::Args)]
pub(crate) struct IndexArgs {
    #[arg(long, default_value = "./lantern-data")]
    data: PathBuf,
    #[arg(long)]
    database: Option<String>,
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
    let a = match cmd {
        Identity::Explain(a) => a,
        Identity::Index(a) => return index(a),
    };
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

fn index(a: IndexArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let fhir = crate::compose::fhir(&a.data, a.database.as_deref())?;
        let mpi = lantern_mpi::Mpi::new(fhir.store.clone(), crate::compose::identity_model()?.clone());
        let n = mpi.index_existing().await?;
        println!("indexed {n} Patient records");
        Ok(())
    })
}
