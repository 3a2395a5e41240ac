//! Bearer token verification: from an `Authorization` header to a [`Principal`] or an [`AuthError`].
//!
//! The order of checks, each with its own error: the header's shape; the token's three
//! base64url parts and JSON; the algorithm (RS256, ES256, HS256 only); the issuer (`iss`, read
//! before the signature is checked because it picks the key, and trusted only after); the key
//! (`kid`); the signature; `exp` (required) and `nbf` with 60 s leeway; `aud` if the issuer has
//! one; then the claims that make a [`Principal`].
//!
//! The work per call is two small base64 decodes, two small JSON parses and one signature check
//! with a key decoded when the verifier was built. It never does I/O: an unknown key id from a
//! JWKS URL issuer makes [`Verifier::verify`] start a background refresh, while
//! [`Verifier::verify_async`] waits for it and tries once more.
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::claims::Claims;
use crate::config::{AuthConfig, KeySource};
use crate::dev_issuer::{DevIssuer, DEV_ISSUER};
use crate::error::{AuthError, ConfigError};
use crate::jwks::{JwksSource, Refresh};
use crate::principal::{clip, Principal};

/// Allowance for clock differences between the issuer and this server, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;
/// Longer tokens are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// Checks bearer tokens against the trusted issuers. Cheap to clone; share one per server.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<Issuer>,
}

struct Issuer {
    iss: String,
    audience: Option<String>,
    keys: Keys,
}

enum Keys {
    /// HS256 with a shared secret: the development issuer, or a `development = true` issuer.
    Hmac(DecodingKey),
    /// RS256/ES256 public keys.
    Jwks(Arc<JwksSource>),
}

/// A failed check, and the key set to fetch again if fetching might help.
struct Failure {
    error: AuthError,
    refresh: Option<Arc<JwksSource>>,
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Failure {
        Failure { error, refresh: None }
    }
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// RFC 7515 section 4.1.11: a token naming critical extensions we do not implement must be refused.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl Verifier {
    /// Builds the verifier: reads JWKS files and fetches JWKS URLs now, so a bad key source
    /// stops start-up with a clear message. `dev` is trusted when `config.dev_issuer` is on.
    pub async fn from_config(config: &AuthConfig, dev: Option<DevIssuer>) -> Result<Verifier, ConfigError> {
        config.check()?;
        let mut issuers = Vec::new();
        if let (true, Some(dev)) = (config.dev_issuer, dev) {
            issuers.push(Issuer {
                iss: DEV_ISSUER.into(),
                audience: None,
                keys: Keys::Hmac(dev.decoding_key().clone()),
            });
        }
        for ic in &config.issuers {
            let keys = match ic.key_source()? {
                KeySource::Secret(s) => Keys::Hmac(DecodingKey::from_secret(s)),
                KeySource::File(path) => Keys::Jwks(Arc::new(JwksSource::from_file(&ic.issuer, path)?)),
                KeySource::Url(url) => {
                    let every = ic.jwks_refresh_seconds.map_or(DEFAULT_REFRESH, Duration::from_secs);
                    Keys::Jwks(Arc::new(JwksSource::from_url(&ic.issuer, url, every).await?))
                }
            };
            issuers.push(Issuer { iss: ic.issuer.clone(), audience: ic.audience.clone(), keys });
        }
        if issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        Ok(Verifier { inner: Arc::new(Inner { issuers }) })
    }

    /// A verifier trusting only the development issuer: for tools and tests.
    pub fn dev_only(dev: &DevIssuer) -> Verifier {
        Verifier {
            inner: Arc::new(Inner {
                issuers: vec![Issuer {
                    iss: DEV_ISSUER.into(),
                    audience: None,
                    keys: Keys::Hmac(dev.decoding_key().clone()),
                }],
            }),
        }
    }

