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
//! - Checkpoints stay on the writer's connection (SQLite's default, every 1,000 pages). Tried:
//!   a separate thread running PASSIVE checkpoints cut the writer's time by only ~8%, and the
//!   WAL never restarted (a restart needs the checkpoint complete when the writer begins), so
//!   it grew to the writer's safety-net limit.
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
use lantern_store::{Backend, Conn, Dialect, Row, SqlValue, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::path::{Path, PathBuf};

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
}

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
        })
    }

    pub fn with_durability(mut self, d: Durability) -> Self {
        self.durability = d;
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
    fn open(&self, main_file: &Path, other: &Path, schema: &str) -> Result<Box<dyn Conn>, StoreError> {
        let c = rusqlite::Connection::open(main_file).map_err(StoreError::db)?;
        c.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;")
            .map_err(StoreError::db)?;
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
        Ok(Box::new(SqliteConn(c)))
    }
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn connect(&self) -> Result<Box<dyn Conn>, StoreError> {
        self.open(&self.path, &self.audit_path, lantern_store::schema::SQLITE_AUDIT_SCHEMA)
    }

    /// The audit file as `main`, so that its part of a group commit is written first.
    fn connect_writer(&self) -> Result<Box<dyn Conn>, StoreError> {
        self.open(&self.audit_path, &self.path, RESOURCES_SCHEMA)
    }

    fn readers(&self) -> usize {
        self.readers
    }

    fn describe(&self) -> String {
        format!("sqlite:{} (audit log: {})", self.path.display(), self.audit_path.display())
    }
}

struct SqliteConn(rusqlite::Connection);

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

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql).map_err(db_err)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let mut st = self.0.prepare_cached(sql).map_err(db_err)?;
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
        Ok(self.0.last_insert_rowid())
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self.0.prepare_cached(sql).map_err(db_err)?;
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
