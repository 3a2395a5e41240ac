//! RS256 and ES256 issuers: key sets from files and from a URL served by a local HTTP server,
//! including key rotation.
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use lantern_auth::{AuthConfig, AuthError, ConfigError, Kind, Verifier};
use parking_lot::Mutex;
use serde_json::json;
use support::{file_issuer, jwks, sign, user_claims};

const ISS: &str = "https://login.test";

async fn file_verifier(keys: &[&str], extra: &str) -> (tempfile::TempDir, Verifier) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(keys)).unwrap();
    let config = AuthConfig::from_toml(&file_issuer(ISS, &path, extra)).unwrap();
    let v = Verifier::from_config(&config, None).await.unwrap();
    (dir, v)
}

#[tokio::test]
async fn rs256_and_es256_from_a_jwks_file() {
    let (_dir, v) = file_verifier(&["rsa-1", "ec-1"], "").await;
    let claims = user_claims(ISS);

    let p = v.verify(&sign("rsa-1", Some("rsa-1"), &claims)).unwrap();
    assert_eq!(p.kind, Kind::User);
    assert_eq!(p.subject, "u-42");
    assert_eq!(p.user, "Dr Ada Jones");
    assert_eq!(p.issuer, ISS);
    assert_eq!(p.token_id.as_deref(), Some("t-1"));

    let p = v.verify(&sign("ec-1", Some("ec-1"), &claims)).unwrap();
    assert_eq!(p.role.as_deref(), Some("ae-doctor"));

    // No kid: the only key of the token's algorithm.
    assert!(v.verify(&sign("rsa-1", None, &claims)).is_ok());
    assert!(v.verify(&sign("ec-1", None, &claims)).is_ok());

    assert_eq!(v.describe(), vec![format!("{ISS} (JWKS file (2 keys))")]);
}

#[tokio::test]
async fn wrong_key_unknown_kid_and_hs256_confusion() {
    let (_dir, v) = file_verifier(&["rsa-1"], "").await;
    let claims = user_claims(ISS);

    // Signed by rsa-2 but claiming to be rsa-1.
    let e = v.verify(&sign("rsa-2", Some("rsa-1"), &claims)).unwrap_err();
    assert_eq!(e, AuthError::BadSignature { issuer: ISS.into() });

    let e = v.verify(&sign("rsa-2", Some("rsa-2"), &claims)).unwrap_err();
    assert!(matches!(e, AuthError::UnknownKey { .. }));
    assert!(e.diagnostic().contains("`rsa-2` is not in the issuer's key set"), "{e}");

    let e = v.verify(&sign("ec-1", None, &claims)).unwrap_err();
    assert!(e.diagnostic().contains("no ES256 key"), "{e}");

    // The classic confusion attack: HMAC keyed with the issuer's public key text.
    let public = support::read("rsa-1.jwk.json");
    let e = v.verify(&support::hs256(public.as_bytes(), &claims)).unwrap_err();
    assert!(e.diagnostic().contains("HS256 is accepted only from development issuers"), "{e}");
}

#[tokio::test]
async fn audience_is_checked_when_configured() {
    let (_dir, v) = file_verifier(&["rsa-1"], "audience = \"https://lantern.test/fhir\"").await;
    let mut claims = user_claims(ISS);
    let e = v.verify(&sign("rsa-1", None, &claims)).unwrap_err();
    assert!(matches!(e, AuthError::WrongAudience { .. }));
    claims["aud"] = json!("https://lantern.test/fhir");
    assert!(v.verify(&sign("rsa-1", None, &claims)).is_ok());
}

#[tokio::test]
async fn missing_claims_from_an_external_issuer() {
    let (_dir, v) = file_verifier(&["rsa-1"], "").await;
    let mut claims = user_claims(ISS);
    claims.as_object_mut().unwrap().remove("org");
    let e = v.verify(&sign("rsa-1", None, &claims)).unwrap_err();
    assert!(e.diagnostic().contains("no `org` claim"), "{e}");

    let mut claims = user_claims(ISS);
    claims["scope"] = json!("user/Observation.rx");
    let e = v.verify(&sign("rsa-1", None, &claims)).unwrap_err();
    assert!(matches!(e, AuthError::BadScope(_)), "{e}");
    assert!(e.diagnostic().contains("`user/Observation.rx` is not a valid SMART scope"), "{e}");
}

