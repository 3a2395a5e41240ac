//! Signing people in through an OpenID Connect provider: the authorization-code flow with PKCE
//! (OpenID Connect Core 1.0 section 3.1, RFC 6749 section 4.1, RFC 7636), for the viewer.
//!
//! The flow: [`SignIn::begin`] makes a fresh `state`, `nonce` and PKCE verifier and the address
//! to send the browser to; the provider signs the person in and sends the browser back with a
//! `code`; [`SignIn::finish`] swaps the code (with the verifier) for tokens at the token
//! endpoint, checks the ID token (signature, issuer, audience, expiry, nonce) and gives back the
//! token that becomes the viewer session.
//!
//! **Which token is the session.** The session is a bearer token that the trust guard verifies
//! on every page, like any API call, so it must name who the person is in Lantern's terms
//! (organisation, role, or NHS number). The access token is taken when it does, else the ID
//! token; when neither does, sign-in fails and says which claims are missing, because the
//! provider needs configuring to issue them.
//!
//! Why by hand rather than the `openidconnect` crate: that crate brings its own key fetching and
//! JWT checking (and a large dependency tree), while here the ID token is checked by the same
//! [`Verifier`] as every bearer token, with one key cache and one set of rules; what is left is
//! one discovery fetch, one URL and one form post.
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{web_url, AuthConfig, SignInConfig};
use crate::error::{AuthError, ConfigError};
use crate::{Principal, Verifier};

/// Network waits longer than this fail the sign-in rather than hang the page.
const TIMEOUT: Duration = Duration::from_secs(15);

/// A configured OpenID Connect client, with the provider's endpoints discovered.
#[derive(Debug)]
pub struct SignIn {
    issuer: String,
    client_id: String,
    secret: Option<String>,
    redirect_uri: String,
    scopes: String,
    label: String,
    authorization_endpoint: reqwest::Url,
    token_endpoint: reqwest::Url,
    http: reqwest::Client,
}

/// What the browser carries between [`SignIn::begin`] and [`SignIn::finish`] (the viewer keeps
/// it in a short-lived cookie): all three are random, base64url, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// A person signed in: the token to keep as their session and who it says they are.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub principal: Principal,
}

