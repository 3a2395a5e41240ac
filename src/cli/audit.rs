//! `lantern audit`: verify the hash-chained audit log, and list its records.
//!
//! `verify` reads the log on a connection of its own without migrating or starting a writer, so
//! it can run beside a live server (it checks one consistent snapshot). It prints one line and
//! exits 0 if the log is intact; otherwise it names the first bad record and exits 1. Keep the
//! printed head (`SEQ:HASH`) somewhere outside the database and pass it back with
//! `--expect-head`: that is what detects the newest records being removed along with the head
//! (see `lantern_audit`'s crate documentation).
use anyhow::{bail, Context};
use lantern_audit::{to_audit_event, Anchor, Query};
use lantern_store::Conn;
use std::path::{Path, PathBuf};

/// The schema migration that gave the audit log its present layout (its own file on SQLite, its
/// mark in the resource store).
const AUDIT_SCHEMA: i64 = 5;

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
    /// Check the whole hash chain: exit 0 if intact, 1 naming the first bad record.
    Verify {
        /// A head printed by an earlier run: record SEQ must still exist with this hash.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<Anchor>,
    },
    /// Print records, newest first, as JSON lines.
    List {
        /// Only records concerning this Patient id (repeat for one person's source records).
        #[arg(long)]
        patient: Vec<String>,
        /// Only records made by this user id.
        #[arg(long)]
        user: Option<String>,
        /// Only records older than this sequence number.
        #[arg(long)]
        before: Option<i64>,
        /// Most records to print.
        #[arg(long, default_value_t = 50)]
        count: usize,
        /// Print FHIR AuditEvent resources instead of Lantern's records.
        #[arg(long)]
        fhir: bool,
    },
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let mut conn = connect(&a.data, a.database.as_deref())?;
    let conn = &mut *conn;
    // On SQLite the newest records may still be only in the journal (see lantern_audit::journal).
    let journal = a.database.is_none().then(|| a.data.join(lantern_audit::journal::JOURNAL_FILE));
    match a.command {
        Command::Verify { expect_head } => {
            let report = lantern_audit::verify(conn, expect_head.as_ref(), journal.as_deref())?;
            println!("{}", report.summary());
            if let Some(bad) = &report.first_bad {
                eprintln!("first bad record: {}: {}", bad.seq, bad.reason);
                std::process::exit(1);
            }
        }
        Command::List { patient, user, before, count, fhir } => {
            let mut q = Query { patients: patient, user, before_seq: before, ..Query::default() };
            let mut left = count;
            while left > 0 {
                q.count = left.min(lantern_audit::read::MAX_COUNT);
                let page = lantern_audit::list_with_journal(conn, &q, journal.as_deref())?;
                for r in &page.items {
                    let line = if fhir {
                        to_audit_event(r.seq, &r.entry)
                    } else {
                        let mut v = serde_json::json!({"seq": r.seq});
                        if let (Some(o), serde_json::Value::Object(e)) =
                            (v.as_object_mut(), serde_json::to_value(&r.entry)?)
                        {
                            o.extend(e);
                        }
                        v
                    };
                    println!("{line}");
                }
                left -= page.items.len();
                match page.next {
                    Some(n) if !page.items.is_empty() => q.before_seq = Some(n),
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

/// A connection to an existing store, without migrating it.
fn connect(data: &Path, database: Option<&str>) -> anyhow::Result<Box<dyn Conn>> {
    if database.is_none() && !data.join("lantern.db").exists() {
        bail!("no Lantern store in {} (give --data DIR or --database URL)", data.display());
    }
    let backend = crate::compose::backend(data, database)?;
    let mut conn = backend.connect().with_context(|| format!("opening {}", backend.describe()))?;
    let version = conn.query_int("SELECT MAX(version) FROM schema_version", &[]).unwrap_or(None).unwrap_or(0);
    if version < AUDIT_SCHEMA {
        bail!(
            "the store at {} has no audit log yet (schema version {version}); `lantern serve` migrates it",
            backend.describe()
        );
    }
    Ok(conn)
}
