//! The `[auth]` section of Lantern's configuration file.
//!
//! ```toml
//! [auth]
//! dev_issuer = true                # trust `lantern token` tokens (default true; see the crate docs)
//!
//! [[auth.issuers]]                 # an identity provider publishing its keys at a URL
//! issuer = "https://login.example.nhs.uk"
//! audience = "https://lantern.example.nhs.uk/fhir"   # optional: required `aud` value
//! jwks_url = "https://login.example.nhs.uk/.well-known/jwks.json"
//! jwks_refresh_seconds = 60        # optional: least time between fetches (default 60)
//!
//! [[auth.issuers]]                 # keys in a file
//! issuer = "regional-sso"
//! jwks_file = "/etc/lantern/regional-sso.jwks.json"
//!
//! [[auth.issuers]]                 # a shared secret: development only
//! issuer = "test-harness"
//! hs256_secret = "at-least-32-bytes-of-shared-secret!!"
//! development = true
//!
//! [auth.sign_in]                    # the viewer's sign-in: OpenID Connect authorization code + PKCE
//! issuer = "https://login.example.nhs.uk"   # one of the issuers above
//! client_id = "lantern-viewer"
//! client_secret_file = "/etc/lantern/viewer-client-secret"   # optional: a public client uses PKCE alone
//! redirect_uri = "https://lantern.example.nhs.uk/signin/callback"
//! scopes = "openid profile"        # optional (default "openid"); "openid" is always sent
//! label = "NHS Care Identity"      # optional: the sign-in button's words
//! ```
use std::path::PathBuf;

use serde::Deserialize;

use crate::dev_issuer::DEV_ISSUER;
use crate::error::ConfigError;

/// Shortest HS256 secret accepted: RFC 7518 section 3.2 asks for a key at least as long as the hash.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Trust tokens from Lantern's own development issuer (`lantern token`).
    #[serde(default = "yes")]
    pub dev_issuer: bool,
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// How people sign in to the viewer, when an OpenID Connect provider is used.
    #[serde(default)]
    pub sign_in: Option<SignInConfig>,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig { dev_issuer: true, issuers: Vec::new(), sign_in: None }
    }
}

/// The viewer's OpenID Connect client: which provider, and how this server is registered there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// The provider's issuer URL; must also be under `[[auth.issuers]]`, whose keys check its tokens.
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client (sent with HTTP Basic, `client_secret_basic`). Prefer the file.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// This server's `/signin/callback`, as the browser reaches it (registered at the provider).
    pub redirect_uri: String,
    #[serde(default)]
    pub scopes: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

fn yes() -> bool {
    true
}

/// One trusted token issuer. Exactly one of `jwks_file`, `jwks_url`, `hs256_secret`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` value its tokens carry.
    pub issuer: String,
    /// If set, tokens must list this in `aud`.
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub hs256_secret: Option<String>,
    /// Marks a development-only issuer: required for `hs256_secret`, and allows a plain
    /// `http://` JWKS URL to a host other than this machine.
    #[serde(default)]
    pub development: bool,
    /// Least seconds between two fetches of `jwks_url` (default 60).
    #[serde(default)]
    pub jwks_refresh_seconds: Option<u64>,
}

/// Where an issuer's keys come from, once the config is checked.
pub(crate) enum KeySource<'a> {
    File(&'a std::path::Path),
    Url(reqwest::Url),
    Secret(&'a [u8]),
}

impl AuthConfig {
    /// Reads the `[auth]` section of a whole configuration file (other sections are ignored;
    /// no `[auth]` gives the defaults) and checks it.
    pub fn from_toml(text: &str) -> Result<AuthConfig, ConfigError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            auth: AuthConfig,
        }
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        file.auth.check()?;
        Ok(file.auth)
    }

    /// Checks what can be checked without reading files or the network.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for i in &self.issuers {
            i.key_source()?;
            if !seen.insert(i.issuer.as_str()) {
                return Err(i.problem("is configured twice"));
            }
        }
        if let Some(s) = &self.sign_in {
            s.check(self)?;
        }
        Ok(())
    }
}

impl SignInConfig {
    fn problem(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError::SignIn(problem.into())
    }

