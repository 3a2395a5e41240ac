//! The MLLP listener (HL7 v2 over TCP, MLLP Release 2): a thin transport over
//! [`lantern_feeds::Feeds::ingest_v2`]. See `listener.rs`.
mod listener;

pub use listener::{parse_allow, serve_mllp, MllpConfig};
