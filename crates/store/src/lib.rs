//! The storage interface: versioned FHIR resources, search with an access filter, and the
//! dialect-neutral SQL engine both backends share.
//!
//! Why one engine and two thin backends: the guarantees a shared care record makes (no lost
//! update, atomic transactions, searches that cannot leak what the access filter withholds)
//! must not depend on which database runs underneath. So every rule lives here, above a
//! narrow [`Conn`] seam; `lantern-store-sqlite` and `lantern-store-postgres` only adapt their
//! driver to it. This crate pulls in no database driver.
//!
//! Invariant: nothing here knows about HTTP, policy decisions or audit; it is given an
//! [`AccessFilter`] already compiled by the policy layer and applies it inside every query.
pub mod access;
pub mod catalog;
pub mod clock;
mod codec;
pub mod conn;
mod content;
pub mod error;
pub mod inbox;
pub mod model;
pub mod person;
mod pool;
pub mod schema;
pub mod search;
pub mod sql;
mod store;
mod writer;

pub use access::AccessFilter;
pub use clock::{Clock, SystemClock};
pub use codec::PreparedBody;
pub use conn::{Conn, Dialect, Row, SqlValue};
pub use error::StoreError;
pub use inbox::{InboxEntry, NewInbox};
pub use model::{Fact, HistoryEntry, HistoryQuery, HistoryScope, Op, Put, Stored, Written};
pub use sql::reindex::IndexState;
pub use sql::write::{Extension, WriteEvent, WriteHook, WriteKind, WriteSession, WriteTx};
pub use store::{Backend, Store, WeakStore};
