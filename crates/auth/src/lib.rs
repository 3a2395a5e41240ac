//! Who is calling: bearer tokens in, a [`Principal`] (or an [`AuthError`] worth a 401) out.
//!
//! Every Lantern HTTP request except `/health` and `/fhir/metadata`, and every feed, presents a
//! JWT. This crate checks it and says who the caller is, in what role, for which organisation,
//! for what purpose, with which SMART on FHIR v2 scopes. What that caller may then *see* is
//! `lantern-policy`'s business, compiled into the query; this crate grants nothing by itself.
//!
//! # Shape
//!
//! - [`Verifier`] (`verify.rs`): token → [`Principal`]. Built once from [`AuthConfig`]; keys are
//!   decoded at start-up so each request costs two small JSON parses and one signature check.
//! - [`Scopes`] (`scopes.rs`): the SMART v2 grammar (v1 `.read`/`.write`/`.*` mapped onto it).
//! - [`DevIssuer`] (`dev_issuer.rs`): Lantern's own development issuer behind `lantern token`.
//! - `jwks.rs`: RS256/ES256 key sets from a file or URL, refetched when keys rotate.
//! - [`SignIn`] (`sign_in.rs`): people signing in to the viewer through an OpenID Connect
//!   provider (authorization code with PKCE); its ID token is checked by the [`Verifier`].
//! - `claims.rs` (wire shape), `principal.rs` (claims → caller), `ids.rs` (NHS number, ODS code),
//!   `purpose.rs` (purpose-of-use vocabulary), `config.rs`, `error.rs`.
//!
//! **Invariant:** depends on no other Lantern crate, so anything (server, feeds, tools) can verify
//! a token. **Invariant:** never logs a token or a claim value.
//!
//! # Claims
//!
//! | claim | meaning |
//! |---|---|
//! | `iss` | issuer; must be a configured one, or `lantern-dev` ([`DEV_ISSUER`]) |
//! | `sub` | the caller's stable id (SMART `fhirUser` is taken if `sub` is absent) |
//! | `exp` | required; expiry, seconds since 1970; 60 s leeway ([`LEEWAY_SECONDS`]) |
//! | `nbf`, `iat` | not-before is checked with the same leeway; `iat` is read and not checked |
//! | `aud` | checked when the issuer is configured with an `audience` |
//! | `jti` | token id, kept as [`Principal::token_id`] for audit |
//! | `scope` | space-separated SMART scopes, e.g. `user/*.rs openid` |
//! | `org` | ODS code of the caller's organisation (3-10 letters/digits; upper-cased) |
//! | `role` | e.g. `gp`, `ae-doctor`, `nurse`, `social-worker`, `privacy-officer`, `admin` |
//! | `purpose_of_use` | an HL7 v3 PurposeOfUse code or Lantern word (see [`Purpose`]) |
//! | `name` | display name |
//! | `nhs_number` | a patient token's patient (10 digits, Modulus 11 checked) |
//! | `feed` | a feed token's feed id |
//! | `lantern_kind` | `system`, `user`, `patient` or `feed` |
//!
//! Without `lantern_kind` the kind is inferred: `feed` present → feed; `nhs_number` → patient;
//! `user/` scopes → user; `system/` scopes → system; `patient/` scopes → patient, unless `org` or
//! `role` says it is a clinician with a patient in context (user); no scopes but `org`/`role` → user.
//! Each kind requires its claims (user: `org`, `role`; patient: `nhs_number`; feed: `feed`,
//! `org`) and may hold only scopes of its contexts (system and feed: `system/`; user: `user/`,
//! `patient/`; patient: `patient/`).
//!
//! # Algorithms, and why HS256 is development-only
//!
//! RS256 and ES256 keys come from a JWKS (file or URL), chosen by the token's `kid`, or the only
//! key of the algorithm when there is no `kid`. An issuer's keys are used only with their own
//! algorithm, so an RSA public key can never be passed off as an HMAC secret. HS256 needs the
//! same secret at the issuer and at every verifier, and anyone holding it can mint any token; so
//! it is accepted only from the development issuer and from issuers marked `development = true`.
//!
//! # Where keys live
//!
//! The development issuer's secret is `DATA_DIR/auth/dev-issuer.key` (hex, mode 0600, created on
//! first use; refused if others can read it). Whoever can read it can mint a full system token, so
//! production deployments should set `dev_issuer = false` under `[auth]`. Other issuers' keys are
//! public and named by `jwks_file` or `jwks_url` in the config (see [`AuthConfig`]).
mod claims;
mod config;
mod dev_issuer;
mod error;
mod ids;
mod jwks;
mod principal;
mod purpose;
mod scopes;
mod sign_in;
mod verify;

pub use config::{AuthConfig, IssuerConfig, SignInConfig};
pub use dev_issuer::{DevClaims, DevIssuer, DEV_ISSUER};
pub use error::{AuthError, ConfigError, InvalidClaim};
pub use ids::{nhs_number, ods_code};
pub use principal::{Kind, Principal};
pub use purpose::Purpose;
pub use scopes::{Context, Contexts, Op, Scope, ScopeError, Scopes, TypeSet};
pub use sign_in::{Pending, SignIn, SignInError, SignedIn};
pub use verify::{bearer, Verifier, LEEWAY_SECONDS};
