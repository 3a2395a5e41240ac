//! The storage interface every entry point uses: HTTP, MLLP, imports and the demo.
//!
//! A [`Store`] is cheap to clone. Reads borrow a pooled connection on a blocking thread; writes
//! are closures run by the single writer thread inside a transaction (see writer.rs), which is
//! what makes conditional creates, If-Match and transaction bundles atomic on both backends.
use crate::access::{AccessFilter, FactCache};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::conn::{Conn, Dialect};
use crate::error::StoreError;
use crate::model::{HistoryEntry, HistoryQuery, Stored};
use crate::pool::Pool;
use crate::search::SearchPage;
use crate::sql::read;
use crate::sql::write::WriteTx;
use crate::writer::{self, Job};
use crossbeam_channel::Sender;
use std::sync::Arc;

/// A database the store can run on. Implemented by `lantern-store-sqlite` and
/// `lantern-store-postgres`; everything else is shared.
pub trait Backend: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// Opens a new connection, configured for use.
    fn connect(&self) -> Result<Box<dyn Conn>, StoreError>;
    /// Opens the writer's connection (after migration). The same as [`Backend::connect`]
    /// unless the backend keeps tables in several files and must fix the order in which one
    /// transaction reaches them (SQLite: the audit file first, see `lantern-store-sqlite`).
    fn connect_writer(&self) -> Result<Box<dyn Conn>, StoreError> {
        self.connect()
    }
    /// How many reader connections to pool.
    fn readers(&self) -> usize;
    /// A description for logs and /health, without credentials.
    fn describe(&self) -> String;
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A handle that does not keep the store open (see [`Store::downgrade`]): for what the store
/// itself holds, such as an extension that queues write jobs of its own.
#[derive(Clone)]
pub struct WeakStore(std::sync::Weak<Inner>);

impl WeakStore {
    /// The store, unless every [`Store`] handle has been dropped.
    pub fn upgrade(&self) -> Option<Store> {
        self.0.upgrade().map(|inner| Store { inner })
    }
}

struct Inner {
    backend: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    readers: Pool,
    writer: Sender<Job>,
    hooks: crate::sql::write::Hooks,
    /// Patients' facts for the access filter (see [`crate::access::facts`]): guarded on
    /// PostgreSQL.
    facts: FactCache,
}

impl Store {
    /// Migrates the schema, loads the catalog and starts the writer. Safe to call from async
    /// code: the synchronous set-up runs on a thread of its own (PostgreSQL's synchronous client
    /// refuses to run on a thread that is driving a tokio runtime).
    pub fn open(backend: Arc<dyn Backend>, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        std::thread::scope(|s| s.spawn(|| Store::open_here(backend, clock)).join())
            .map_err(|_| StoreError::Unavailable("opening the store panicked".into()))?
    }

    fn open_here(backend: Arc<dyn Backend>, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        let mut conn = backend.connect()?;
        crate::schema::migrate(&mut *conn)?;
        // A store holding no resources holds no index rows of any extraction: it is at this
        // build's (so a new store is never re-indexed for nothing). Read first: an UPDATE takes
        // the write lock even when it changes nothing, and commands that open the store beside
        // a running server (`lantern feeds status`) would make the server's writer wait or fail.
        let v = lantern_fhir::index::EXTRACTION_VERSION;
        if crate::sql::reindex::state(&mut *conn)?.version < v
            && conn.query_int("SELECT COUNT(*) FROM (SELECT 1 FROM resource LIMIT 1) x", &[])?.unwrap_or(0)
                == 0
        {
            conn.execute("UPDATE index_state SET version = ?, done_upto = 0 WHERE id = 1", &[v.into()])?;
        }
        let catalog = Arc::new(Catalog::open(&mut *conn)?);
        let hooks = crate::sql::write::Installed::none();
        drop(conn);
        let writer = writer::spawn(backend.connect_writer()?, catalog.clone(), clock.clone(), hooks.clone())?;
        let b = backend.clone();
        let readers = Pool::new(backend.readers(), Box::new(move || b.connect()));
        let facts = match backend.dialect() {
            Dialect::Sqlite => FactCache::default(),
            Dialect::Postgres => FactCache::guarded(),
        };
        Ok(Store { inner: Arc::new(Inner { backend, clock, catalog, readers, writer, hooks, facts }) })
    }

    /// A handle that does not keep the store (its writer, its files) open.
    pub fn downgrade(&self) -> WeakStore {
        WeakStore(Arc::downgrade(&self.inner))
    }

