//! # lantern-hl7v2 — everything about HL7 v2 that does not need a database
//!
//! Lantern receives HL7 v2 from hospital PAS, laboratory, pharmacy and scheduling systems. This
//! crate turns bytes from those feeds into a FHIR R4 transaction Bundle and an acknowledgement,
//! and nothing else: it owns no sockets, no storage and no patient index. The server crate owns
//! the MLLP listener and the durable inbox, and calls into this crate at each step:
//!
//! ```text
//! bytes ──mllp::FrameDecoder──► payload ──parse──► (Message, issues) ──map::map_message──► (Bundle, issues)
//!                                                        │                                     │
//!                                                        └───────────── ack::response_ack ◄────┘
//! ```
//!
//! ## Why it is shaped so
//!
//! * **Parsing never fails.** Real feeds send byte-order marks, `\n` instead of `\r`, blank
//!   lines, raw line breaks inside report text, odd delimiters and undeclared Latin-1. The
//!   parser ([`parse`]) always returns a [`Message`] together with a list of [`Issue`]s, in the
//!   vocabulary of the ERR segment (table 0357 codes, locations), so whatever is wrong can be
//!   told back to the sender in the ACK. The ACK builder reads the same issues.
//! * **The tree stores unescaped text.** Values are split on the message's own delimiters and
//!   then unescaped (`\F\`, `\X..\`, `\.br\`...); [`Message::encode`] escapes them again, so
//!   `parse(encode(m)) == m` (a property test checks it).
//! * **Positions are 1-based** exactly as in the standard and the path syntax
//!   (`msg.get("PID-3(2).1")`), so code reads like the spec tables.
//! * **Mapping is pure.** [`map::map_message`] takes a message and a [`map::FeedConfig`] and
//!   returns a transaction Bundle as `serde_json::Value` whose entries are all conditional
//!   (`PUT Type?identifier=system|value`) so replaying a message is idempotent, plus a
//!   Provenance per message. Ids in `urn:uuid:` form are derived (UUID v5) from the business
//!   identifiers, so the same message always yields the same bundle. No clock, no randomness.
//! * **A40 merges are described, not performed.** The identity layer decides what a merge
//!   means; the mapper reports the surviving and retired identifiers ([`map::MergeRequest`]).
//!
//! Invariant: this crate depends on no other Lantern crate and does no I/O except the
//! `mllp::read_frame`/`write_frame` helpers over streams the caller owns.

pub mod ack;
mod charset;
mod delimiters;
mod encode;
mod escape;
mod groups;
mod header;
mod issue;
pub mod map;
mod message;
pub mod mllp;
mod parser;
mod path;

pub use charset::Charset;
pub use delimiters::Delimiters;
pub use encode::latin1_to_string;
pub use escape::{escape, unescape};
pub use groups::Group;
pub use header::{version_tuple, Header};
pub use issue::{ErrorCode, Issue, Location, MapIssue, ParseIssue, Severity};
pub use message::{Component, Field, Message, Repetition, Segment};
pub use parser::parse;
pub use path::{Path, PathError};
