//! Lantern's own development issuer: HS256 tokens signed with a secret kept in the data directory,
//! so a fresh install can be used (and tested) before an identity provider is wired in.
//!
//! The secret lives in `DIR/auth/dev-issuer.key` (64 hex characters, mode 0600, created on first
//! use). Whoever can read it can mint any token, including full system access, so it is as
//! sensitive as the data directory itself.
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use crate::claims::{Claims, NumericDate};
use crate::error::InvalidClaim;
use crate::ids;
use crate::principal::Kind;
use crate::purpose::Purpose;
use crate::scopes::Scopes;

/// The `iss` of development tokens.
pub const DEV_ISSUER: &str = "lantern-dev";

const SECRET_BYTES: usize = 32;

/// The development issuer: signs tokens; its key also goes to the [`crate::Verifier`].
#[derive(Clone)]
pub struct DevIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    path: PathBuf,
}

impl std::fmt::Debug for DevIssuer {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("path", &self.path).finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Where the secret lives for a data directory.
    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("auth").join("dev-issuer.key")
    }

    /// Loads the secret, creating it first if missing.
    pub fn open(data_dir: &Path) -> io::Result<DevIssuer> {
        let path = DevIssuer::key_path(data_dir);
        if !path.exists() {
            create(&path)?;
        }
        let text = std::fs::read_to_string(&path)?;
        check_private(&path)?;
        let secret = hex::decode(text.trim())
            .ok()
            .filter(|s| s.len() == SECRET_BYTES)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} should hold {} hex characters; delete it to make a new key (tokens already issued stop working)",
                        path.display(),
                        SECRET_BYTES * 2
                    ),
                )
            })?;
        Ok(DevIssuer {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            path,
        })
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs a token valid from now for `ttl`.
    pub fn issue(&self, claims: &DevClaims, ttl: Duration) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        self.issue_at(claims, now, ttl)
    }

    /// Signs a token issued at `now` (seconds since 1970): for tests and tools with their own clock.
    pub fn issue_at(&self, claims: &DevClaims, now: i64, ttl: Duration) -> String {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let c = Claims {
            iss: Some(DEV_ISSUER.into()),
            sub: Some(claims.subject.clone()),
            iat: Some(NumericDate(now)),
            exp: Some(NumericDate(now.saturating_add(ttl))),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            scope: Some(claims.scopes.to_string()),
            org: claims.org.clone(),
            role: claims.role.clone(),
            purpose_of_use: claims.purpose.map(|p| p.code().to_string()),
            name: claims.name.clone(),
            nhs_number: claims.nhs_number.clone(),
            feed: claims.feed.clone(),
            lantern_kind: Some(claims.kind.as_str().into()),
            ..Claims::default()
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &self.encoding)
            .expect("HS256 over plain string and number claims cannot fail")
    }
}

/// Writes a new random secret without ever replacing one: a second process racing to create it
/// loses the `hard_link` and both then read the winner's.
fn create(path: &Path) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".dev-issuer.key.{}", uuid::Uuid::new_v4()));
    let mut f = private_file(&tmp)?;
    let written = writeln!(f, "{}", hex::encode(secret)).and_then(|_| f.sync_all());
    let linked = written.and_then(|_| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// Refuses a key other users can read: they could mint tokens.
#[cfg(unix)]
fn check_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is readable by other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Who a development token is for. Built by one constructor per kind, which checks the values
/// the same way the verifier will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevClaims {
    kind: Kind,
    subject: String,
    org: Option<String>,
    role: Option<String>,
    purpose: Option<Purpose>,
    nhs_number: Option<String>,
    feed: Option<String>,
    name: Option<String>,
    scopes: Scopes,
}

impl DevClaims {
    fn new(kind: Kind, subject: String, scope: &str) -> DevClaims {
        DevClaims {
            kind,
            subject,
            org: None,
            role: None,
            purpose: None,
            nhs_number: None,
            feed: None,
            name: None,
            scopes: Scopes::parse(scope).expect("default scopes are valid"),
        }
    }

    /// Full system access for tools: `system/*.cruds`, subject `system`.
    pub fn system() -> DevClaims {
        DevClaims::new(Kind::System, "system".into(), "system/*.cruds")
    }

    /// A user `id` of organisation `org` (ODS code) in `role`; purpose TREAT, scope `user/*.cruds`.
    pub fn user(id: &str, org: &str, role: &str) -> Result<DevClaims, InvalidClaim> {
        let mut c = DevClaims::new(Kind::User, required("sub", id)?, "user/*.cruds");
        c.org = Some(ids::ods_code(org)?);
        c.role = Some(required("role", role)?);
        c.purpose = Some(Purpose::Treat);
        Ok(c)
    }