    fn check(&self, auth: &AuthConfig) -> Result<(), ConfigError> {
        let Some(issuer) = auth.issuers.iter().find(|i| i.issuer == self.issuer) else {
            return Err(self.problem(format!(
                "`issuer` `{}` must also be listed under [[auth.issuers]], whose keys check the tokens it issues",
                self.issuer
            )));
        };
        if self.client_id.trim().is_empty() {
            return Err(self.problem("`client_id` is empty"));
        }
        if self.client_secret.is_some() && self.client_secret_file.is_some() {
            return Err(self.problem("give `client_secret` or `client_secret_file`, not both"));
        }
        web_url(&self.issuer, issuer.development).map_err(|e| self.problem(format!("`issuer` {e}")))?;
        let redirect = web_url(&self.redirect_uri, issuer.development)
            .map_err(|e| self.problem(format!("`redirect_uri` {e}")))?;
        if redirect.path() != "/signin/callback" || redirect.query().is_some() {
            return Err(self.problem(format!(
                "`redirect_uri` must be this server's /signin/callback as the browser reaches it \
                 (e.g. https://lantern.example/signin/callback), not `{}`",
                self.redirect_uri
            )));
        }
        Ok(())
    }

    /// The client secret, read from its file when given so.
    pub fn secret(&self) -> Result<Option<String>, ConfigError> {
        match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => Ok(Some(s.clone())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| self.problem(format!("reading `client_secret_file` {}: {e}", path.display()))),
            (None, None) => Ok(None),
        }
    }
}

/// An address a browser or this server will be sent to: https, or http only to this machine or
/// for a development issuer (in the clear, a code or token can be read on the way).
pub(crate) fn web_url(u: &str, development: bool) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(u).map_err(|e| format!("`{u}` is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback || development => Ok(url),
        _ => Err(format!(
            "must be https:// (http:// only to this machine or with `development = true`), not `{u}`"
        )),
    }
}

impl IssuerConfig {
    fn problem(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError::Issuer { issuer: self.issuer.clone(), problem: problem.into() }
    }

