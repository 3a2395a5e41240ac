//! Development issuer tokens through the verifier: round trips and each way a token goes wrong.
mod support;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lantern_auth::{
    AuthConfig, AuthError, ConfigError, DevClaims, DevIssuer, Kind, Op, Purpose, TypeSet, Verifier,
    DEV_ISSUER,
};
use serde_json::json;
use support::now;

const HOUR: Duration = Duration::from_secs(3600);

fn issuer() -> (tempfile::TempDir, DevIssuer) {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::open(dir.path()).unwrap();
    (dir, dev)
}

fn secret(dir: &tempfile::TempDir) -> Vec<u8> {
    let text = std::fs::read_to_string(DevIssuer::key_path(dir.path())).unwrap();
    hex::decode(text.trim()).unwrap()
}

#[tokio::test]
async fn user_token_round_trip() {
    let (_dir, dev) = issuer();
    let verifier = Verifier::from_config(&AuthConfig::default(), Some(dev.clone())).await.unwrap();
    let claims = DevClaims::user("dr-jones", "a81001", "gp")
        .unwrap()
        .with_name("Dr Jones")
        .with_purpose(Purpose::EmergencyTreat);
    let token = dev.issue(&claims, HOUR);

    let p = verifier.verify(&token).unwrap();
    assert_eq!(p.kind, Kind::User);
    assert_eq!(p.subject, "dr-jones");
    assert_eq!(p.user, "Dr Jones");
    assert_eq!(p.org.as_deref(), Some("A81001"));
    assert_eq!(p.role.as_deref(), Some("gp"));
    assert_eq!(p.purpose, Some(Purpose::EmergencyTreat));
    assert_eq!(p.issuer, DEV_ISSUER);
    assert_eq!(p.nhs_number, None);
    assert!((p.expires - (now() + 3600)).abs() <= 2);
    let jti = p.token_id.clone().unwrap();
    assert_eq!(uuid::Uuid::parse_str(&jti).unwrap().get_version_num(), 4);
    assert!(p.scopes.allows("Observation", Op::Delete));
    assert_eq!(p.scopes.readable_types(), TypeSet::All);
    assert!(p.scopes.contexts().user);

    // Each token gets its own jti.
    let again = verifier.verify(&dev.issue(&claims, HOUR)).unwrap();
    assert_ne!(again.token_id.unwrap(), jti);
}