#[tokio::test]
async fn bad_key_files_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.json");
    let config = AuthConfig::from_toml(&file_issuer(ISS, &missing, "")).unwrap();
    let e = Verifier::from_config(&config, None).await.err().unwrap();
    assert!(matches!(e, ConfigError::JwksFile { .. }), "{e}");

    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"keys": []}"#).unwrap();
    let config = AuthConfig::from_toml(&file_issuer(ISS, &empty, "")).unwrap();
    let e = Verifier::from_config(&config, None).await.err().unwrap();
    assert!(e.to_string().contains("no usable RS256 or ES256 signing key"), "{e}");
}

/// A JWKS endpoint whose document the test can change, counting fetches.
struct Idp {
    doc: Mutex<String>,
    fetches: AtomicUsize,
}

async fn serve_jwks(initial: String) -> (Arc<Idp>, String) {
    let idp = Arc::new(Idp { doc: Mutex::new(initial), fetches: AtomicUsize::new(0) });
    let app = axum::Router::new()
        .route(
            "/jwks",
            get(|State(idp): State<Arc<Idp>>| async move {
                idp.fetches.fetch_add(1, Ordering::SeqCst);
                let doc = idp.doc.lock().clone();
                ([("content-type", "application/json")], doc)
            }),
        )
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (idp, url)
}

fn url_config(url: &str, refresh_seconds: u64) -> AuthConfig {
    AuthConfig::from_toml(&format!(
        "[auth]\ndev_issuer = false\n[[auth.issuers]]\nissuer = \"{ISS}\"\njwks_url = \"{url}\"\njwks_refresh_seconds = {refresh_seconds}\n"
    ))
    .unwrap()
}

#[tokio::test]
async fn jwks_url_is_fetched_at_start_and_again_when_keys_rotate() {
    let (idp, url) = serve_jwks(jwks(&["rsa-1"])).await;
    let v = Verifier::from_config(&url_config(&url, 0), None).await.unwrap();
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
    let claims = user_claims(ISS);
    assert!(v.verify_async(&sign("rsa-1", Some("rsa-1"), &claims)).await.is_ok());
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "a known key needs no fetch");

    // The issuer rotates: rsa-2 replaces rsa-1.
    *idp.doc.lock() = jwks(&["rsa-2"]);
    let p = v.verify_async(&sign("rsa-2", Some("rsa-2"), &claims)).await.unwrap();
    assert_eq!(p.subject, "u-42");
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    // The retired key is gone.
    let e = v.verify(&sign("rsa-1", Some("rsa-1"), &claims)).unwrap_err();
    assert!(matches!(e, AuthError::UnknownKey { .. }), "{e}");
}

#[tokio::test]
async fn refetching_is_rate_limited() {
    let (idp, url) = serve_jwks(jwks(&["rsa-1"])).await;
    let v = Verifier::from_config(&url_config(&url, 3600), None).await.unwrap();
    *idp.doc.lock() = jwks(&["rsa-1", "rsa-2"]);
    let claims = user_claims(ISS);
    for kid in ["made-up-1", "made-up-2", "rsa-2"] {
        let e = v.verify_async(&sign("rsa-2", Some(kid), &claims)).await.unwrap_err();
        assert!(e.diagnostic().contains("fetched moments ago"), "{e}");
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "only the start-up fetch");
}

#[tokio::test]
async fn sync_verify_refreshes_in_the_background() {
    let (idp, url) = serve_jwks(jwks(&["rsa-1"])).await;
    let v = Verifier::from_config(&url_config(&url, 0), None).await.unwrap();
    *idp.doc.lock() = jwks(&["rsa-2"]);
    let token = sign("rsa-2", Some("rsa-2"), &user_claims(ISS));
    let e = v.verify(&token).unwrap_err();
    assert!(e.diagnostic().contains("being fetched again; retry shortly"), "{e}");
    // The next request, once the fetch has landed, passes.
    for _ in 0..100 {
        if v.verify(&token).is_ok() {
            assert!(idp.fetches.load(Ordering::SeqCst) >= 2);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the background refresh never landed");
}

#[tokio::test]
async fn unreachable_jwks_url_stops_start_up() {
    // Bind then drop a listener: nothing answers on that port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Verifier::from_config(&url_config(&format!("http://127.0.0.1:{port}/jwks"), 60), None)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ConfigError::Jwks { .. }), "{e}");
    assert!(e.to_string().contains("cannot fetch"), "{e}");
}