    /// Adds a hook run inside every later write job (see [`crate::WriteHook`]).
    pub fn add_hook(&self, hook: Arc<dyn crate::WriteHook>) {
        let mut h = self.inner.hooks.write();
        let mut v: Vec<_> = h.hooks.iter().cloned().collect();
        v.push(hook);
        h.hooks = Arc::from(v);
    }

    /// Installs a value every later write job can find by its type
    /// ([`WriteTx::extension`]); the store does not know what it is for.
    pub fn add_extension(&self, ext: crate::sql::write::Extension) {
        let mut h = self.inner.hooks.write();
        let mut v: Vec<_> = h.extensions.iter().cloned().collect();
        v.push(ext);
        h.extensions = Arc::from(v);
    }

    /// The installed extension of type `T`, if any.
    pub fn extension<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.inner.hooks.read().extensions.iter().find_map(|e| e.clone().downcast::<T>().ok())
    }

    pub fn describe(&self) -> String {
        self.inner.backend.describe()
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.backend.dialect()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Runs `f` in a write transaction and returns its result once committed. If `f` fails,
    /// everything it wrote is rolled back and nothing else is affected.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
        self.write_detached(f, move |out| {
            let _ = tx.send(out);
        });
        rx.await.map_err(|_| StoreError::Unavailable("the write was abandoned".into()))?
    }

    /// As [`Store::write`], without a task to wait: `done` is called on the writer's thread
    /// with the outcome once the group commit is over (or at once if the writer has stopped).
    /// For callers that gather the work of many tasks into one job and hand the outcome out
    /// themselves (the audit log): each hop through the async scheduler costs a queue wait
    /// on a busy server, and the reply then takes one hop instead of three.
    pub fn write_detached<T, F, D>(&self, f: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let job: Job = Box::new(move |wtx| {
            let result = wtx.and_then(f);
            let ok = result.is_ok();
            let finish: crate::writer::Finish = Box::new(move |commit: Result<(), StoreError>| {
                done(match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(e),
                })
            });
            (ok, finish)
        });
        if let Err(crossbeam_channel::SendError(job)) = self.inner.writer.send(job) {
            let (_, finish) = job(Err(StoreError::Unavailable("the writer has stopped".into())));
            finish(Ok(()));
        }
    }

    /// Runs `f` with a pooled reader connection on a blocking thread.
    pub async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn, &Catalog) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = inner.readers.get()?;
            let r = f(c.conn(), &inner.catalog);
            if matches!(r, Err(StoreError::Database(_))) {
                c.discard();
            }
            r
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// As [`Store::with_reader`], with the fact cache where the caller's filter `probes` facts
    /// ([`AccessFilter::probes_facts`]). On SQLite inside one read transaction, so that the
    /// facts learnt and the statements they specialise see one snapshot; on PostgreSQL the
    /// statements check that themselves (a guarded cache).
    async fn with_facts<T, F>(&self, probes: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn, &Catalog, Option<&FactCache>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        self.with_reader(move |c, cat| {
            let facts = &inner.facts;
            if !probes {
                return f(c, cat, None);
            }
            if facts.is_guarded() {
                // Its statements check the facts' number themselves (see `access::facts`).
                return f(c, cat, Some(facts));
            }
            c.batch("BEGIN")?;
            let r = f(c, cat, Some(facts));
            let end = c.batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" });
            let v = r?;
            end.map(|_| v)
        })
        .await
    }

    /// Which extraction made the search index, and how far a re-index has gone.
    pub async fn index_state(&self) -> Result<crate::IndexState, StoreError> {
        self.with_reader(|c, _| crate::sql::reindex::state(c)).await
    }

    /// The current version; deleted resources come back with `deleted` set.
    pub async fn read(&self, rtype: &str, id: &str) -> Result<Option<Stored>, StoreError> {
        let (t, i) = (rtype.to_string(), id.to_string());
        self.with_reader(move |c, cat| read::read_current(c, cat, &t, &i)).await
    }

    /// The current version and whether `access` lets the caller see it.
    pub async fn read_as(
        &self,
        rtype: &str,
        id: &str,
        access: AccessFilter,
    ) -> Result<Option<(Stored, bool)>, StoreError> {
        let (t, i) = (rtype.to_string(), id.to_string());
        self.with_facts(access.probes_facts(), move |c, cat, facts| {
            read::read_current_as(c, cat, &t, &i, &access, facts)
        })
        .await
    }

    pub async fn vread(&self, rtype: &str, id: &str, version: i64) -> Result<Option<Stored>, StoreError> {
        let (t, i) = (rtype.to_string(), id.to_string());
        self.with_reader(move |c, cat| read::read_version(c, cat, &t, &i, version)).await
    }

    pub async fn history(
        &self,
        q: HistoryQuery,
        access: AccessFilter,
    ) -> Result<(Vec<HistoryEntry>, Option<i64>), StoreError> {
        self.with_reader(move |c, cat| read::history(c, cat, &q, &access)).await
    }

    /// Whether the current row of a resource passes `access` (false if there is none).
    pub async fn is_visible(&self, rtype: &str, id: &str, access: AccessFilter) -> Result<bool, StoreError> {
        let (t, i) = (rtype.to_string(), id.to_string());
        self.with_reader(move |c, cat| {
            let Some(t) = cat.type_id(&t) else { return Ok(false) };
            let mut params: Vec<crate::conn::SqlValue> = vec![t.into(), i.as_str().into()];
            let cond = access.to_sql("r", &mut params);
            let sql = format!("SELECT 1 FROM resource r WHERE r.type = ? AND r.id = ? AND {cond}");
            Ok(c.query_int(&sql, &params)?.is_some())
        })
        .await
    }

    /// `ValueSet/$expand`: the ValueSet stored as `id`, or the one known by `url`, and its
    /// concepts; the inner `Err` says why it cannot be expanded here
    /// ([`crate::search::value_sets`]).
    #[allow(clippy::type_complexity)]
    pub async fn expand_value_set(
        &self,
        id: Option<String>,
        url: Option<String>,
    ) -> Result<Result<(serde_json::Value, Vec<crate::search::value_sets::Concept>), String>, StoreError>
    {
        self.with_reader(move |c, cat| {
            use crate::search::value_sets;
            let Some(id) = id else { return value_sets::by_url(c, cat, url.as_deref().unwrap_or_default()) };
            let what = format!("ValueSet/{id}");
            let st = read::read_current(c, cat, "ValueSet", &id)?
                .ok_or_else(|| StoreError::NotFound(what.clone()))?;
            let body = st.body.filter(|_| !st.deleted).ok_or(StoreError::Gone(what))?;
            let vs: serde_json::Value = serde_json::from_str(&body).map_err(StoreError::db)?;
            Ok(value_sets::concepts_of(c, cat, &vs)?.map(|concepts| (vs, concepts)))
        })
        .await
    }

    /// The concepts of a ValueSet given whole (not stored: `$expand` with a `valueSet`
    /// parameter), expanded as a stored one would be.
    #[allow(clippy::type_complexity)]
    pub async fn expand_given_value_set(
        &self,
        vs: serde_json::Value,
    ) -> Result<Result<Vec<crate::search::value_sets::Concept>, String>, StoreError> {
        self.with_reader(move |c, cat| crate::search::value_sets::concepts_of(c, cat, &vs)).await
    }

    /// The CodeSystem stored here as `url` (for `CodeSystem/$lookup`).
    pub async fn code_system(&self, url: String) -> Result<Option<serde_json::Value>, StoreError> {
        self.with_reader(move |c, cat| crate::search::value_sets::code_system(c, cat, &url)).await
    }

    /// A page of search results under `access` (see [`crate::search`]).
    pub async fn search(
        &self,
        req: lantern_fhir::search::SearchRequest,
        access: AccessFilter,
    ) -> Result<SearchPage, StoreError> {
        let now = self.inner.clock.now_micros();
        self.with_facts(access.probes_facts(), move |c, cat, facts| {
            crate::search::search(c, cat, &req, &access, now, facts)
        })
        .await
    }

    /// A page of `$everything` for the given patient ids (one person's source records).
    pub async fn everything(
        &self,
        patients: Vec<String>,
        access: AccessFilter,
        window: crate::search::EverythingWindow,
    ) -> Result<crate::search::EverythingPage, StoreError> {
        self.with_facts(access.probes_facts(), move |c, cat, facts| {
            crate::search::everything(c, cat, &patients, &access, window, facts)
        })
        .await
    }

    /// A page of a bulk export of `rtype` (see [`crate::search::export_page`]).
    pub async fn export_page(
        &self,
        rtype: String,
        access: AccessFilter,
        window: crate::search::ExportWindow,
    ) -> Result<(Vec<Stored>, Option<i64>), StoreError> {
        self.with_reader(move |c, cat| crate::search::export_page(c, cat, &rtype, &access, &window)).await
    }

    pub fn now_micros(&self) -> i64 {
        self.inner.clock.now_micros()
    }

    /// Answers when the database is reachable.
    pub async fn health(&self) -> Result<(), StoreError> {
        self.with_reader(|c, _| c.query_int("SELECT 1", &[]).map(|_| ())).await
    }
}
