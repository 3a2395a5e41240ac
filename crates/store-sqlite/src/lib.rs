//! The embedded SQLite backend of the Lantern store: nothing to install, one directory of data.
//!
//! Only the driver seam lives here (connection set-up and the [`Conn`] adapter); every rule is in
//! `lantern-store`'s shared engine so SQLite and PostgreSQL behave the same.
//!
//! Connection settings and why:
//! - WAL journal: readers never block the writer and vice versa.
//! - `synchronous = NORMAL` by default: with WAL a commit survives a crash or kill of the
//!   process; `FULL` (`durability = Full`) also survives power loss, at the cost of an fsync per
//!   group commit.
//! - A large prepared-statement cache: the engine's SQL texts are few and reused.
//! - `temp_store = MEMORY`, with single-row index INSERTs: the writer runs each job inside a
//!   SAVEPOINT, so SQLite keeps a sub-journal of the pages each job touches; multi-row
//!   statements also opened a statement journal inside it, truncated by walking its chunk list
//!   after every statement, which made ingest quadratic in the size of a transaction bundle.
//! - Checkpoints run on a thread of their own, and the writer restarts a WAL that has grown
//!   past a bound (see [`checkpoint`]).
//!
//! Two files: `lantern.db` (resources and everything else) and `audit.db` (the audit chain:
//! `audit`, `audit_patient`, `audit_head`). Why: every read is audited, so the log takes a
//! commit every few milliseconds; in the same file each commit would make every reader drop
//! its page cache at its next transaction (WAL mode resets a connection's cache whenever the
//! file changed) and add WAL and checkpoint work where the resources are. SQL names no file:
//! - Readers (and migrations) open `lantern.db` as `main` and attach `audit.db` as
//!   `audit_log`; unqualified names find the audit tables there.
//! - The writer opens `audit.db` as `main` and attaches `lantern.db` as `resources`. SQLite
//!   commits a transaction's files one after the other in attach order (WAL files take part
//!   in no super-journal), so a group commit reaches the audit log *before* the resources: a
//!   crash between the two leaves an audit record of a write that did not happen, never a
//!   write without its record. With `durability = Full` each file is synced before the next
//!   is written, so the order also holds across a power loss; with `Normal` a power loss could
//!   keep the resource file's tail and lose the audit file's, which `audit verify` detects
//!   through `audit_mark` (the newest audited write's record, kept in the resource file).
mod checkpoint;

use checkpoint::Checkpointer;
use lantern_store::{Backend, Conn, Dialect, Row, SqlValue, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How hard commits try to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Survives a process crash (WAL, synchronous=NORMAL).
    Normal,
    /// Survives power loss (synchronous=FULL).
    Full,
}

/// The audit log's file, beside `lantern.db`.
pub const AUDIT_FILE: &str = "audit.db";
/// The schema name the writer's connection attaches the resource file as.
const RESOURCES_SCHEMA: &str = "resources";

pub struct SqliteBackend {
    path: PathBuf,
    audit_path: PathBuf,
    readers: usize,
    durability: Durability,
    wal_restart_frames: u32,
}

/// How long a statement waits for a lock another connection holds.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the writer waits for readers when it restarts a WAL.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Frames (4 KiB pages) a WAL may hold before the writer restarts it (see [`checkpoint`]):
/// about 400 MB per file. A long WAL lets the checkpoint thread copy a page rewritten by many
/// commits once, and keep up, instead of the writer copying what is left at each restart:
/// measured against 10,000 frames, ingest to a million resources went from 5,539 to 7,176
/// resources/s (40,000 frames: 6,760). The price is disk: up to this much WAL per file while
/// writes continue (it is cut back to this bound whenever it restarts).
const WAL_RESTART_FRAMES: u32 = 100_000;

