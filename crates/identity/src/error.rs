//! The crate's error type.

/// What can go wrong in the identity crate. Matching itself never fails: these are about
/// configuration and persisted models.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The configuration is not usable.
    #[error("invalid matching configuration: {0}")]
    Config(String),
    /// A persisted model could not be read or written.
    #[error("invalid model: {0}")]
    Model(String),
}
