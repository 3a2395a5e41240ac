//! The PostgreSQL backend of the Lantern store.