#[test]
fn every_kind_round_trips_with_its_defaults() {
    let (_dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);

    let system = v.verify(&dev.issue(&DevClaims::system(), HOUR)).unwrap();
    assert_eq!((system.kind, system.subject.as_str()), (Kind::System, "system"));
    assert_eq!(system.scopes.to_string(), "system/*.cruds");
    assert_eq!(system.purpose, None);

    let patient = v.verify(&dev.issue(&DevClaims::patient("943 476 5919").unwrap(), HOUR)).unwrap();
    assert_eq!(patient.kind, Kind::Patient);
    assert_eq!(patient.subject, "patient:9434765919");
    assert_eq!(patient.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(patient.purpose, Some(Purpose::PatientRequest));
    assert!(patient.scopes.allows("Observation", Op::Read));
    assert!(!patient.scopes.allows("Observation", Op::Create));

    let feed = v.verify(&dev.issue(&DevClaims::feed("pas-adt", "RR8").unwrap(), HOUR)).unwrap();
    assert_eq!(feed.kind, Kind::Feed);
    assert_eq!(feed.subject, "feed:pas-adt");
    assert_eq!(feed.feed.as_deref(), Some("pas-adt"));
    assert_eq!(feed.org.as_deref(), Some("RR8"));
    assert!(feed.scopes.allows("Encounter", Op::Create));
    assert!(feed.scopes.allows("Encounter", Op::Update));
    assert!(!feed.scopes.allows("Encounter", Op::Read));

    let user = v.verify(&dev.issue(&DevClaims::user("n1", "RR8", "nurse").unwrap(), HOUR)).unwrap();
    assert_eq!(user.purpose, Some(Purpose::Treat));

    let narrow = DevClaims::user("n1", "RR8", "nurse").unwrap().with_scope("user/Observation.read").unwrap();
    let narrow = v.verify(&dev.issue(&narrow, HOUR)).unwrap();
    assert_eq!(narrow.scopes.readable_types(), TypeSet::Only(["Observation".to_string()].into()));
    assert!(!narrow.scopes.allows("Patient", Op::Read));
}

#[test]
fn tampered_payload_fails_the_signature() {
    let (_dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    let token = dev.issue(&DevClaims::user("u", "RR8", "nurse").unwrap(), HOUR);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let e = v.verify(&parts.join(".")).unwrap_err();
    assert_eq!(e, AuthError::BadSignature { issuer: DEV_ISSUER.into() });
    assert_eq!(e.code(), "security");
    assert!(e.diagnostic().contains("altered or signed with another key"));

    // A flipped signature character too.
    let mut sig: Vec<char> = token.rsplit_once('.').unwrap().1.chars().collect();
    sig[3] = if sig[3] == 'A' { 'B' } else { 'A' };
    let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, sig.into_iter().collect::<String>());
    assert!(matches!(v.verify(&forged).unwrap_err(), AuthError::BadSignature { .. }));
}

#[test]
fn another_dev_key_fails_the_signature() {
    let (_a, dev_a) = issuer();
    let (_b, dev_b) = issuer();
    let token = dev_b.issue(&DevClaims::system(), HOUR);
    assert!(matches!(Verifier::dev_only(&dev_a).verify(&token).unwrap_err(), AuthError::BadSignature { .. }));
}

#[test]
fn expired_token_says_when() {
    let (_dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    // Issued at 2026-01-01T00:00:00Z for an hour.
    let token = dev.issue_at(&DevClaims::system(), 1_767_225_600, HOUR);
    let e = v.verify(&token).unwrap_err();
    assert!(matches!(e, AuthError::Expired { at: 1_767_229_200, .. }));
    assert!(e.diagnostic().starts_with("the token expired at 2026-01-01T01:00:00Z ("), "{e}");
    assert_eq!(e.code(), "expired");

    // Within the 60 s leeway it still passes; beyond it, not.
    assert!(v.verify_at(&token, 1_767_229_200 + 60).is_ok());
    assert!(matches!(v.verify_at(&token, 1_767_229_200 + 61), Err(AuthError::Expired { .. })));
}

#[test]
fn not_yet_valid_and_missing_exp() {
    let (dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    let key = secret(&dir);
    let future = support::hs256(
        &key,
        &json!({"iss": DEV_ISSUER, "sub": "s", "exp": now() + 7200, "nbf": now() + 3600, "scope": "system/*.rs"}),
    );
    let e = v.verify(&future).unwrap_err();
    assert!(matches!(e, AuthError::NotYetValid { .. }));
    assert!(e.diagnostic().contains("not valid until"), "{e}");

    let forever = support::hs256(&key, &json!({"iss": DEV_ISSUER, "sub": "s", "scope": "system/*.rs"}));
    assert_eq!(
        v.verify(&forever).unwrap_err(),
        AuthError::MissingClaim { claim: "exp", why: "every token must say when it expires" }
    );
}

#[test]
fn unknown_issuer_and_wrong_algorithm() {
    let (dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    let key = secret(&dir);
    let stranger = support::hs256(&key, &json!({"iss": "https://elsewhere", "sub": "s", "exp": now() + 60}));
    let e = v.verify(&stranger).unwrap_err();
    assert_eq!(e, AuthError::UnknownIssuer("https://elsewhere".into()));
    assert!(e.diagnostic().contains("not one this server trusts"));

    // An RS256 token claiming the dev issuer: refused before any key is tried.
    let rs = support::sign("rsa-1", None, &json!({"iss": DEV_ISSUER, "sub": "s", "exp": now() + 60}));
    let e = v.verify(&rs).unwrap_err();
    assert!(e.diagnostic().contains("is not how issuer `lantern-dev` signs"), "{e}");

    // alg none.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let body = URL_SAFE_NO_PAD.encode(json!({"iss": DEV_ISSUER, "sub": "s", "exp": now() + 60}).to_string());
    let e = v.verify(&format!("{header}.{body}.x")).unwrap_err();
    assert!(e.diagnostic().contains("unsigned tokens are never accepted"), "{e}");
}

#[test]
fn malformed_tokens_say_what_is_wrong() {
    let (_dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    let good = dev.issue(&DevClaims::system(), HOUR);
    let (h, rest) = good.split_once('.').unwrap();
    let table = [
        ("not-a-jwt".to_string(), "three base64url parts"),
        ("a.b.c.d".to_string(), "this has 4"),
        (format!("{h}..sig"), "empty"),
        (format!("{h}.%%%.sig"), "payload is not base64url"),
        (format!("!!.{rest}"), "header is not base64url"),
        (format!("{}.{rest}", URL_SAFE_NO_PAD.encode("{}")), "header is not the expected JSON"),
        (format!("{h}.{}.sig", URL_SAFE_NO_PAD.encode("[1]")), "not a JSON object"),
        (
            format!("{h}.{}.sig", URL_SAFE_NO_PAD.encode(r#"{"iss":"lantern-dev","exp":"soon"}"#)),
            "claim `exp` must be a number",
        ),
        (format!("{h}.{}.sig", URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)), "no `iss` claim"),
        ("x".repeat(20_000), "longer than"),
    ];
    for (token, want) in table {
        let e = v.verify(&token).unwrap_err();
        assert!(e.diagnostic().contains(want), "{want}: {e}");
        assert_eq!(e.code(), "security");
    }
}

#[test]
fn verify_header_maps_header_problems() {
    let (_dir, dev) = issuer();
    let v = Verifier::dev_only(&dev);
    let token = dev.issue(&DevClaims::system(), HOUR);
    assert!(v.verify_header(Some(&format!("Bearer {token}"))).is_ok());
    assert_eq!(v.verify_header(None).unwrap_err().code(), "login");
    assert_eq!(v.verify_header(Some(&format!("Basic {token}"))).unwrap_err(), AuthError::NotBearer);
}

#[tokio::test]
async fn dev_issuer_can_be_switched_off() {
    let (_dir, dev) = issuer();
    let off = AuthConfig::from_toml("[auth]\ndev_issuer = false\n").unwrap();
    let e = Verifier::from_config(&off, Some(dev)).await.err().unwrap();
    assert!(matches!(e, ConfigError::NoIssuers), "{e}");
}

#[tokio::test]
async fn development_hs256_issuer_verifies_and_production_one_is_refused() {
    let secret = "0123456789abcdef0123456789abcdef";
    let refused =
        AuthConfig::from_toml(&format!("[[auth.issuers]]\nissuer = \"rig\"\nhs256_secret = \"{secret}\"\n"))
            .unwrap_err();
    assert!(refused.to_string().contains("only with `development = true`"), "{refused}");

    let config = AuthConfig::from_toml(&format!(
        "[[auth.issuers]]\nissuer = \"rig\"\nhs256_secret = \"{secret}\"\ndevelopment = true\naudience = \"lantern\"\n"
    ))
    .unwrap();
    let v = Verifier::from_config(&config, None).await.unwrap();
    let mut claims = support::user_claims("rig");
    claims["aud"] = json!(["other", "lantern"]);
    let p = v.verify(&support::hs256(secret.as_bytes(), &claims)).unwrap();
    assert_eq!(p.kind, Kind::User);
    assert_eq!(p.purpose, Some(Purpose::EmergencyTreat));

    claims["aud"] = json!("other");
    let e = v.verify(&support::hs256(secret.as_bytes(), &claims)).unwrap_err();
    assert!(matches!(e, AuthError::WrongAudience { .. }), "{e}");
    assert!(e.diagnostic().contains("does not include `lantern`"));
}
