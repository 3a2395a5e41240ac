//! The PostgreSQL backend of the Lantern store, for production.
//!
//! Only the driver seam lives here; every rule is in `lantern-store`'s shared engine. The
//! synchronous `postgres` client is used on purpose: the engine runs on blocking threads (the
//! writer thread and pooled readers) for both backends, so one code path serves both.
//!
//! A backend may be confined to one schema (`with_schema`), which is how the test suite gives
//! each test a fresh, empty database. Each open store keeps its tables' statistics current
//! (see [`analyze`]).
pub mod analyze;

use bytes::BytesMut;
use lantern_store::{Backend, Conn, Dialect, Row, SqlValue, StoreError};
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;

pub struct PostgresBackend {
    url: String,
    schema: Option<String>,
    readers: usize,
    analyze_every: std::time::Duration,
}

impl PostgresBackend {
    pub fn new(url: &str) -> PostgresBackend {
        PostgresBackend { url: url.to_string(), schema: None, readers: 8, analyze_every: analyze::EVERY }
    }

    /// How often the tables' statistics are looked at (see [`analyze`]; tests shorten it).
    pub fn with_analyze_every(mut self, every: std::time::Duration) -> PostgresBackend {
        self.analyze_every = every;
        self
    }

    /// Confines every connection to `schema`, creating it if missing.
    pub fn with_schema(mut self, schema: &str) -> Result<PostgresBackend, StoreError> {
        if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Database(format!("invalid schema name {schema}")));
        }
        off_runtime(&self.url, format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
        self.schema = Some(schema.to_string());
        Ok(self)
    }

    /// Drops the schema and everything in it (tests clean up with this).
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        if let Some(s) = &self.schema {
            off_runtime(&self.url, format!("DROP SCHEMA IF EXISTS {s} CASCADE"))?;
        }
        Ok(())
    }
}

/// Runs one statement on a fresh connection, on a thread of its own: the synchronous client may
/// not run on a thread that is driving a tokio runtime.
fn off_runtime(url: &str, sql: String) -> Result<(), StoreError> {
    let url = url.to_string();
    std::thread::spawn(move || -> Result<(), StoreError> {
        let mut c = Client::connect(&url, NoTls).map_err(StoreError::db)?;
        c.batch_execute(&sql).map_err(StoreError::db)
    })
    .join()
    .map_err(|_| StoreError::Database("the PostgreSQL set-up thread panicked".into()))?
}

impl Backend for PostgresBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn connect(&self) -> Result<Box<dyn Conn>, StoreError> {
        Ok(Box::new(self.open_conn()?))
    }

    /// The writer's connection, which also starts the thread that keeps the tables' statistics
    /// current for as long as it lives (one per open store: a store has one writer).
    fn connect_writer(&self) -> Result<Box<dyn Conn>, StoreError> {
        let mut c = self.open_conn()?;
        let alive = std::sync::Arc::new(());
        analyze::spawn(
            self.url.clone(),
            self.schema.clone(),
            self.analyze_every,
            std::sync::Arc::downgrade(&alive),
        );
        c.alive = Some(alive);
        Ok(Box::new(c))
    }

    fn readers(&self) -> usize {
        self.readers
    }

    fn describe(&self) -> String {
        // Never show credentials.
        let host = self.url.rsplit('@').next().unwrap_or("");
        format!("postgres://{}", host.trim_start_matches("postgres://").trim_start_matches("postgresql://"))
    }
}

impl PostgresBackend {
    fn open_conn(&self) -> Result<PgConn, StoreError> {
        // The synchronous client runs its own small runtime, which may not be started from a
        // thread already driving tokio (`lantern serve` opens the store inside its runtime), so
        // connecting happens on a thread of its own.
        let url = self.url.clone();
        let mut c = std::thread::spawn(move || Client::connect(&url, NoTls))
            .join()
            .map_err(|_| StoreError::Database("the PostgreSQL connect thread panicked".into()))?
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
        if let Some(s) = &self.schema {
            c.batch_execute(&format!("SET search_path TO {s}")).map_err(StoreError::db)?;
        }
        Ok(PgConn { client: Some(c), statements: HashMap::new(), alive: None })
    }
}

struct PgConn {
    /// Always Some until dropped.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// The writer's connection: while it lives, so does the statistics thread.
    alive: Option<std::sync::Arc<()>>,
}

impl Drop for PgConn {
    /// The synchronous client blocks on its own runtime when it closes, which panics on a
    /// tokio worker thread (where the last clone of a Store may well be dropped), so the
    /// close happens on a thread of its own.
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = std::thread::spawn(move || drop(c)).join();
        }
    }
}

impl PgConn {
    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("the client is present until drop")
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let text = lantern_store::conn::numbered_placeholders(sql);
        let st = self.client().prepare(&text).map_err(pg_err)?;
        if self.statements.len() > 1024 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
        None => StoreError::Database(e.to_string()),
    }
}

/// A parameter that adapts to whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(i) => match *ty {
                Type::INT2 => (*i as i16).to_sql(ty, out),
                Type::INT4 => (*i as i32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            SqlValue::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::INT8 => (*f as i64).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            SqlValue::Text(s) => s.as_str().to_sql(ty, out),
            SqlValue::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.client().batch_execute(sql).map_err(pg_err)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client().execute(&st, &refs).map_err(pg_err)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let st = self.statement(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        for r in self.client().query(&st, &refs).map_err(pg_err)? {
            f(&PgRow(&r))?;
        }
        Ok(())
    }
}

struct PgRow<'a>(&'a postgres::Row);

impl Row for PgRow<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        let ty = self.0.columns()[i].type_().clone();
        let r = match ty {
            Type::INT2 => self.0.try_get::<_, Option<i16>>(i).map(|v| v.map(i64::from)),
            Type::INT4 => self.0.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from)),
            Type::FLOAT8 => self.0.try_get::<_, Option<f64>>(i).map(|v| v.map(|f| f as i64)),
            Type::BOOL => self.0.try_get::<_, Option<bool>>(i).map(|v| v.map(i64::from)),
            _ => self.0.try_get::<_, Option<i64>>(i),
        };
        r.map_err(pg_err)
    }

    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        let ty = self.0.columns()[i].type_().clone();
        let r = match ty {
            Type::INT8 => self.0.try_get::<_, Option<i64>>(i).map(|v| v.map(|x| x as f64)),
            Type::INT4 => self.0.try_get::<_, Option<i32>>(i).map(|v| v.map(f64::from)),
            Type::FLOAT4 => self.0.try_get::<_, Option<f32>>(i).map(|v| v.map(f64::from)),
            _ => self.0.try_get::<_, Option<f64>>(i),
        };
        r.map_err(pg_err)
    }

    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.try_get::<_, Option<String>>(i).map_err(pg_err)
    }

    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.try_get::<_, Option<Vec<u8>>>(i).map_err(pg_err)
    }
}
