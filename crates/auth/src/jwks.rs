//! JSON Web Key Sets (RFC 7517): the public keys of an RS256/ES256 issuer, from a file or a URL.
//!
//! Keys are decoded once, when the set is loaded, into `jsonwebtoken::DecodingKey`s; verifying a
//! token only looks one up. A set fetched from a URL is fetched again when a token names a key
//! the set lacks (the issuer has rotated its keys), at most once per `min_interval` so that a
//! stream of tokens with made-up key ids cannot turn this server into a flood on the issuer.
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::{Mutex, RwLock};

use crate::error::ConfigError;

/// The most a key set may weigh; real ones are a few KB.
const MAX_JWKS_BYTES: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// The usable keys of one set: RS256 (RSA) and ES256 (EC P-256) verification keys.
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
}

impl KeySet {
    /// Parses a JWKS document. Keys this server cannot use (encryption keys, other algorithms
    /// or curves, symmetric keys) are skipped, not fatal: issuers publish them side by side with
    /// signing keys. A set with no usable key at all is an error.
    pub(crate) fn parse(json: &[u8]) -> Result<KeySet, String> {
        #[derive(serde::Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_slice(json)
            .map_err(|e| format!("not a JWKS document (`{{\"keys\": [...]}}`): {e}"))?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, value) in raw.keys.into_iter().enumerate() {
            let label = value
                .get("kid")
                .and_then(|k| k.as_str())
                .map_or_else(|| format!("key {i}"), |k| format!("key `{k}`"));
            match serde_json::from_value::<Jwk>(value)
                .map_err(|e| format!("not a JWK: {e}"))
                .and_then(|jwk| usable(&jwk))
            {
                Ok(k) => keys.push(k),
                Err(why) => skipped.push(format!("{label}: {why}")),
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "no usable RS256 or ES256 signing key (skipped: {})",
                if skipped.is_empty() { "none present".into() } else { skipped.join("; ") }
            ));
        }
        if !skipped.is_empty() {
            tracing::debug!(skipped = %skipped.join("; "), "JWKS keys skipped");
        }
        Ok(KeySet { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key for a token: by `kid` when it has one; otherwise the only key of its algorithm.
    pub(crate) fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&VerifyKey, String> {
        if let Some(kid) = kid {
            let named: Vec<&VerifyKey> = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect();
            return match named.iter().find(|k| k.alg == alg) {
                Some(k) => Ok(k),
                None if named.is_empty() => Err(format!(
                    "key id (`kid`) `{}` is not in the issuer's key set",
                    crate::principal::clip(kid)
                )),
                None => Err(format!("key `{kid}` is for {:?}, but the token says {alg:?}", named[0].alg)),
            };
        }
        let mut of_alg = self.keys.iter().filter(|k| k.alg == alg);
        match (of_alg.next(), of_alg.count()) {
            (Some(k), 0) => Ok(k),
            (None, _) => Err(format!("the issuer has no {alg:?} key")),
            (Some(_), more) => Err(format!(
                "the token has no key id (`kid`) and the issuer has {} {alg:?} keys, so which one signed it cannot be told",
                more + 1
            )),
        }
    }
}

fn usable(jwk: &Jwk) -> Result<VerifyKey, String> {
    let c = &jwk.common;
    if c.public_key_use == Some(PublicKeyUse::Encryption) {
        return Err("an encryption key (`use: enc`)".into());
    }
    if let Some(ops) = &c.key_operations {
        if !ops.contains(&KeyOperations::Verify) {
            return Err("`key_ops` does not include verify".into());
        }
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::EllipticCurve(p) => {
            return Err(format!("curve {:?} is not supported (only P-256)", p.curve))
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never taken from a key set".into())
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err("EdDSA keys are not supported".into()),
    };
    // A key that declares its algorithm is used for that algorithm only.
    let declared_ok = match c.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_ok {
        return Err(format!(
            "declared algorithm {:?} is not supported (only RS256 and ES256)",
            c.key_algorithm
        ));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key material: {e}"))?;
    Ok(VerifyKey { kid: c.key_id.clone(), alg, key })
}

/// A key set and, for a URL, how to fetch it again.
pub(crate) struct JwksSource {
    issuer: String,
    keys: RwLock<Arc<KeySet>>,
    remote: Option<Remote>,
}

struct Remote {
    url: reqwest::Url,
    client: reqwest::Client,
    min_interval: Duration,
    /// When a fetch last started; claimed before fetching, so concurrent misses fetch once.
    last_attempt: Mutex<Option<Instant>>,
    /// Held while fetching, so requests that missed wait for the fetch under way.
    fetching: tokio::sync::Mutex<()>,
}

/// What a refresh did.
pub(crate) enum Refresh {
    Fetched,
    /// Fetched too recently; the set in hand is as new as it will get for now.
    TooSoon,
    Failed,
    /// A file: nothing to fetch.
    Static,
}

impl JwksSource {
    pub(crate) fn from_file(issuer: &str, path: &Path) -> Result<JwksSource, ConfigError> {
        let bytes = std::fs::read(path).map_err(|error| ConfigError::JwksFile {
            issuer: issuer.into(),
            path: path.into(),
            error,
        })?;
        let set = KeySet::parse(&bytes).map_err(|problem| ConfigError::Jwks {
            issuer: issuer.into(),
            problem: format!("{}: {problem}", path.display()),
        })?;
        Ok(JwksSource { issuer: issuer.into(), keys: RwLock::new(Arc::new(set)), remote: None })
    }

    /// Fetches the set now: a server that cannot reach its issuer's keys at start-up says so
    /// at once rather than refusing every request later.
    pub(crate) async fn from_url(
        issuer: &str,
        url: reqwest::Url,
        min_interval: Duration,
    ) -> Result<JwksSource, ConfigError> {
        // Follow redirects, but never from https to plain http: that would undo the TLS the
        // configuration insisted on.
        let require_https = url.scheme() == "https";
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if require_https && attempt.url().scheme() != "https" {
                attempt.error("refusing a redirect from https to plain http")
            } else {
                attempt.follow()
            }
        });
        let client =
            reqwest::Client::builder().timeout(FETCH_TIMEOUT).redirect(redirects).build().map_err(|e| {
                ConfigError::Jwks {
                    issuer: issuer.into(),
                    problem: format!("cannot build an HTTP client: {e}"),
                }
            })?;
        let remote = Remote {
            url,
            client,
            min_interval,
            last_attempt: Mutex::new(Some(Instant::now())),
            fetching: tokio::sync::Mutex::new(()),
        };
        let set =
            remote.fetch().await.map_err(|problem| ConfigError::Jwks { issuer: issuer.into(), problem })?;
        Ok(JwksSource { issuer: issuer.into(), keys: RwLock::new(Arc::new(set)), remote: Some(remote) })
    }

    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.keys.read().clone()
    }

    pub(crate) fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    pub(crate) fn describe(&self) -> String {
        match &self.remote {
            Some(r) => format!("JWKS {} ({} keys)", r.url, self.current().len()),
            None => format!("JWKS file ({} keys)", self.current().len()),
        }
    }

    /// Fetches the set again unless that was done within `min_interval`; waits for a fetch that
    /// is already under way. A failed fetch keeps the old keys.
    pub(crate) async fn refresh(&self) -> Refresh {
        let Some(remote) = &self.remote else {
            return Refresh::Static;
        };
        let _one_at_a_time = remote.fetching.lock().await;
        if !remote.claim_attempt() {
            return Refresh::TooSoon;
        }
        match remote.fetch().await {
            Ok(set) => {
                tracing::info!(issuer = %self.issuer, keys = set.len(), "JWKS fetched again");
                *self.keys.write() = Arc::new(set);
                Refresh::Fetched
            }
            Err(problem) => {
                tracing::warn!(issuer = %self.issuer, %problem, "JWKS fetch failed; keeping the old keys");
                Refresh::Failed
            }
        }
    }

    /// From a synchronous caller: start a refresh on the current Tokio runtime, if there is one
    /// and one is due. The caller's own request fails; later ones see the new keys.
    pub(crate) fn refresh_in_background(self: &Arc<Self>) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        if !remote.due() {
            return false;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let this = Arc::clone(self);
        handle.spawn(async move {
            this.refresh().await;
        });
        true
    }
}

