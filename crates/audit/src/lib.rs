//! Account: the audit log. Every read, search, write, export, refusal, login, break-glass and
//! identity decision becomes one [`Entry`] (ISO 27789 content: who, role, organisation, which
//! patient, which resources or query, purpose, when, outcome), appended to a log in which each
//! record carries the hash of the one before.
//!
//! # The chain
//!
//! Record `n` is stored with `prev` = the hash of record `n-1` (32 zero bytes for record 1) and
//! `hash = SHA-256(prev || record)`, where `record` is the entry's canonical JSON kept verbatim
//! ([`entry`]). `seq` runs 1, 2, 3… without gaps. A one-row table, `audit_head`, holds the newest
//! seq and hash; every append reads it, extends the chain, and writes it back ([`chain`]).
//! Beside each record, `audit_patient (patient, seq)` rows say which patients it concerns,
//! which is what makes "who looked at my record" one index range scan ([`read`]); with the
//! journal (below) they are written in batches, before any read of the log.
//!
//! # Why appends go through the store's writer (PostgreSQL) or the journal (SQLite)
//!
//! Without a journal, [`append`] runs inside a `Store::write` job, on the store's single writer:
//! - *Order*: the writer runs one job at a time, so seq and prev are assigned without a race;
//!   with several API nodes on one PostgreSQL database the head row's `FOR UPDATE` lock
//!   serialises them. No two records can claim the same predecessor.
//! - *Atomicity*: a job that writes resources can append its audit records in the same
//!   transaction: both commit or neither does.
//! - *Cost*: the writer commits every job waiting in one transaction (group commit), and
//!   [`Audit::record`] calls made while an earlier one waits for the writer join its job. It is
//!   awaited before the response goes out, so a look is durable before the data leaves (audit
//!   fails closed: if the record cannot be written the caller must not answer with data).
//!
//! On an embedded (SQLite) store `lantern` installs the [`journal`]: records are numbered and
//! linked under its mutex and written to a file with one `write` on the caller's thread, and
//! the tables are filled from it in batches. Same chain, same order and atomicity rules (a
//! write job's records reach the journal before its transaction commits), a fraction of the
//! cost per read. Measured in `benches/append.rs` and `lantern bench trust`.
//!
//! # What verification proves, and what it does not
//!
//! [`verify()`] re-walks the chain and names the first record that was altered, removed,
//! inserted or reordered, and any index row (`audit_patient`, the indexed columns) that
//! disagrees with its record. It cannot catch someone with write access to the database who
//! rewrites the chain from some point on *and* recomputes every later hash and the head — in
//! particular, removing the newest records and moving the head back. Against that, keep the
//! head printed by `lantern audit verify` (`SEQ:HASH`) outside the database and pass it back as
//! `--expect-head`: the log must still contain record SEQ with that hash.
//!
//! Invariant: this crate knows the store's tables and nothing about HTTP, tokens or policy;
//! the service layer builds entries, this crate keeps them.
pub mod audit_event;
pub mod chain;
pub mod entry;
pub mod journal;
pub mod read;
mod recorder;
pub mod verify;

pub use audit_event::to_audit_event;
pub use chain::{append, append_access};
pub use entry::{Action, Agent, AgentKind, Entry, Outcome, OutcomeKind, MAX_ENTITIES};
pub use read::{list, list_with_journal, who_looked, Look, Page, Query, Record};
pub use recorder::Audit;
pub use verify::{verify, Anchor, Bad, VerifyReport};
