//! Whatever arrives in an Authorization header, verification answers with a result, never a panic.
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lantern_auth::{DevIssuer, Verifier};
use proptest::prelude::*;

fn verifier() -> &'static Verifier {
    static V: OnceLock<(tempfile::TempDir, Verifier)> = OnceLock::new();
    &V.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::open(dir.path()).unwrap();
        let v = Verifier::dev_only(&dev);
        (dir, v)
    })
    .1
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// JSON-ish text built from the pieces a claim set or header is made of.
fn jsonish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("alg"),
        Just("kid"),
        Just("crit"),
        Just("iss"),
        Just("sub"),
        Just("exp"),
        Just("nbf"),
        Just("aud"),
        Just("scope"),
        Just("org"),
        Just("role"),
        Just("nhs_number"),
        Just("feed"),
        Just("lantern_kind"),
        Just("purpose_of_use"),
        Just("fhirUser"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("\"HS256\"".to_string()),
        Just("\"RS256\"".to_string()),
        Just("\"none\"".to_string()),
        Just("\"lantern-dev\"".to_string()),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("1e400".to_string()),
        Just("-9223372036854775809".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        "(patient|user|system)/[A-Z*][a-z]{0,4}\\.[cruds*]{0,5}".prop_map(|s| format!("\"{s}\"")),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings(s in "\\PC*") {
        let _ = verifier().verify(&s);
        let _ = verifier().verify_header(Some(&s));
    }

    #[test]
    fn arbitrary_three_part_base64(a in prop::collection::vec(any::<u8>(), 0..64),
                                   b in prop::collection::vec(any::<u8>(), 0..64),
                                   c in prop::collection::vec(any::<u8>(), 0..64)) {
        let token = format!("{}.{}.{}", b64(&a), b64(&b), b64(&c));
        prop_assert!(verifier().verify(&token).is_err());
    }

    #[test]
    fn arbitrary_json_headers_and_claims(h in jsonish(), p in jsonish(), sig in "[A-Za-z0-9_-]{0,90}") {
        let token = format!("{}.{}.{sig}", b64(h.as_bytes()), b64(p.as_bytes()));
        // Without the secret no such token can verify.
        prop_assert!(verifier().verify(&token).is_err());
    }
}
