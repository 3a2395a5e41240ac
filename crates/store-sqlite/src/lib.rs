//! The embedded SQLite backend of the Lantern store.