    /// One line per trusted issuer, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        self.inner
            .issuers
            .iter()
            .map(|i| match &i.keys {
                Keys::Hmac(_) => format!("{} (HS256, development only)", i.iss),
                Keys::Jwks(src) => format!("{} ({})", i.iss, src.describe()),
            })
            .collect()
    }

    /// Verifies a token now. Never blocks or does I/O (see the module docs on key refresh).
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_at(token, unix_now())
    }

    /// Verifies a token as of `now` (seconds since 1970): the clock injected.
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        self.check(token, now).map_err(|f| {
            let started = f.refresh.as_ref().is_some_and(|src| src.refresh_in_background());
            with_refresh_note(
                f.error,
                started.then_some("the issuer's key set is being fetched again; retry shortly"),
            )
        })
    }

    /// Verifies a token; if it names a key a JWKS URL issuer has not published to us yet, fetches
    /// the set again (at most once per refresh interval) and tries once more.
    pub async fn verify_async(&self, token: &str) -> Result<Principal, AuthError> {
        match self.check(token, unix_now()) {
            Err(Failure { refresh: Some(src), .. }) => {
                let note = match src.refresh().await {
                    Refresh::Fetched | Refresh::Static => "even after fetching the issuer's key set again",
                    Refresh::TooSoon => "the issuer's key set was fetched moments ago",
                    Refresh::Failed => "fetching the issuer's key set again failed",
                };
                self.check(token, unix_now()).map_err(|f| with_refresh_note(f.error, Some(note)))
            }
            other => other.map_err(|f| f.error),
        }
    }

    /// Verifies the value of an `Authorization` header (`None` when the header is absent).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        self.verify(bearer(header)?)
    }

    fn check(&self, token: &str, now: i64) -> Result<Principal, Failure> {
        let (claims, issuer, exp) = self.check_signed(token, now)?;
        if let Some(expected) = &issuer.audience {
            if !claims.aud.as_ref().is_some_and(|a| a.0.iter().any(|x| x == expected)) {
                return Err(AuthError::WrongAudience {
                    issuer: issuer.iss.clone(),
                    expected: expected.clone(),
                }
                .into());
            }
        }
        Ok(Principal::from_claims(claims, &issuer.iss, exp)?)
    }

    /// Checks an OpenID Connect ID token (Core section 3.1.3.7) from `iss` for client `client_id`,
    /// issued in answer to the sign-in attempt that sent `nonce`: the same signature, expiry
    /// and key rules as any bearer token, then `aud`, `azp` and `nonce` instead of the
    /// issuer's API audience. Gives the token's subject.
    pub(crate) async fn verify_id_token(
        &self,
        token: &str,
        iss: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<String, AuthError> {
        let checked = match self.check_signed(token, unix_now()) {
            Err(Failure { refresh: Some(src), .. }) => {
                src.refresh().await;
                self.check_signed(token, unix_now())
            }
            other => other,
        };
        let (claims, issuer, _) = checked.map_err(|f| f.error)?;
        if issuer.iss != iss {
            // Trusted for API calls, but not the provider this sign-in went to.
            return Err(AuthError::InvalidClaim(crate::error::InvalidClaim::new(
                "iss",
                format!(
                    "the ID token comes from `{}`, not from the sign-in provider `{}`",
                    clip(&issuer.iss),
                    clip(iss)
                ),
            )));
        }
        let aud = claims.aud.as_ref().map(|a| a.0.as_slice()).unwrap_or_default();
        if !aud.iter().any(|a| a == client_id) {
            return Err(AuthError::WrongAudience { issuer: issuer.iss.clone(), expected: client_id.into() });
        }
        if claims.azp.as_deref().is_some_and(|azp| azp != client_id) {
            return Err(AuthError::InvalidClaim(crate::error::InvalidClaim::new(
                "azp",
                "the ID token was issued to another client",
            )));
        }
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(AuthError::InvalidClaim(crate::error::InvalidClaim::new(
                "nonce",
                "the ID token does not answer this sign-in attempt (replayed or mixed up)",
            )));
        }
        claims.sub.ok_or(AuthError::MissingClaim { claim: "sub", why: "an ID token must name its subject" })
    }

    /// Signature, issuer, key, `exp` and `nbf`: what every token from a trusted issuer must pass.
    fn check_signed(&self, token: &str, now: i64) -> Result<(Claims, &Issuer, i64), Failure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!("it is longer than {MAX_TOKEN_BYTES} bytes")).into());
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(format!(
                "a JWT is three base64url parts joined by dots; this has {}",
                token.split('.').count()
            ))
            .into());
        };
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(malformed("one of its three parts is empty".into()).into());
        }
        let header: Header = serde_json::from_slice(&decode_part(h64, "header")?)
            .map_err(|e| malformed(format!("the header is not the expected JSON ({e})")))?;
        if header.crit.is_some() {
            return Err(AuthError::UnsupportedAlgorithm {
                alg: clip(&header.alg),
                why: "comes with critical header extensions (`crit`) this server does not implement".into(),
            }
            .into());
        }
        let alg = algorithm(&header.alg)?;
        let claims = Claims::from_json(&decode_part(p64, "payload")?).map_err(malformed)?;

        let iss = claims.iss.as_deref().ok_or(AuthError::MissingClaim {
            claim: "iss",
            why: "the issuer decides which key checks the signature",
        })?;
        let issuer = self
            .inner
            .issuers
            .iter()
            .find(|i| i.iss == iss)
            .ok_or_else(|| AuthError::UnknownIssuer(clip(iss)))?;

        // Look the key up, keeping the set alive while it is used.
        let set;
        let key = match &issuer.keys {
            Keys::Hmac(key) if alg == Algorithm::HS256 => key,
            Keys::Hmac(_) => return Err(wrong_alg(&header.alg, issuer, "signs with HS256").into()),
            Keys::Jwks(_) if alg == Algorithm::HS256 => {
                return Err(wrong_alg(
                    &header.alg,
                    issuer,
                    "publishes RS256/ES256 keys; HS256 is accepted only from development issuers",
                )
                .into())
            }
            Keys::Jwks(src) => {
                set = src.current();
                match set.select(alg, header.kid.as_deref()) {
                    Ok(k) => &k.key,
                    Err(detail) => {
                        return Err(Failure {
                            error: AuthError::UnknownKey { issuer: issuer.iss.clone(), detail },
                            refresh: src.is_remote().then(|| Arc::clone(src)),
                        })
                    }
                }
            }
        };

        let signed = &token[..h64.len() + 1 + p64.len()];
        match jsonwebtoken::crypto::verify(s64, signed.as_bytes(), key, alg) {
            Ok(true) => {}
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::Base64(_)) => {
                return Err(malformed("the signature is not base64url".into()).into())
            }
            _ => return Err(AuthError::BadSignature { issuer: issuer.iss.clone() }.into()),
        }

        // Signed by a trusted issuer from here on.
        let exp = claims
            .exp
            .ok_or(AuthError::MissingClaim { claim: "exp", why: "every token must say when it expires" })?;
        if now > exp.0.saturating_add(LEEWAY_SECONDS) {
            return Err(AuthError::Expired { at: exp.0, now }.into());
        }
        if let Some(nbf) = claims.nbf {
            if now.saturating_add(LEEWAY_SECONDS) < nbf.0 {
                return Err(AuthError::NotYetValid { from: nbf.0, now }.into());
            }
        }
        Ok((claims, issuer, exp.0))
    }
}

