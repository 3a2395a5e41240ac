//! Notifications: FHIR R4 Subscriptions with rest-hook channels, so that, for example, a
//! patient's GP practice hears when the patient is admitted or discharged
//! (`Encounter?class=IMP`), without polling and without seeing anyone it has no care
//! relationship with.
//!
//! A Subscription is an ordinary resource, written through the FHIR API like any other; the
//! trust layer records its owner ([`owner::record`]) in the same job. The [`Notifier`] reads
//! the store's change feed ([`changes`]) past a cursor kept in the store, activates requested
//! Subscriptions (or puts them in `error` with the reason: [`subscription::Plan`]), finds the
//! changed resources that match each criteria *under its owner's access filter*, sends them
//! ([`deliver`]) and records each as a disclosure in the audit log.
//!
//! Lower layers only: this crate uses the service, store, policy and audit crates; the server
//! wires it in.
pub mod changes;
pub mod deliver;
mod notifier;
pub mod owner;
pub mod subscription;

pub use notifier::{Notifier, Pass, SETTLE};
pub use owner::Owner;
pub use subscription::{Plan, Status};