    /// The patient with this NHS number; purpose PATRQT, scope `patient/*.rs`, subject `patient:NHS`.
    pub fn patient(nhs_number: &str) -> Result<DevClaims, InvalidClaim> {
        let nhs = ids::nhs_number(nhs_number)?;
        let mut c = DevClaims::new(Kind::Patient, format!("patient:{nhs}"), "patient/*.rs");
        c.nhs_number = Some(nhs);
        c.purpose = Some(Purpose::PatientRequest);
        Ok(c)
    }

    /// Feed `id` sending for `org`; scope `system/*.cu` (writes only), subject `feed:ID`.
    pub fn feed(id: &str, org: &str) -> Result<DevClaims, InvalidClaim> {
        let id = required("feed", id)?;
        let mut c = DevClaims::new(Kind::Feed, format!("feed:{id}"), "system/*.cu");
        c.org = Some(ids::ods_code(org)?);
        c.feed = Some(id);
        Ok(c)
    }

    pub fn with_purpose(mut self, purpose: Purpose) -> DevClaims {
        self.purpose = Some(purpose);
        self
    }

    /// A display name (`name` claim).
    pub fn with_name(mut self, name: &str) -> DevClaims {
        self.name = Some(name.to_string()).filter(|n| !n.trim().is_empty());
        self
    }

    /// Replaces the default scopes. They must parse and suit the kind (a patient gets
    /// `patient/` scopes only, a user `user/` or `patient/`, system and feed `system/`).
    pub fn with_scope(mut self, scope: &str) -> Result<DevClaims, InvalidClaim> {
        let scopes = Scopes::parse(scope).map_err(|e| InvalidClaim::new("scope", e.to_string()))?;
        if let Some(bad) = scopes.iter().find(|s| !self.kind.permits(s.context())) {
            return Err(InvalidClaim::new("scope", format!("a {} token may not hold `{bad}`", self.kind)));
        }
        if scopes.is_empty() {
            return Err(InvalidClaim::new("scope", "no resource scope given: the token would grant nothing"));
        }
        self.scopes = scopes;
        Ok(self)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }
}

fn required(claim: &'static str, value: &str) -> Result<String, InvalidClaim> {
    let v = value.trim();
    if v.is_empty() {
        Err(InvalidClaim::new(claim, "must not be empty"))
    } else {
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = DevIssuer::open(dir.path()).unwrap();
        let path = DevIssuer::key_path(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let b = DevIssuer::open(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // Same key: a token from one verifies with the other's key.
        let token = a.issue(&DevClaims::system(), Duration::from_secs(60));
        let (msg, sig) = token.rsplit_once('.').unwrap();
        assert!(
            jsonwebtoken::crypto::verify(sig, msg.as_bytes(), b.decoding_key(), Algorithm::HS256).unwrap()
        );
        assert!(!format!("{a:?}").contains(text.trim()));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_key_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        DevIssuer::open(dir.path()).unwrap();
        let path = DevIssuer::key_path(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = DevIssuer::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn refuses_a_damaged_key() {
        let dir = tempfile::tempdir().unwrap();
        DevIssuer::open(dir.path()).unwrap();
        std::fs::write(DevIssuer::key_path(dir.path()), "abc\n").unwrap();
        let e = DevIssuer::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("64 hex characters"), "{e}");
    }

    #[test]
    fn constructors_check_values() {
        assert!(DevClaims::user("u", "RR8", "gp").is_ok());
        assert_eq!(DevClaims::user("u", "R", "gp").unwrap_err().claim, "org");
        assert_eq!(DevClaims::user("u", "RR8", " ").unwrap_err().claim, "role");
        assert_eq!(DevClaims::user("", "RR8", "gp").unwrap_err().claim, "sub");
        assert_eq!(DevClaims::patient("9434765918").unwrap_err().claim, "nhs_number");
        assert_eq!(DevClaims::feed("", "RR8").unwrap_err().claim, "feed");
        let p = DevClaims::patient("9434765919").unwrap();
        assert!(p.clone().with_scope("patient/Observation.rs").is_ok());
        let e = p.clone().with_scope("system/*.rs").unwrap_err();
        assert!(e.reason.contains("a patient token may not hold"), "{e}");
        assert!(p.clone().with_scope("openid").unwrap_err().reason.contains("grant nothing"));
        assert!(p.with_scope("patient/x.rs").unwrap_err().reason.contains("patient/x.rs"));
        assert_eq!(DevClaims::feed("adt", "rr8").unwrap().scopes().to_string(), "system/*.cu");
    }
}