/// The token in an `Authorization: Bearer <token>` header value (scheme matched without regard
/// to case, RFC 7235).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::MissingHeader)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed("the Authorization header has no token after `Bearer`".into()));
    }
    Ok(token)
}

fn algorithm(alg: &str) -> Result<Algorithm, AuthError> {
    match alg {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "HS256" => Ok(Algorithm::HS256),
        "none" | "None" | "NONE" => Err(AuthError::UnsupportedAlgorithm {
            alg: alg.into(),
            why: "means unsigned; unsigned tokens are never accepted".into(),
        }),
        other => Err(AuthError::UnsupportedAlgorithm {
            alg: clip(other),
            why: "is not supported: use RS256 or ES256 (HS256 for development issuers)".into(),
        }),
    }
}

fn wrong_alg(alg: &str, issuer: &Issuer, how: &str) -> AuthError {
    AuthError::UnsupportedAlgorithm {
        alg: clip(alg),
        why: format!("is not how issuer `{}` signs: it {how}", issuer.iss),
    }
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("the {what} is not base64url (without padding)")))
}

fn malformed(why: String) -> AuthError {
    AuthError::Malformed(why)
}

fn with_refresh_note(error: AuthError, note: Option<&str>) -> AuthError {
    match (error, note) {
        (AuthError::UnknownKey { issuer, detail }, Some(note)) => {
            AuthError::UnknownKey { issuer, detail: format!("{detail} ({note})") }
        }
        (error, _) => error,
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// An RS256 token signed with fixture key `key`.
    fn signed(key: &str, claims: serde_json::Value) -> String {
        let k = jsonwebtoken::EncodingKey::from_rsa_pem(fixture(&format!("{key}.pem")).as_bytes()).unwrap();
        let mut h = jsonwebtoken::Header::new(Algorithm::RS256);
        h.kid = Some(key.into());
        jsonwebtoken::encode(&h, &claims, &k).unwrap()
    }

    /// Every check an ID token gets beyond a bearer token's: the sign-in provider as issuer,
    /// this client as audience (and `azp`), the attempt's nonce, and a subject.
    #[tokio::test]
    async fn id_tokens_must_answer_this_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = String::from("[auth]\ndev_issuer = false\n");
        for (iss, key) in [("https://idp.example", "rsa-1"), ("https://other.example", "rsa-2")] {
            let path = dir.path().join(format!("{key}.json"));
            std::fs::write(&path, format!("{{\"keys\": [{}]}}", fixture(&format!("{key}.jwk.json"))))
                .unwrap();
            cfg.push_str(&format!(
                "[[auth.issuers]]\nissuer = \"{iss}\"\njwks_file = \"{}\"\n",
                path.display()
            ));
        }
        let v = Verifier::from_config(&AuthConfig::from_toml(&cfg).unwrap(), None).await.unwrap();
        let now = unix_now();
        let good = serde_json::json!({"iss": "https://idp.example", "sub": "u1", "aud": "viewer",
                                      "exp": now + 300, "nonce": "n1"});
        let check = |key: &str, claims: serde_json::Value| {
            let t = signed(key, claims);
            let v = v.clone();
            async move { v.verify_id_token(&t, "https://idp.example", "viewer", "n1").await }
        };
        assert_eq!(check("rsa-1", good.clone()).await.unwrap(), "u1");
        let with = |k: &str, val: serde_json::Value| {
            let mut c = good.clone();
            c[k] = val;
            c
        };
        let cases = [
            ("rsa-1", with("nonce", "n2".into()), "nonce"),
            ("rsa-1", with("aud", "another-client".into()), "audience"),
            ("rsa-1", with("aud", serde_json::json!(["viewer", "api"])), ""),
            ("rsa-1", with("azp", "another-client".into()), "another client"),
            ("rsa-1", with("exp", (now - 3600).into()), "expired"),
            ("rsa-2", with("iss", "https://other.example".into()), "not from the sign-in provider"),
            // Signed with another issuer's key while claiming this one.
            ("rsa-2", good.clone(), "is not in the issuer's key set"),
        ];
        for (key, claims, want) in cases {
            let got = check(key, claims.clone()).await;
            match want {
                "" => assert!(got.is_ok(), "{claims}: {got:?}"),
                w => assert!(got.as_ref().is_err_and(|e| e.diagnostic().contains(w)), "{claims}: {got:?}"),
            }
        }
        let mut no_sub = good.clone();
        no_sub.as_object_mut().unwrap().remove("sub");
        assert!(check("rsa-1", no_sub).await.unwrap_err().diagnostic().contains("sub"));
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some("bearer   abc ")).unwrap(), "abc");
        assert_eq!(bearer(Some("BEARER abc")).unwrap(), "abc");
        assert_eq!(bearer(None).unwrap_err(), AuthError::MissingHeader);
        assert_eq!(bearer(Some("Basic dXNlcjpwYXNz")).unwrap_err(), AuthError::NotBearer);
        assert_eq!(bearer(Some("Bearerabc")).unwrap_err(), AuthError::NotBearer);
        assert!(matches!(bearer(Some("Bearer ")).unwrap_err(), AuthError::Malformed(_)));
        assert!(matches!(bearer(Some("Bearer")).unwrap_err(), AuthError::Malformed(_)));
    }

    #[test]
    fn algorithms() {
        assert_eq!(algorithm("RS256").unwrap(), Algorithm::RS256);
        assert!(algorithm("none").unwrap_err().diagnostic().contains("unsigned"));
        assert!(algorithm("HS512").unwrap_err().diagnostic().contains("not supported"));
    }
}