impl SqliteBackend {
    /// A store in `dir/lantern.db` with its audit log in `dir/audit.db`, creating the
    /// directory if missing.
    pub fn in_dir(dir: &Path) -> Result<SqliteBackend, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Database(format!("cannot create data directory {}: {e}", dir.display()))
        })?;
        Ok(SqliteBackend {
            path: dir.join("lantern.db"),
            audit_path: dir.join(AUDIT_FILE),
            readers: 8,
            durability: Durability::Normal,
            wal_restart_frames: WAL_RESTART_FRAMES,
        })
    }

    pub fn with_durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Sets how many frames a WAL may hold before the writer restarts it (tests use a few).
    pub fn with_wal_restart_frames(mut self, frames: u32) -> Self {
        self.wal_restart_frames = frames;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit log's file.
    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    /// Opens `main_file` as `main` and attaches `other` as `schema`, both configured alike.
    fn open(&self, main_file: &Path, other: &Path, schema: &str) -> Result<rusqlite::Connection, StoreError> {
        let c = rusqlite::Connection::open(main_file).map_err(StoreError::db)?;
        c.busy_timeout(BUSY_TIMEOUT).map_err(StoreError::db)?;
        c.execute_batch("PRAGMA temp_store = MEMORY;").map_err(StoreError::db)?;
        c.execute("ATTACH DATABASE ?1 AS ?2", rusqlite::params![other.to_string_lossy(), schema])
            .map_err(StoreError::db)?;
        let sync = match self.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        for s in ["main", schema] {
            c.execute_batch(&format!(
                "PRAGMA {s}.journal_mode = WAL; PRAGMA {s}.synchronous = {sync}; \
                 PRAGMA {s}.cache_size = -65536; PRAGMA {s}.mmap_size = 268435456;"
            ))
            .map_err(StoreError::db)?;
        }
        c.set_prepared_statement_cache_capacity(512);
        Ok(c)
    }
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn connect(&self) -> Result<Box<dyn Conn>, StoreError> {
        let c = self.open(&self.path, &self.audit_path, lantern_store::schema::SQLITE_AUDIT_SCHEMA)?;
        Ok(Box::new(SqliteConn { c, checkpoints: None }))
    }

    /// The audit file as `main`, so that its part of a group commit is written first. Its
    /// checkpoints run on a thread of their own (see [`checkpoint`]).
    fn connect_writer(&self) -> Result<Box<dyn Conn>, StoreError> {
        let c = self.open(&self.audit_path, &self.path, RESOURCES_SCHEMA)?;
        // A WAL frame is a 24-byte header and a 4 KiB page, after a 32-byte file header.
        let restart_bytes = 32 + 4120 * u64::from(self.wal_restart_frames.max(1));
        c.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA main.journal_size_limit = {restart_bytes}; \
             PRAGMA {RESOURCES_SCHEMA}.journal_size_limit = {restart_bytes};"
        ))
        .map_err(StoreError::db)?;
        let audit = lantern_store::schema::SQLITE_AUDIT_SCHEMA;
        let k = self.open(&self.path, &self.audit_path, audit)?;
        let checkpointer =
            Checkpointer::start(k, vec!["main".into(), audit.into()]).map_err(StoreError::db)?;
        let wal = |f: &Path| PathBuf::from(format!("{}-wal", f.display()));
        let checkpoints = WriterCheckpoints {
            checkpointer,
            wals: vec![(RESOURCES_SCHEMA.into(), wal(&self.path)), ("main".into(), wal(&self.audit_path))],
            restart_bytes,
        };
        Ok(Box::new(SqliteConn { c, checkpoints: Some(checkpoints) }))
    }

    fn readers(&self) -> usize {
        self.readers
    }

    fn describe(&self) -> String {
        format!("sqlite:{} (audit log: {})", self.path.display(), self.audit_path.display())
    }
}

struct SqliteConn {
    c: rusqlite::Connection,
    /// The writer's connection only.
    checkpoints: Option<WriterCheckpoints>,
}

struct WriterCheckpoints {
    checkpointer: Arc<Checkpointer>,
    /// Each file's schema name on the writer's connection, and its WAL file.
    wals: Vec<(String, PathBuf)>,
    restart_bytes: u64,
}

impl Drop for WriterCheckpoints {
    fn drop(&mut self) {
        self.checkpointer.stop();
    }
}

/// Binds a parameter without copying it.
struct Param<'a>(&'a SqlValue);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Int(i) => ValueRef::Integer(*i),
            SqlValue::Real(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// The single statements [`Conn::batch`] runs from the statement cache.
const TRANSACTION_CONTROL: [&str; 6] =
    ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT job", "RELEASE SAVEPOINT job", "ROLLBACK TO SAVEPOINT job"];

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        if TRANSACTION_CONTROL.contains(&sql) {
            // Every read under a filter and every write job run these; parsing them afresh
            // each time (as `execute_batch` does) cost a few microseconds a request.
            self.c.prepare_cached(sql).and_then(|mut st| st.execute([])).map_err(db_err)?;
        } else {
            self.c.execute_batch(sql).map_err(db_err)?;
        }
        if let (Some(w), "COMMIT") = (&self.checkpoints, sql) {
            w.checkpointer.nudge();
            let long = |f: &Path| std::fs::metadata(f).is_ok_and(|m| m.len() > w.restart_bytes);
            for (schema, _) in w.wals.iter().filter(|(_, f)| long(f)) {
                // Waits briefly for readers still on the old frames (a long read must not stall
                // every write). Not restarting leaves the WAL long, not the data at risk; the
                // checkpointer's next look reports it again.
                let sql = format!("PRAGMA {schema}.wal_checkpoint(RESTART)");
                let _ = self.c.busy_timeout(RESTART_WAIT);
                let _ = self.c.query_row(&sql, [], |_| Ok(()));
                let _ = self.c.busy_timeout(BUSY_TIMEOUT);
            }
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let mut st = self.c.prepare_cached(sql).map_err(db_err)?;
        let n = st.execute(rusqlite::params_from_iter(params.iter().map(Param))).map_err(db_err)?;
        Ok(n as u64)
    }

    fn insert_returning_key(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        _key: &str,
    ) -> Result<i64, StoreError> {
        self.execute(sql, params)?;
        Ok(self.c.last_insert_rowid())
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self.c.prepare_cached(sql).map_err(db_err)?;
        let mut rows = st.query(rusqlite::params_from_iter(params.iter().map(Param))).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            f(&SqliteRow(r))?;
        }
        Ok(())
    }
}

struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Row for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get_ref(i).map_err(db_err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            ValueRef::Real(v) => Ok(Some(v as i64)),
            other => Err(StoreError::Database(format!(
                "column {i}: expected integer, got {:?}",
                other.data_type()
            ))),
        }
    }

    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        match self.0.get_ref(i).map_err(db_err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v as f64)),
            ValueRef::Real(v) => Ok(Some(v)),
            other => {
                Err(StoreError::Database(format!("column {i}: expected real, got {:?}", other.data_type())))
            }
        }
    }

    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get_ref(i).map_err(db_err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
            ValueRef::Integer(v) => Ok(Some(v.to_string())),
            other => {
                Err(StoreError::Database(format!("column {i}: expected text, got {:?}", other.data_type())))
            }
        }
    }

    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.0.get_ref(i).map_err(db_err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) | ValueRef::Text(b) => Ok(Some(b.to_vec())),
            other => {
                Err(StoreError::Database(format!("column {i}: expected blob, got {:?}", other.data_type())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lantern-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// The SQLite built into Lantern has the options `.cargo/config.toml` sets: no allocation
    /// statistics, and a page cache per connection rather than one shared group (each behind a
    /// process-wide mutex otherwise). A build outside this workspace's settings fails here.
    #[test]
    fn sqlite_is_built_without_process_wide_cache_and_allocation_locks() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let mut st = c.prepare("PRAGMA compile_options").unwrap();
        let opts: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(opts.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{opts:?}");
        assert!(!opts.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{opts:?}");
    }

    /// Another process commits a write while a write job has read but not yet written: the job
    /// waits its turn rather than failing. (Its transaction began deferred until 2026-12-07, and
    /// a read snapshot older than the other commit cannot become a write: "database is locked",
    /// which dead-lettered acknowledged HL7 messages when a command wrote beside the server.)
    #[test]
    fn a_write_job_waits_for_another_process_writing() {
        let d = dir("other-writer");
        let backend = std::sync::Arc::new(SqliteBackend::in_dir(&d).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store =
            lantern_store::Store::open(backend, std::sync::Arc::new(lantern_store::SystemClock)).unwrap();
        let db = d.join("lantern.db");
        let outcome = rt.block_on(store.write(move |tx| {
            tx.conn().query_int("SELECT COUNT(*) FROM resource", &[])?;
            let other = std::thread::spawn(move || {
                let c = rusqlite::Connection::open(&db).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                c.execute("UPDATE index_state SET done_upto = done_upto + 1", []).map(|_| ())
            });
            // Long enough for the other process to commit, if it could.
            std::thread::sleep(std::time::Duration::from_millis(300));
            tx.conn().execute("UPDATE index_state SET done_upto = done_upto + 10", &[])?;
            Ok(other)
        }));
        let other = outcome.expect("the job waits for no one and commits");
        other.join().unwrap().expect("the other process's write waits for the job, then commits");
        let total =
            rt.block_on(store.with_reader(|c, _| c.query_int("SELECT done_upto FROM index_state", &[])));
        assert_eq!(total.unwrap(), Some(11));
        drop(store);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Commits keep coming with no pause long enough for a checkpoint to finish first, yet the
    /// WAL stays near its bound, and every row is there for a reader.
    #[test]
    fn the_writer_keeps_the_wal_bounded_and_loses_nothing() {
        let d = dir("wal-bound");
        let b = SqliteBackend::in_dir(&d).unwrap().with_wal_restart_frames(64);
        let mut w = b.connect_writer().unwrap();
        w.batch("CREATE TABLE resources.t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
        let n = 3000;
        for i in 0..n {
            w.batch("BEGIN").unwrap();
            w.execute("INSERT INTO resources.t (v) VALUES (?)", &[SqlValue::Blob(vec![i as u8; 6000])])
                .unwrap();
            w.batch("COMMIT").unwrap();
        }
        // 3,000 commits of at least two 4 KiB pages each would make a WAL of 24 MB or more.
        let wal = std::fs::metadata(d.join("lantern.db-wal")).unwrap().len();
        assert!(wal < 2_000_000, "the WAL grew to {wal} bytes");
        let mut r = b.connect().unwrap();
        assert_eq!(r.query_int("SELECT COUNT(*) FROM t", &[]).unwrap(), Some(n as i64));
        drop(w);
        let _ = std::fs::remove_dir_all(&d);
    }
}
