//! `lantern feeds`: the feeds registry, inbox counts, dead letters and their replay.
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
    /// Directory of the embedded SQLite store.
    #[arg(long, global = true, default_value = "./lantern-data")]
    data: PathBuf,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://user@host/db.
    #[arg(long, global = true)]
    database: Option<String>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Registered feeds and inbox counts.
    Status,
    /// Messages that could not be processed, oldest first, with the reason.
    DeadLetters {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Most to list.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Process a dead letter again (after fixing its cause).
    Replay {
        /// The dead letter's inbox sequence number (from `dead-letters`).
        seq: i64,
    },
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        // Replays label and derive facts as live ingest does (the default policy's lists).
        let policy = crate::compose::policy(None)?;
        // Beside a running server: reading works; a replay is refused (the server's
        // `POST /admin/dead-letters/{seq}/replay` does it) since only one process may audit.
        let fhir = crate::compose::fhir_beside_server(&a.data, a.database.as_deref())?;
        let fhir = crate::compose::with_labeller(fhir, &policy);
        let feeds = crate::compose::feeds(fhir, None).await?;
        let store = &feeds.fhir().store;
        match a.command {
            Command::Status => {
                for (id, _) in store.feeds().await? {
                    println!("feed {id}");
                }
                for (status, n) in store.inbox_counts().await? {
                    println!("{status}: {n}");
                }
            }
            Command::DeadLetters { json, limit } => {
                let list = store.inbox_list("dead", 0, limit).await?;
                for e in &list {
                    let detail: serde_json::Value =
                        e.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
                    let received = lantern_store::clock::format_instant(e.received);
                    if json {
                        let line = serde_json::json!({"seq": e.seq, "feed": e.feed, "control_id": e.control_id,
                            "kind": e.kind, "received": received, "detail": detail});
                        println!("{line}");
                    } else {
                        let why = detail.get("reason").and_then(|r| r.as_str()).unwrap_or("");
                        let code = detail.get("outcome").and_then(|r| r.as_str()).unwrap_or("");
                        println!("{}\t{}\t{}\t{received}\t{code}\t{why}", e.seq, e.feed, e.control_id);
                    }
                }
                if !json {
                    eprintln!("{} dead letter(s)", list.len());
                }
            }
            Command::Replay { seq } => {
                let r = feeds.replay(seq).await?;
                println!("replayed inbox entry {} of feed {}: processed", r.seq, r.feed);
            }
        }
        Ok(())
    })
}