    pub(crate) fn key_source(&self) -> Result<KeySource<'_>, ConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(self.problem("`issuer` is empty"));
        }
        if self.issuer == DEV_ISSUER {
            return Err(self.problem(format!(
                "`{DEV_ISSUER}` is the name of Lantern's own development issuer; use `dev_issuer = true` instead"
            )));
        }
        let source = match (&self.jwks_file, &self.jwks_url, &self.hs256_secret) {
            (Some(f), None, None) => KeySource::File(f),
            (None, Some(u), None) => KeySource::Url(self.check_url(u)?),
            (None, None, Some(s)) => {
                // A shared secret lets whoever holds it mint any token, and it must be copied
                // to every verifier; asymmetric keys let the issuer alone sign. So HS256 is for
                // test rigs and laptops, and saying so is the operator's deliberate act.
                if !self.development {
                    return Err(self.problem(
                        "`hs256_secret` (HS256) is accepted only with `development = true`; \
                         production issuers must publish RS256 or ES256 keys (`jwks_url` or `jwks_file`)",
                    ));
                }
                if s.len() < MIN_SECRET_BYTES {
                    return Err(
                        self.problem(format!("`hs256_secret` must be at least {MIN_SECRET_BYTES} bytes"))
                    );
                }
                KeySource::Secret(s.as_bytes())
            }
            _ => return Err(self.problem("give exactly one of `jwks_file`, `jwks_url` or `hs256_secret`")),
        };
        if self.jwks_refresh_seconds.is_some() && !matches!(source, KeySource::Url(_)) {
            return Err(self.problem("`jwks_refresh_seconds` applies only with `jwks_url`"));
        }
        Ok(source)
    }

    fn check_url(&self, u: &str) -> Result<reqwest::Url, ConfigError> {
        // Keys fetched in the clear can be swapped on the way.
        web_url(u, self.development).map_err(|e| self.problem(format!("`jwks_url` {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(toml: &str) -> String {
        AuthConfig::from_toml(toml).unwrap_err().to_string()
    }

    #[test]
    fn defaults_without_auth_section() {
        let c = AuthConfig::from_toml("[[feed]]\nid = \"x\"\n").unwrap();
        assert!(c.dev_issuer);
        assert!(c.issuers.is_empty());
    }

    #[test]
    fn full_example_parses() {
        let c = AuthConfig::from_toml(
            r#"
            [auth]
            dev_issuer = false
            [[auth.issuers]]
            issuer = "https://login.example"
            audience = "lantern"
            jwks_url = "https://login.example/jwks"
            jwks_refresh_seconds = 30
            [[auth.issuers]]
            issuer = "file"
            jwks_file = "keys.json"
            [[auth.issuers]]
            issuer = "dev"
            hs256_secret = "0123456789abcdef0123456789abcdef"
            development = true
            "#,
        )
        .unwrap();
        assert!(!c.dev_issuer);
        assert_eq!(c.issuers.len(), 3);
        assert_eq!(c.issuers[0].audience.as_deref(), Some("lantern"));
        assert_eq!(c.issuers[0].jwks_refresh_seconds, Some(30));
    }

    #[test]
    fn mistakes_are_named() {
        let secret = "hs256_secret = \"0123456789abcdef0123456789abcdef\"";
        let table = [
            (format!("[[auth.issuers]]\nissuer = \"a\"\n{secret}"), "only with `development = true`"),
            ("[[auth.issuers]]\nissuer = \"a\"\ndevelopment = true\nhs256_secret = \"short\"".to_string(), "at least 32 bytes"),
            ("[[auth.issuers]]\nissuer = \"a\"".to_string(), "exactly one of"),
            ("[[auth.issuers]]\nissuer = \"a\"\njwks_file = \"f\"\njwks_url = \"https://x\"".to_string(), "exactly one of"),
            ("[[auth.issuers]]\nissuer = \"a\"\njwks_url = \"http://idp.example/jwks\"".to_string(), "must be https://"),
            ("[[auth.issuers]]\nissuer = \"a\"\njwks_url = \"not a url\"".to_string(), "is not a URL"),
            ("[[auth.issuers]]\nissuer = \"lantern-dev\"\njwks_file = \"f\"".to_string(), "development issuer"),
            ("[[auth.issuers]]\nissuer = \"a\"\njwks_file = \"f\"\n[[auth.issuers]]\nissuer = \"a\"\njwks_file = \"g\"".to_string(), "configured twice"),
            ("[[auth.issuers]]\nissuer = \"a\"\njwks_file = \"f\"\njwks_refresh_seconds = 5".to_string(), "only with `jwks_url`"),
            ("[auth]\ndev_isuer = true".to_string(), "unknown field"),
        ];
        for (toml, want) in table {
            let e = err(&toml);
            assert!(e.contains(want), "{toml}\n=> {e}");
        }
    }

    #[test]
    fn sign_in_mistakes_are_named() {
        let idp = "[[auth.issuers]]\nissuer = \"https://idp.example\"\njwks_file = \"k\"\n";
        let ok = "redirect_uri = \"https://lantern.example/signin/callback\"";
        let good = format!("{idp}[auth.sign_in]\nissuer = \"https://idp.example\"\nclient_id = \"v\"\n{ok}");
        assert!(AuthConfig::from_toml(&good).unwrap().sign_in.is_some());
        let table = [
            (format!("[auth.sign_in]\nissuer = \"https://other\"\nclient_id = \"v\"\n{ok}"), "must also be listed"),
            (format!("{idp}[auth.sign_in]\nissuer = \"https://idp.example\"\nclient_id = \"\"\n{ok}"), "`client_id` is empty"),
            (format!("{idp}[auth.sign_in]\nissuer = \"https://idp.example\"\nclient_id = \"v\"\nredirect_uri = \"https://lantern.example/\""), "/signin/callback"),
            (format!("{idp}[auth.sign_in]\nissuer = \"https://idp.example\"\nclient_id = \"v\"\nredirect_uri = \"http://lantern.example/signin/callback\""), "must be https://"),
            (format!("{idp}[auth.sign_in]\nissuer = \"https://idp.example\"\nclient_id = \"v\"\nclient_secret = \"a\"\nclient_secret_file = \"b\"\n{ok}"), "not both"),
        ];
        for (toml, want) in table {
            let e = err(&toml);
            assert!(e.contains(want), "{toml}\n=> {e}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback_or_development() {
        for ok in [
            "jwks_url = \"http://127.0.0.1:9/jwks\"",
            "jwks_url = \"http://localhost/jwks\"",
            "jwks_url = \"http://[::1]/jwks\"",
            "jwks_url = \"http://idp.test/jwks\"\ndevelopment = true",
        ] {
            AuthConfig::from_toml(&format!("[[auth.issuers]]\nissuer = \"a\"\n{ok}")).unwrap();
        }
    }
}
