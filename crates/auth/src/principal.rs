//! The authenticated caller, built from a verified claim set.
use std::fmt;

use crate::claims::Claims;
use crate::error::{AuthError, InvalidClaim};
use crate::ids;
use crate::purpose::Purpose;
use crate::scopes::{Context, Scopes};

/// What kind of caller a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A tool or backend service with `system/` scopes and no user.
    System,
    /// A person working for an organisation (`org`) in a `role`.
    User,
    /// A patient looking at their own record (`nhs_number`).
    Patient,
    /// A source system sending data for its organisation (`feed`, `org`).
    Feed,
}

impl Kind {
    /// The `lantern_kind` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::System => "system",
            Kind::User => "user",
            Kind::Patient => "patient",
            Kind::Feed => "feed",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "system" => Kind::System,
            "user" => Kind::User,
            "patient" => Kind::Patient,
            "feed" => Kind::Feed,
            _ => return None,
        })
    }

    /// The scope contexts a caller of this kind may hold. A patient holding `system/` scopes,
    /// or a user holding `system/` ones, would be a contradiction that widens access, so it is
    /// refused rather than guessed at.
    pub(crate) fn permits(self, c: Context) -> bool {
        match self {
            Kind::System | Kind::Feed => c == Context::System,
            Kind::User => matches!(c, Context::User | Context::Patient),
            Kind::Patient => c == Context::Patient,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling, why, and with what scopes: the output of verification.
///
/// Invariants, checked when built: a `User` has `org` and `role`; a `Patient` has a valid
/// `nhs_number` and only `patient/` scopes; a `Feed` has `feed` and `org`; `org` is a valid ODS
/// code (upper case) wherever present; each kind's scopes are in contexts it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: Kind,
    /// The stable id of the caller: `sub`, or `fhirUser` if the token has no `sub`.
    pub subject: String,
    /// What to show for the caller: the `name` claim, else `subject`.
    pub user: String,
    /// ODS code of the organisation the caller acts for.
    pub org: Option<String>,
    /// E.g. `gp`, `ae-doctor`, `nurse`, `social-worker`, `privacy-officer`, `admin`.
    pub role: Option<String>,
    pub purpose: Option<Purpose>,
    /// For `Patient`: whose record (10 digits).
    pub nhs_number: Option<String>,
    /// For `Feed`: the feed id.
    pub feed: Option<String>,
    pub scopes: Scopes,
    /// `iss`.
    pub issuer: String,
    /// `jti`, if the token has one.
    pub token_id: Option<String>,
    /// `exp`, seconds since 1970.
    pub expires: i64,
}

impl Principal {
    /// Builds the principal from claims whose signature and times have been checked.
    pub(crate) fn from_claims(c: Claims, issuer: &str, expires: i64) -> Result<Principal, AuthError> {
        let scopes = Scopes::parse(c.scope.as_deref().unwrap_or(""))?;
        let subject = non_empty(c.sub).or_else(|| non_empty(c.fhir_user)).ok_or(AuthError::MissingClaim {
            claim: "sub",
            why: "every token must say who it is for (`sub`, or SMART's `fhirUser`)",
        })?;
        let org = non_empty(c.org).map(|o| ids::ods_code(&o)).transpose()?;
        let role = non_empty(c.role);
        let nhs_number = non_empty(c.nhs_number).map(|n| ids::nhs_number(&n)).transpose()?;
        let feed = non_empty(c.feed);
        let purpose = match non_empty(c.purpose_of_use) {
            None => None,
            Some(p) => Some(Purpose::parse(&p).ok_or_else(|| {
                InvalidClaim::new(
                    "purpose_of_use",
                    format!(
                        "`{}` is not a known purpose of use; use one of {} (or direct-care, emergency, patient-access, secondary-use)",
                        clip(&p),
                        Purpose::vocabulary()
                    ),
                )
            })?),
        };

        let kind = match non_empty(c.lantern_kind) {
            Some(k) => Kind::parse(&k).ok_or_else(|| {
                InvalidClaim::new(
                    "lantern_kind",
                    format!("`{}` is not one of system, user, patient, feed", clip(&k)),
                )
            })?,
            None => infer_kind(&scopes, &feed, &nhs_number, &org, &role)?,
        };

        match kind {
            Kind::User if org.is_none() => {
                return Err(missing("org", "a user token must name the user's organisation (ODS code)"))
            }
            Kind::User if role.is_none() => {
                return Err(missing("role", "a user token must give the user's role, e.g. gp or nurse"))
            }
            Kind::Patient if nhs_number.is_none() => {
                return Err(missing("nhs_number", "a patient token must say whose record it opens"))
            }
            Kind::Feed if feed.is_none() => return Err(missing("feed", "a feed token must name the feed")),
            Kind::Feed if org.is_none() => {
                return Err(missing("org", "a feed token must name the sending organisation (ODS code)"))
            }
            _ => {}
        }
        if let Some(bad) = scopes.iter().find(|s| !kind.permits(s.context())) {
            return Err(InvalidClaim::new(
                "scope",
                format!("a {kind} token may not hold `{}/` scopes (found `{bad}`)", bad.context().as_str()),
            )
            .into());
        }

        Ok(Principal {
            kind,
            user: non_empty(c.name).unwrap_or_else(|| subject.clone()),
            subject,
            org,
            role,
            purpose,
            nhs_number,
            feed,
            scopes,
            issuer: issuer.to_string(),
            token_id: non_empty(c.jti),
            expires,
        })
    }
}

/// Without `lantern_kind` (tokens from other issuers), the claims present decide.
fn infer_kind(
    scopes: &Scopes,
    feed: &Option<String>,
    nhs_number: &Option<String>,
    org: &Option<String>,
    role: &Option<String>,
) -> Result<Kind, AuthError> {
    let ctx = scopes.contexts();
    let person_at_work = org.is_some() || role.is_some();
    Ok(if feed.is_some() {
        Kind::Feed
    } else if nhs_number.is_some() {
        Kind::Patient
    } else if ctx.user {
        Kind::User
    } else if ctx.system {
        // A backend service may well name the organisation it runs for.
        Kind::System
    } else if ctx.patient && !person_at_work {
        Kind::Patient
    } else if person_at_work {
        // `patient/` scopes in a clinician's token: SMART's EHR launch with a patient in context.
        Kind::User
    } else {
        return Err(missing(
            "scope",
            "the token carries no SMART resource scopes and no `lantern_kind`, so it grants nothing",
        ));
    })
}

fn missing(claim: &'static str, why: &'static str) -> AuthError {
    AuthError::MissingClaim { claim, why }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Echo at most 64 characters of a caller's value back in an error.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        Claims::from_json(json.as_bytes()).unwrap()
    }

    fn build(json: &str) -> Result<Principal, AuthError> {
        Principal::from_claims(claims(json), "iss", 100)
    }

    #[test]
    fn user_from_another_issuer() {
        let p = build(r#"{"sub":"u1","name":"Dr Who","org":"a81001","role":"gp","purpose_of_use":"direct-care","scope":"openid user/*.rs","jti":"j"}"#).unwrap();
        assert_eq!(p.kind, Kind::User);
        assert_eq!(p.subject, "u1");
        assert_eq!(p.user, "Dr Who");
        assert_eq!(p.org.as_deref(), Some("A81001"));
        assert_eq!(p.role.as_deref(), Some("gp"));
        assert_eq!(p.purpose, Some(Purpose::Treat));
        assert_eq!(p.token_id.as_deref(), Some("j"));
        assert_eq!(p.expires, 100);
        assert_eq!(p.issuer, "iss");
    }

    #[test]
    fn fhir_user_stands_in_for_sub() {
        let p = build(r#"{"fhirUser":"Practitioner/7","org":"RR8","role":"nurse","scope":"user/Patient.r"}"#)
            .unwrap();
        assert_eq!(p.subject, "Practitioner/7");
        assert_eq!(p.user, "Practitioner/7");
    }

    #[test]
    fn kinds_are_inferred() {
        assert_eq!(build(r#"{"sub":"s","scope":"system/*.rs"}"#).unwrap().kind, Kind::System);
        assert_eq!(build(r#"{"sub":"s","org":"RR8","scope":"system/*.rs"}"#).unwrap().kind, Kind::System);
        assert_eq!(
            build(r#"{"sub":"u","org":"RR8","role":"gp","scope":"patient/*.rs"}"#).unwrap().kind,
            Kind::User
        );
        assert_eq!(
            build(r#"{"sub":"u","org":"RR8","role":"gp","scope":"openid"}"#).unwrap().kind,
            Kind::User
        );
        let mixed =
            build(r#"{"sub":"u","org":"RR8","role":"gp","scope":"user/*.rs system/*.cruds"}"#).unwrap_err();
        assert!(mixed.diagnostic().contains("a user token may not hold `system/`"), "{mixed}");
        assert_eq!(
            build(r#"{"sub":"p","nhs_number":"9434765919","scope":"patient/*.rs"}"#).unwrap().kind,
            Kind::Patient
        );
        assert_eq!(
            build(r#"{"sub":"f","feed":"adt","org":"RR8","scope":"system/*.cu"}"#).unwrap().kind,
            Kind::Feed
        );
    }

    #[test]
    fn missing_and_contradictory_claims() {
        let table = [
            (r#"{"scope":"system/*.rs"}"#, "no `sub` claim"),
            (r#"{"sub":"u","role":"gp","scope":"user/*.rs"}"#, "no `org` claim"),
            (r#"{"sub":"u","org":"RR8","scope":"user/*.rs"}"#, "no `role` claim"),
            (r#"{"sub":"p","scope":"patient/*.rs"}"#, "no `nhs_number` claim"),
            (r#"{"sub":"f","feed":"adt","scope":"system/*.cu"}"#, "no `org` claim"),
            (r#"{"sub":"x","lantern_kind":"feed","org":"RR8"}"#, "no `feed` claim"),
            (r#"{"sub":"x"}"#, "grants nothing"),
            (
                r#"{"sub":"p","nhs_number":"9434765919","scope":"patient/*.rs system/*.rs"}"#,
                "a patient token may not hold `system/` scopes",
            ),
            (
                r#"{"sub":"u","lantern_kind":"user","org":"RR8","role":"gp","scope":"system/*.cruds"}"#,
                "a user token may not hold `system/`",
            ),
            (r#"{"sub":"x","lantern_kind":"robot"}"#, "not one of system"),
            (
                r#"{"sub":"u","org":"RR8","role":"gp","purpose_of_use":"curiosity","scope":"user/*.rs"}"#,
                "not a known purpose",
            ),
            (r#"{"sub":"p","nhs_number":"1234567890","scope":"patient/*.rs"}"#, "check digit"),
            (r#"{"sub":"u","org":"R-8","role":"gp","scope":"user/*.rs"}"#, "not an ODS code"),
            (r#"{"sub":"u","scope":"user/*.bad"}"#, "not a valid SMART scope"),
        ];
        for (json, want) in table {
            let e = build(json).unwrap_err().diagnostic();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn clip_is_char_safe() {
        let long = "é".repeat(100);
        assert_eq!(clip(&long).chars().count(), 67);
        assert_eq!(clip("short"), "short");
    }
}
