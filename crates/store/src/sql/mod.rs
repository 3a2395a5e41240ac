//! The SQL engine both backends share: everything that touches tables, written once.
pub mod index_rows;
pub mod read;
pub mod reindex;
pub mod write;
