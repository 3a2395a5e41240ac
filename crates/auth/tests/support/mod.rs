//! Helpers shared by the integration tests: signing tokens with the test-only fixture keys.
#![allow(dead_code, unreachable_pub)]
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A JWKS document holding the public halves of the named fixture keys.
pub fn jwks(names: &[&str]) -> String {
    let keys: Vec<String> = names.iter().map(|n| read(&format!("{n}.jwk.json"))).collect();
    format!("{{\"keys\": [{}]}}", keys.join(","))
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Signs `claims` with fixture key `name` (`rsa-*` RS256, `ec-*` ES256), with `kid` in the header.
pub fn sign(name: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = read(&format!("{name}.pem"));
    let (alg, key) = if name.starts_with("ec") {
        (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes()).unwrap())
    } else {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// Claims of a user token from issuer `iss`, valid for an hour.
pub fn user_claims(iss: &str) -> Value {
    serde_json::json!({
        "iss": iss,
        "sub": "u-42",
        "name": "Dr Ada Jones",
        "exp": now() + 3600,
        "iat": now(),
        "jti": "t-1",
        "scope": "openid fhirUser user/*.rs",
        "org": "RR8",
        "role": "ae-doctor",
        "purpose_of_use": "ETREAT",
    })
}

/// The `[auth]` config text for one JWKS-file issuer.
pub fn file_issuer(iss: &str, jwks_path: &Path, extra: &str) -> String {
    format!(
        "[auth]\ndev_issuer = false\n[[auth.issuers]]\nissuer = \"{iss}\"\njwks_file = \"{}\"\n{extra}\n",
        jwks_path.display()
    )
}
