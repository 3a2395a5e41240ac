//! Verification cost per request: an HS256 development token and an RS256 token checked
//! against a JWKS file (test-only fixture keys).
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lantern_auth::{AuthConfig, DevClaims, DevIssuer, Verifier};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();

    let dev = DevIssuer::open(dir.path()).unwrap();
    let hs_token =
        dev.issue(&DevClaims::user("dr-jones", "A81001", "gp").unwrap(), Duration::from_secs(3600));
    let dev_verifier = Verifier::dev_only(&dev);
    assert!(dev_verifier.verify(&hs_token).is_ok());

    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(
        &jwks_path,
        format!("{{\"keys\": [{}, {}]}}", fixture("rsa-1.jwk.json"), fixture("ec-1.jwk.json")),
    )
    .unwrap();
    let config = AuthConfig::from_toml(&format!(
        "[auth]\ndev_issuer = false\n[[auth.issuers]]\nissuer = \"https://login.test\"\njwks_file = \"{}\"\n",
        jwks_path.display()
    ))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let rs_verifier = rt.block_on(Verifier::from_config(&config, None)).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({
        "iss": "https://login.test", "sub": "u-42", "exp": now + 3600, "iat": now, "jti": "t-1",
        "scope": "openid user/*.rs", "org": "RR8", "role": "ae-doctor", "purpose_of_use": "TREAT",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let key = EncodingKey::from_rsa_pem(fixture("rsa-1.pem").as_bytes()).unwrap();
    let rs_token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert!(rs_verifier.verify(&rs_token).is_ok());

    let mut g = c.benchmark_group("verify");
    g.bench_function("hs256_dev", |b| b.iter(|| dev_verifier.verify(black_box(&hs_token)).unwrap()));
    g.bench_function("rs256_jwks", |b| b.iter(|| rs_verifier.verify(black_box(&rs_token)).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
