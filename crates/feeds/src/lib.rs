//! # lantern-feeds — messages in, durably, each applied exactly once
//!
//! A feed is one source system of one organisation (the data controller). This crate takes
//! what feeds send — HL7 v2 messages (over MLLP, or from files) and FHIR bundles, NDJSON and
//! CSV extracts from `lantern import` — and applies it through the same service call every other
//! entry point uses ([`lantern_service::Fhir::transaction_with`]). Transports stay thin: the MLLP
//! listener decodes a frame, calls [`Feeds::ingest_v2`], and writes back the ACK it returns.
//!
//! ## Why it is shaped so
//!
//! * **Stored and applied in one transaction.** A message's inbox row (see
//!   `lantern_store::inbox`) and the resources mapped from it commit in the same store job, so
//!   nothing can be lost between two steps or applied twice by a worker that crashed half way.
//! * **Acknowledged once durable.** A feed with `ack = "applied"` sends its ACK after that
//!   commit, so the ACK reports the outcome; if the process dies before, the sender, having no
//!   ACK, sends again. A feed with `ack = "received"` (the default of `lantern serve`) sends it
//!   once the message is parsed, mapped and appended to the receive queue ([`queue`]), and the
//!   applier commits it afterwards, in order; a restart applies what the queue still holds, and
//!   the inbox key below makes that exactly once.
//! * **Idempotent by (feed, control id, content hash).** A re-sent message finds its inbox row
//!   and is acknowledged without being applied again. Senders do reuse MSH-10 for different
//!   messages, so a same-id-different-content message is a new message (and is logged).
//! * **Nothing dropped silently.** A message that cannot be parsed, mapped or applied is written
//!   as a dead letter (an inbox row with status `dead` and the reason) in its own job *before*
//!   the AE/AR is sent, listed by `lantern feeds dead-letters` and `GET /admin/dead-letters`, and
//!   can be replayed ([`Feeds::replay`]) after the cause is fixed. If even the dead letter cannot
//!   be written (the store is down), no ACK is sent and the connection is closed, so the sender
//!   retries. For a queued message (acknowledged on receipt) parsing and mapping still happen
//!   before the ACK; a failure when it is applied later is dead-lettered then, marked as
//!   acknowledged on receipt, and a store that is down is waited for, never given up on.
//! * **Per-patient order.** Messages are serialised per patient (PID-3) through a fixed set of
//!   fair locks ([`order`]), so two messages about one patient are applied in the order they were
//!   received even when they arrive on different connections; MLLP's one-message-then-ACK
//!   discipline already orders each connection.
//! * **Any error-level issue dead-letters.** A message whose parse or map issues include an
//!   error is not applied partially: it is kept with AE (content) or AR (type, version,
//!   header). Warnings are applied and echoed in the ACK's ERR segments.
//!
//! Invariant: no sockets, no HTTP; the server crate owns listeners. The binary decides where
//! files live; this crate writes only the receive queue, at the path it is given.
mod applier;
mod audit;
pub mod config;
mod ids;
pub mod import;
mod ingest;
pub mod order;
pub mod queue;
pub mod queue_file;
mod replay;
pub mod tabular;

pub use config::{FeedSpec, FeedsFile, Route, Transport};
pub use import::{ImportOptions, ImportReport};
pub use ingest::{Disposition, Ingested};
pub use queue::AckWhen;
pub use replay::Replayed;

use lantern_hl7v2::map::FeedConfig;
use lantern_service::Fhir;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// The feeds service: the FHIR service plus the registry of configured feeds.
#[derive(Clone)]
pub struct Feeds {
    inner: Arc<Inner>,
}

struct Inner {
    fhir: Fhir,
    /// Feeds by id.
    feeds: RwLock<HashMap<String, Arc<FeedConfig>>>,
    /// Sending facility (MSH-4.1) -> feed id, for the shared listener.
    facilities: RwLock<HashMap<String, String>>,
    order: order::PatientOrder,
    acks: std::sync::atomic::AtomicU64,
    /// Feeds whose transport says when to acknowledge; the others use `default_ack`.
    ack_when: RwLock<HashMap<String, AckWhen>>,
    default_ack: RwLock<AckWhen>,
    /// The receive queue, once [`Feeds::start_queue`] has opened it.
    queue: OnceLock<Arc<queue::Queue>>,
    /// Held while a default feed is registered, so that the first messages of a new facility
    /// arriving on several connections at once register it once.
    registering: tokio::sync::Mutex<()>,
}

/// Why a feed operation failed (the caller maps it to its own vocabulary).
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] lantern_store::StoreError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

