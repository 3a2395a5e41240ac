//! Errors. [`AuthError`] is what a caller sent wrong, worded for the client developer who will
//! read it in an OperationOutcome; every variant means HTTP 401. [`ConfigError`] is what the
//! operator configured wrong, reported at start-up. They are separate because they have
//! different readers and never cross: a request cannot cause a config error.
use std::path::PathBuf;

use crate::scopes::ScopeError;

/// A claim whose value is present but unusable (an NHS number failing its check digit, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claim `{claim}`: {reason}")]
pub struct InvalidClaim {
    pub claim: &'static str,
    pub reason: String,
}

impl InvalidClaim {
    pub(crate) fn new(claim: &'static str, reason: impl Into<String>) -> InvalidClaim {
        InvalidClaim { claim, reason: reason.into() }
    }
}

/// Why a bearer token was not accepted. Every variant maps to HTTP 401 with an OperationOutcome
/// whose issue code is [`AuthError::code`] and whose diagnostics is [`AuthError::diagnostic`]; the
/// texts name no secret and echo no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header: send `Authorization: Bearer <token>`")]
    MissingHeader,
    #[error("the Authorization header is not a bearer token: send `Authorization: Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is malformed: {0}")]
    Malformed(String),
    #[error("the token is signed with `{alg}`, which {why}")]
    UnsupportedAlgorithm { alg: String, why: String },
    #[error("the token's issuer (`iss`) `{0}` is not one this server trusts")]
    UnknownIssuer(String),
    #[error("no key of issuer `{issuer}` matches the token: {detail}")]
    UnknownKey { issuer: String, detail: String },
    #[error("the token's signature does not verify with issuer `{issuer}`'s key: the token was altered or signed with another key")]
    BadSignature { issuer: String },
    #[error("the token expired at {} ({} seconds ago); get a new token", timestamp(*.at), .now - .at)]
    Expired { at: i64, now: i64 },
    #[error("the token is not valid until {} ({} seconds from now); check the clocks of the issuer and this server", timestamp(*.from), .from - .now)]
    NotYetValid { from: i64, now: i64 },
    #[error("the token's audience (`aud`) does not include `{expected}`, this server's audience for issuer `{issuer}`")]
    WrongAudience { issuer: String, expected: String },
    #[error("the token has no `{claim}` claim: {why}")]
    MissingClaim { claim: &'static str, why: &'static str },
    #[error("{0}")]
    InvalidClaim(#[from] InvalidClaim),
    #[error("{0}")]
    BadScope(#[from] ScopeError),
}

impl AuthError {
    /// Text for the OperationOutcome's `diagnostics`.
    pub fn diagnostic(&self) -> String {
        self.to_string()
    }

    /// The FHIR `IssueType` for the OperationOutcome: `login` when no credentials were sent,
    /// `expired` when they were but have run out, `security` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingHeader | AuthError::NotBearer => "login",
            AuthError::Expired { .. } => "expired",
            _ => "security",
        }
    }

    /// A `WWW-Authenticate` header value for the 401 (RFC 6750 section 3).
    pub fn www_authenticate(&self) -> String {
        match self {
            // No credentials: name the scheme only.
            AuthError::MissingHeader | AuthError::NotBearer => r#"Bearer realm="lantern""#.into(),
            other => {
                let description: String = other
                    .diagnostic()
                    .chars()
                    .map(|c| if c == '"' || c == '\\' || !(' '..='~').contains(&c) { '\'' } else { c })
                    .collect();
                format!(r#"Bearer realm="lantern", error="invalid_token", error_description="{description}""#)
            }
        }
    }
}

/// RFC 3339 in UTC, or the raw number if out of range.
fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix} (seconds since 1970)"))
}

/// A mistake in the `[auth]` configuration or in a key set it names.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("auth configuration: {0}")]
    Toml(String),
    #[error("auth issuer `{issuer}`: {problem}")]
    Issuer { issuer: String, problem: String },
    #[error("auth issuer `{issuer}`: cannot read JWKS file {}: {error}", path.display())]
    JwksFile { issuer: String, path: PathBuf, error: std::io::Error },
    #[error("auth issuer `{issuer}`: key set: {problem}")]
    Jwks { issuer: String, problem: String },
    #[error("auth: no issuer is trusted (no [[auth.issuers]] and the development issuer is off or absent), so every request would be refused")]
    NoIssuers,
    #[error("auth.sign_in: {0}")]
    SignIn(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_names_the_time() {
        let e = AuthError::Expired { at: 1_767_225_600, now: 1_767_225_700 };
        assert_eq!(
            e.diagnostic(),
            "the token expired at 2026-01-01T00:00:00Z (100 seconds ago); get a new token"
        );
        assert_eq!(e.code(), "expired");
    }

    #[test]
    fn codes() {
        assert_eq!(AuthError::MissingHeader.code(), "login");
        assert_eq!(AuthError::NotBearer.code(), "login");
        assert_eq!(AuthError::Malformed("x".into()).code(), "security");
        assert_eq!(AuthError::BadSignature { issuer: "i".into() }.code(), "security");
    }

    #[test]
    fn www_authenticate_is_a_safe_quoted_string() {
        assert_eq!(AuthError::MissingHeader.www_authenticate(), r#"Bearer realm="lantern""#);
        let h = AuthError::UnknownIssuer("a\"b\\c\n".into()).www_authenticate();
        assert!(h.starts_with(r#"Bearer realm="lantern", error="invalid_token", error_description=""#));
        let inner = &h[h.find("description=\"").unwrap() + 13..h.len() - 1];
        assert!(!inner.contains('"') && !inner.contains('\\') && !inner.contains('\n'));
    }
}
