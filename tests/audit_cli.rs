//! The real binary: `lantern audit verify --data DIR` on a SQLite store, before and after
//! tampering with it by direct SQL; `lantern audit list`.
use lantern_audit::{Action, Agent, Audit, Entry};
use lantern_store::{Backend, SqlValue, Store, SystemClock};
use lantern_store_sqlite::SqliteBackend;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// A fresh directory, removed when dropped (std only: the root package has no test-only
/// dependencies).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lantern-audit-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern")).args(args).output().expect("run lantern")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A store in `dir` with `n` audit records.
fn seed(dir: &Path, n: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(dir).unwrap());
        let audit = Audit::new(Store::open(backend, Arc::new(SystemClock)).unwrap());
        for i in 0..n {
            let who = Agent::user(format!("u{i}"), Some("nurse".into()), Some("RVJ".into()));
            audit.record_one(Entry::new(Action::Read, who).patient("p1")).await.unwrap();
        }
    });
}

fn tamper(dir: &Path, sql: &str, params: &[SqlValue]) {
    let mut c = SqliteBackend::in_dir(dir).unwrap().connect().unwrap();
    c.execute(sql, params).unwrap();
}

fn verify(dir: &str, extra: &[&str]) -> Output {
    let mut args = vec!["audit", "verify", "--data", dir];
    args.extend_from_slice(extra);
    lantern(&args)
}

#[test]
fn verify_detects_tampering() {
    let tmp = TempDir::new("tamper");
    let dir = tmp.path().to_str().unwrap();
    seed(tmp.path(), 6);

    let ok = verify(dir, &[]);
    assert!(ok.status.success(), "{}{}", text(&ok.stdout), text(&ok.stderr));
    let line = text(&ok.stdout);
    assert!(line.starts_with("audit log intact: 6 records; head 6:"), "{line}");

    let listed = lantern(&["audit", "list", "--data", dir, "--patient", "p1", "--count", "2"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let lines: Vec<serde_json::Value> =
        text(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 6);
    assert_eq!(lines[0]["agent"]["user"], "u5");
    let fhir = lantern(&["audit", "list", "--data", dir, "--count", "1", "--fhir"]);
    let ev: serde_json::Value = serde_json::from_str(text(&fhir.stdout).trim()).unwrap();
    assert_eq!(ev["resourceType"], "AuditEvent");

    // Alter record 3.
    tamper(tmp.path(), "UPDATE audit SET record = replace(record, '\"u2\"', '\"u9\"') WHERE seq = 3", &[]);
    let bad = verify(dir, &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
    assert!(text(&bad.stdout).contains("NOT intact"), "{}", text(&bad.stdout));
    assert!(text(&bad.stderr).contains("first bad record: 3: record 3 was altered"), "{}", text(&bad.stderr));
}

#[test]
fn expect_head_catches_a_truncated_tail() {
    let tmp = TempDir::new("anchor");
    let dir = tmp.path().to_str().unwrap();
    seed(tmp.path(), 5);
    let ok = verify(dir, &[]);
    let anchor = text(&ok.stdout).trim().rsplit(' ').next().unwrap().to_string();
    assert!(anchor.starts_with("5:"), "{anchor}");
    assert!(verify(dir, &["--expect-head", &anchor]).status.success());

    // Remove records 4 and 5 and move the head back: the chain alone cannot tell.
    let mut c = SqliteBackend::in_dir(tmp.path()).unwrap().connect().unwrap();
    let h3 = {
        let mut h = Vec::new();
        c.query("SELECT hash FROM audit WHERE seq = 3", &[], &mut |r| {
            h = r.blob(0)?.unwrap_or_default();
            Ok(())
        })
        .unwrap();
        h
    };
    c.batch("DELETE FROM audit WHERE seq > 3; DELETE FROM audit_patient WHERE seq > 3").unwrap();
    c.execute("UPDATE audit_head SET seq = 3, hash = ? WHERE id = 1", &[h3.into()]).unwrap();
    drop(c);
    let plain = verify(dir, &[]);
    assert!(plain.status.success(), "{}", text(&plain.stdout));
    let anchored = verify(dir, &["--expect-head", &anchor]);
    assert_eq!(anchored.status.code(), Some(1));
    assert!(
        text(&anchored.stderr).contains("first bad record: 4: records 4 to 5 are missing"),
        "{}",
        text(&anchored.stderr)
    );

    let garbage = verify(dir, &["--expect-head", "nonsense"]);
    assert!(!garbage.status.success());
}

#[test]
fn verify_refuses_a_missing_store() {
    let tmp = TempDir::new("missing");
    let out = verify(tmp.path().join("nothing").to_str().unwrap(), &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no Lantern store"), "{}", text(&out.stderr));
}

/// As `lantern serve` leaves an embedded store when it is killed: the newest records only in
/// the audit journal. `verify` checks them as the chain's continuation, and names a record
/// altered there.
#[test]
fn verify_reads_the_journal_a_killed_server_left() {
    let tmp = TempDir::new("journal");
    let dir = tmp.path().to_str().unwrap();
    seed(tmp.path(), 3);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_dir(tmp.path()).unwrap());
        let store = Store::open(backend, Arc::new(SystemClock)).unwrap();
        let journal = tmp.path().join(lantern_audit::journal::JOURNAL_FILE);
        lantern_audit::journal::install(&store, &journal).unwrap();
        let audit = Audit::new(store);
        for i in 0..4 {
            let who = Agent::user(format!("j{i}"), Some("nurse".into()), Some("RVJ".into()));
            audit.record_one(Entry::new(Action::Read, who).patient("p1")).await.unwrap();
        }
    });
    drop(rt);
    let ok = verify(dir, &[]);
    assert!(ok.status.success(), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).starts_with("audit log intact: 7 records; head 7:"), "{}", text(&ok.stdout));
    // `list` shows the journal's records too, newest first, and pages on into the tables.
    let seqs_listed = |extra: &[&str]| -> Vec<i64> {
        let mut args = vec!["audit", "list", "--data", dir];
        args.extend_from_slice(extra);
        let out = lantern(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(seqs_listed(&["--patient", "p1", "--count", "5"]), vec![7, 6, 5, 4, 3]);
    assert_eq!(seqs_listed(&["--user", "j1"]), vec![5]);
    assert_eq!(seqs_listed(&["--before", "5", "--count", "2"]), vec![4, 3]);

    let journal = tmp.path().join(lantern_audit::journal::JOURNAL_FILE);
    let altered = std::fs::read_to_string(&journal).unwrap().replace("\"j2\"", "\"j9\"");
    std::fs::write(&journal, altered).unwrap();
    let bad = verify(dir, &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
    assert!(
        text(&bad.stderr).contains("first bad record: 6: record 6 was altered in the audit journal"),
        "{}",
        text(&bad.stderr)
    );
}