impl Feeds {
    /// A feeds service with the feeds registered in the store (configured earlier) loaded.
    pub async fn open(fhir: Fhir) -> Result<Feeds, FeedError> {
        let feeds = Feeds {
            inner: Arc::new(Inner {
                fhir,
                feeds: RwLock::default(),
                facilities: RwLock::default(),
                order: order::PatientOrder::new(1024),
                acks: std::sync::atomic::AtomicU64::new(0),
                ack_when: RwLock::default(),
                default_ack: RwLock::default(),
                queue: OnceLock::new(),
                registering: tokio::sync::Mutex::new(()),
            }),
        };
        for (_, text) in feeds.inner.fhir.store.feeds().await? {
            if let Ok(spec) = FeedSpec::from_toml(&text) {
                feeds.register_in_memory(&spec);
            }
        }
        Ok(feeds)
    }

    pub fn fhir(&self) -> &Fhir {
        &self.inner.fhir
    }

    /// Registers feeds from a configuration file, keeping them in the store.
    pub async fn configure(&self, file: &FeedsFile) -> Result<(), FeedError> {
        for spec in &file.feeds {
            let (id, text) = (spec.config.feed_id.clone(), spec.toml.clone());
            self.inner.fhir.store.write(move |tx| tx.feed_put(&id, &text)).await?;
            self.register_in_memory(spec);
        }
        Ok(())
    }

    fn register_in_memory(&self, spec: &FeedSpec) {
        let id = spec.config.feed_id.clone();
        let mut fac = self.inner.facilities.write().unwrap_or_else(|e| e.into_inner());
        for f in &spec.facilities {
            fac.insert(f.clone(), id.clone());
        }
        fac.entry(spec.config.organisation.ods_code.clone()).or_insert_with(|| id.clone());
        drop(fac);
        let mut when = self.inner.ack_when.write().unwrap_or_else(|e| e.into_inner());
        match spec.transport.ack {
            Some(w) => when.insert(id.clone(), w),
            None => when.remove(&id),
        };
        drop(when);
        self.inner.feeds.write().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::new(spec.config.clone()));
    }

    /// When feeds that do not say (including the default feed of each new sending facility)
    /// acknowledge a message; see [`AckWhen`].
    pub fn set_default_ack(&self, when: AckWhen) {
        *self.inner.default_ack.write().unwrap_or_else(|e| e.into_inner()) = when;
    }

    /// The receive queue, if `feed` acknowledges on receipt and the queue is open.
    pub(crate) fn queue_for(&self, feed: &str) -> Option<Arc<queue::Queue>> {
        let queue = self.inner.queue.get()?;
        let when = self.inner.ack_when.read().unwrap_or_else(|e| e.into_inner()).get(feed).copied();
        let when = when.unwrap_or_else(|| *self.inner.default_ack.read().unwrap_or_else(|e| e.into_inner()));
        (when == AckWhen::Received).then(|| queue.clone())
    }

    /// The configuration of a feed, if registered.
    pub fn feed(&self, id: &str) -> Option<Arc<FeedConfig>> {
        self.inner.feeds.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// The feed for a route: the listener's own feed, or the feed registered for the sending
    /// facility, or a default feed for that facility (registered on first use).
    pub(crate) async fn resolve(&self, route: &Route, facility: &str) -> Result<Arc<FeedConfig>, FeedError> {
        let id = match route {
            Route::Feed(id) => id.clone(),
            Route::ByFacility => {
                let known =
                    self.inner.facilities.read().unwrap_or_else(|e| e.into_inner()).get(facility).cloned();
                match known {
                    Some(id) => id,
                    None => config::default_feed_id(facility),
                }
            }
        };
        if let Some(c) = self.feed(&id) {
            return Ok(c);
        }
        if let Route::Feed(id) = route {
            if !id.starts_with(config::DEFAULT_PREFIX) {
                return Err(FeedError::Config(format!("feed '{id}' is not configured")));
            }
        }
        let _one_at_a_time = self.inner.registering.lock().await;
        if let Some(c) = self.feed(&id) {
            return Ok(c);
        }
        let spec = FeedSpec::default_for(facility);
        let (fid, text) = (spec.config.feed_id.clone(), spec.toml.clone());
        self.inner.fhir.store.write(move |tx| tx.feed_put(&fid, &text)).await?;
        tracing::info!(feed = %spec.config.feed_id, "registered a default feed for a new sending facility");
        self.register_in_memory(&spec);
        Ok(Arc::new(spec.config))
    }
}