/// Why a sign-in did not complete; worded for the person at the sign-in page (no secrets).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the sign-in service refused: {0}")]
    Refused(String),
    #[error("the sign-in service could not be reached or answered oddly: {0}")]
    Provider(String),
    #[error("the sign-in service's ID token was not accepted: {0}")]
    IdToken(AuthError),
    #[error("the sign-in service did not say who you are in the terms this record needs (organisation and role, or NHS number): {0}")]
    NotAUser(AuthError),
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl SignIn {
    /// The sign-in of `auth` (None without `[auth.sign_in]`), its provider's endpoints fetched
    /// from `ISSUER/.well-known/openid-configuration` now, so a wrong address stops start-up.
    pub async fn from_config(auth: &AuthConfig) -> Result<Option<SignIn>, ConfigError> {
        let Some(cfg) = &auth.sign_in else { return Ok(None) };
        auth.check()?;
        let development = auth.issuers.iter().any(|i| i.issuer == cfg.issuer && i.development);
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // The provider's endpoints are addresses we chose; a redirect away from them is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::SignIn(format!("cannot make an HTTP client: {e}")))?;
        let problem = |p: String| ConfigError::SignIn(p);
        let url = format!("{}/.well-known/openid-configuration", cfg.issuer.trim_end_matches('/'));
        let found: Discovery = async {
            let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            resp.json().await.map_err(|e| format!("not an OpenID Connect discovery document: {e}"))
        }
        .await
        .map_err(|e| problem(format!("fetching {url}: {e}")))?;
        // OpenID Connect Discovery section 4.3: the document must name the issuer it was fetched for.
        if found.issuer != cfg.issuer {
            return Err(problem(format!(
                "{url} names issuer `{}`, not the configured `{}`",
                found.issuer, cfg.issuer
            )));
        }
        if let Some(methods) = &found.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(problem(
                    "the provider does not support PKCE with S256, which sign-in requires".into(),
                ));
            }
        }
        let endpoint =
            |what: &str, u: &str| web_url(u, development).map_err(|e| problem(format!("{what} {e}")));
        Ok(Some(SignIn {
            issuer: cfg.issuer.clone(),
            client_id: cfg.client_id.clone(),
            secret: cfg.secret()?,
            redirect_uri: cfg.redirect_uri.clone(),
            scopes: scopes(cfg),
            label: cfg.label.clone().unwrap_or_else(|| host_of(&cfg.issuer)),
            authorization_endpoint: endpoint("authorization_endpoint", &found.authorization_endpoint)?,
            token_endpoint: endpoint("token_endpoint", &found.token_endpoint)?,
            http,
        }))
    }

    /// The SMART App Launch 2.0 discovery document (`.well-known/smart-configuration`) for
    /// this provider: where an app sends its user to authorise and where it swaps the code for
    /// a token; Lantern then accepts that token like any other from the issuer. The
    /// capabilities are what Lantern itself does with such a token (SMART v2 scopes for users
    /// and patients, OpenID Connect identity); launch contexts chosen at the provider (a
    /// patient picker) are the provider's to offer, so none is claimed.
    pub fn smart_configuration(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint.as_str(),
            "token_endpoint": self.token_endpoint.as_str(),
            "grant_types_supported": ["authorization_code"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "user/*.rs", "patient/*.rs"],
            "capabilities": ["launch-standalone", "sso-openid-connect", "permission-v2", "permission-user",
                             "permission-patient"],
        })
    }

    /// Words for the sign-in button ("Sign in with ...").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the browser reaches this server over TLS (so cookies may be marked `Secure`).
    pub fn over_tls(&self) -> bool {
        self.redirect_uri.starts_with("https://")
    }

    /// Starts a sign-in: where to send the browser, and what to keep until it comes back.
    pub fn begin(&self) -> (String, Pending) {
        let pending = Pending { state: random(), nonce: random(), verifier: random() };
        let mut url = self.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        (url.into(), pending)
    }

    /// Finishes a sign-in: swaps `code` for tokens and checks them. The caller has already
    /// checked that the `state` that came back is the one in `pending`.
    pub async fn finish(
        &self,
        verifier: &Verifier,
        code: &str,
        pending: &Pending,
    ) -> Result<SignedIn, SignInError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let mut req = self.http.post(self.token_endpoint.clone()).header("Accept", "application/json");
        match &self.secret {
            Some(secret) => req = req.basic_auth(form_encode(&self.client_id), Some(form_encode(secret))),
            None => form.push(("client_id", self.client_id.as_str())),
        }
        let resp = req.form(&form).send().await.map_err(|e| SignInError::Provider(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| SignInError::Provider(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<TokenError>(&body) {
                Ok(e) => SignInError::Refused(match e.error_description {
                    Some(d) => format!("{} ({})", e.error, clip(&d)),
                    None => e.error,
                }),
                Err(_) => SignInError::Provider(format!("the token endpoint answered HTTP {status}")),
            });
        }
        let tokens: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            SignInError::Provider(format!("the token endpoint's answer is not a token response: {e}"))
        })?;
        let id_token = tokens.id_token.ok_or_else(|| {
            SignInError::Provider("the token endpoint gave no ID token (is `openid` allowed?)".into())
        })?;
        verifier
            .verify_id_token(&id_token, &self.issuer, &self.client_id, &pending.nonce)
            .await
            .map_err(SignInError::IdToken)?;
        let access = match &tokens.access_token {
            Some(t) => verifier.verify_async(t).await.map(|p| (t.clone(), p)),
            None => Err(AuthError::Malformed("there is no access token".into())),
        };
        match access {
            Ok((token, principal)) => Ok(SignedIn { token, principal }),
            Err(access_error) => match verifier.verify_async(&id_token).await {
                Ok(principal) => Ok(SignedIn { token: id_token, principal }),
                // The access token is the one meant for APIs, so its reason is the one to fix.
                Err(_) => Err(SignInError::NotAUser(access_error)),
            },
        }
    }
}

fn scopes(cfg: &SignInConfig) -> String {
    let mut words: Vec<&str> = cfg.scopes.as_deref().unwrap_or("").split_whitespace().collect();
    if !words.contains(&"openid") {
        words.insert(0, "openid");
    }
    words.join(" ")
}

fn host_of(issuer: &str) -> String {
    reqwest::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| issuer.into())
}

/// 32 random bytes, base64url: 256 bits, more than RFC 7636 section 7.1 asks of a verifier.
fn random() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE `S256` challenge of a verifier (RFC 7636 section 4.2).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 6749 section 2.3.1: client id and secret are form-encoded before HTTP Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A provider's words, kept short: they are shown on a page.
fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn randoms_are_long_and_distinct() {
        let (a, b) = (random(), random());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn openid_is_always_asked_for() {
        let cfg = |s: Option<&str>| SignInConfig {
            issuer: "https://idp".into(),
            client_id: "c".into(),
            client_secret: None,
            client_secret_file: None,
            redirect_uri: "https://l/signin/callback".into(),
            scopes: s.map(str::to_string),
            label: None,
        };
        assert_eq!(scopes(&cfg(None)), "openid");
        assert_eq!(scopes(&cfg(Some("profile email"))), "openid profile email");
        assert_eq!(scopes(&cfg(Some("profile openid"))), "profile openid");
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
    }
}