impl Remote {
    fn due(&self) -> bool {
        self.last_attempt.lock().is_none_or(|t| t.elapsed() >= self.min_interval)
    }

    fn claim_attempt(&self) -> bool {
        let mut last = self.last_attempt.lock();
        if last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let url = &self.url;
        let response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        if response.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
            return Err(format!("{url} sent more than {MAX_JWKS_BYTES} bytes"));
        }
        let body = response.bytes().await.map_err(|e| format!("cannot read {url}: {e}"))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("{url} sent more than {MAX_JWKS_BYTES} bytes"));
        }
        KeySet::parse(&body).map_err(|e| format!("{url}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public halves of test keys (see tests/fixtures/README.md).
    const RSA: &str = include_str!("../tests/fixtures/rsa-1.jwk.json");
    const EC: &str = include_str!("../tests/fixtures/ec-1.jwk.json");

    fn set(keys: &[&str]) -> Vec<u8> {
        format!("{{\"keys\": [{}]}}", keys.join(",")).into_bytes()
    }

    #[test]
    fn selects_by_kid_and_alg() {
        let s = KeySet::parse(&set(&[RSA, EC])).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.select(Algorithm::RS256, Some("rsa-1")).unwrap().alg, Algorithm::RS256);
        assert_eq!(s.select(Algorithm::ES256, Some("ec-1")).unwrap().alg, Algorithm::ES256);
        assert!(s.select(Algorithm::RS256, Some("nope")).unwrap_err().contains("`nope` is not in"));
        assert!(s.select(Algorithm::ES256, Some("rsa-1")).unwrap_err().contains("is for RS256"));
        // No kid: the one key of the token's algorithm.
        assert_eq!(s.select(Algorithm::ES256, None).unwrap().kid.as_deref(), Some("ec-1"));
    }

    #[test]
    fn no_kid_with_two_candidates_is_refused() {
        let rsa2 = RSA.replace("rsa-1", "rsa-1b");
        let s = KeySet::parse(&set(&[RSA, &rsa2])).unwrap();
        assert!(s.select(Algorithm::RS256, None).unwrap_err().contains("has 2 RS256 keys"));
        assert!(s.select(Algorithm::ES256, None).unwrap_err().contains("no ES256 key"));
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let enc = RSA.replace("\"sig\"", "\"enc\"").replace("rsa-1", "enc");
        let oct = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}"#;
        let weird = r#"{"kty":"XYZ","kid":"weird"}"#;
        let s = KeySet::parse(&set(&[&enc, oct, weird, EC])).unwrap();
        assert_eq!(s.len(), 1);
        let e = KeySet::parse(&set(&[&enc, oct])).err().unwrap();
        assert!(
            e.contains("no usable") && e.contains("`enc`: an encryption key") && e.contains("symmetric"),
            "{e}"
        );
        assert!(KeySet::parse(b"[]").err().unwrap().contains("not a JWKS"));
    }
}
