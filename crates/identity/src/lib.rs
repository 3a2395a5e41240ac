//! Patient identity for Lantern's master patient index: NHS numbers, normalisation, and
//! Fellegi–Sunter probabilistic matching that explains every decision. No database here: the
//! persistence of persons and links, the review queue and the FHIR/HL7 wiring sit on top of this
//! API.
//!
//! # Why it is shaped so
//!
//! The same person appears in the GP system, the hospital PAS, community and social care, each
//! with its own local number, often without an NHS number, with typos, maiden names and old
//! addresses. A missed link hides an allergy; a wrong link shows one patient another's record.
//! So the engine must (1) find links through errors, (2) be wary of coincidences, and (3) say
//! why, in words, for every pair — a data-quality officer must be able to disagree with it.
//!
//! The pipeline, one module per step:
//! * [`nhs_number`] — Modulus 11; an invalid number is flagged and never links.
//! * [`normalise`] — names, postcodes, addresses, phones, dates, sex into comparable values.
//! * [`dict`] / `intern` — values interned once; a record becomes a small struct of `u32`s.
//! * [`compare`] — per field, an ordered list of agreement *levels* (exact, Jaro-Winkler bands,
//!   Double Metaphone, nickname, previous surname, swapped names, transposed dates, ...).
//! * [`blocking`] — OR-ed rules that keep candidate pairs few; pairs deduplicated across rules.
//! * [`train`] + [`em`] + [`tf`] — u from random pairs, m by EM over candidates, the prior λ,
//!   term-frequency adjustment for common and rare values.
//! * [`model`] / [`score`] — the JSON-serialisable model and the allocation-free scorer.
//! * [`decision`] — NHS-number rule, then two thresholds: link / review / new person.
//! * [`explain`] — per-field evidence and its rendering in words.
//! * [`cluster`] — union-find with a cannot-link constraint on NHS numbers.
//! * [`batch`] — the whole file at once, in parallel; [`matcher`] — one record at a time.
//! * [`eval`] — precision, recall, F1 against ground truth; [`gen`] — synthetic UK population.
//!
//! Invariant: matching never fails. Bad input becomes missing values (no evidence), never an
//! error; errors exist only for configuration and persisted models.
//!
//! Invariant: scoring is symmetric — `score(a, b) == score(b, a)` — and allocation-free.
pub mod batch;
pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod decision;
pub mod dict;
pub mod em;
mod error;
pub mod eval;
pub mod explain;
pub mod gen;
mod intern;
pub mod matcher;
pub mod model;
pub mod nhs_number;
pub mod normalise;
pub mod phonetic;
mod record;
pub mod score;
pub mod tf;
pub mod train;

pub use batch::{link_records, train_model, BatchOutput, BatchReport, ScoredPair};
pub use config::{ClusterMode, Config};
pub use decision::{Decision, Reason};
pub use error::IdentityError;
pub use explain::{Evaluation, FieldEvidence};
pub use matcher::{blocking_keys, Matcher};
pub use model::Model;
pub use nhs_number::{NhsNumber, NhsNumberStatus};
pub use record::Record;
