//! Property tests: the parser never panics, whatever the input, and what it accepts evaluates
//! without panicking (errors are fine).

use proptest::prelude::*;
use serde_json::json;

const PIECES: &[&str] = &[
    "Patient",
    "name",
    "given",
    ".",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1.5",
    "'a'",
    "`x`",
    "@2015-01",
    "@T10:00",
    "+",
    "-",
    "*",
    "/",
    "div",
    "mod",
    "&",
    "|",
    "=",
    "!=",
    "~",
    "<",
    ">=",
    "and",
    "or",
    "implies",
    "is",
    "as",
    "in",
    "contains",
    "where(",
    "select(",
    "exists()",
    "first()",
    "$this",
    "$index",
    "%resource",
    "{}",
    ",",
    " ",
    "4 days",
    "10 'mg'",
    "iif(",
    "true",
    "repeat(",
    "descendants()",
    "ofType(",
    "String",
    "/*",
    "*/",
    "//",
    "\\",
    "'",
    "@",
    "%",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,64}") {
        let _ = lantern_fhirpath::parse(&s);
    }

    #[test]
    fn parse_and_evaluate_never_panic(s in pieces()) {
        let patient = json!({"resourceType": "Patient", "name": [{"given": ["A", "B"]}]});
        if let Ok(e) = lantern_fhirpath::parse(&s) {
            let _ = e.evaluate(&patient);
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = "(".repeat(100_000) + "1" + &")".repeat(100_000);
    assert!(lantern_fhirpath::parse(&deep).is_err());
    let chain = "a".to_string() + &".a".repeat(100_000);
    assert!(lantern_fhirpath::parse(&chain).is_err());
    let sum = "1".to_string() + &"+1".repeat(100_000);
    assert!(lantern_fhirpath::parse(&sum).is_err());
    let neg = "-".repeat(100_000) + "1";
    assert!(lantern_fhirpath::parse(&neg).is_err());
    // The largest accepted chains still evaluate within a test thread's stack.
    let ok_chain = "name".to_string() + &".given".repeat(95);
    let patient = json!({"resourceType": "Patient"});
    assert!(lantern_fhirpath::parse(&ok_chain).unwrap().evaluate(&patient).is_ok());
    let ok_sum = "1".to_string() + &"+1".repeat(95);
    assert!(lantern_fhirpath::parse(&ok_sum).unwrap().evaluate(&patient).is_ok());
    let nested = "(".repeat(60) + "1" + &")".repeat(60);
    let too_deep = "name".to_string() + &".given".repeat(150);
    assert!(lantern_fhirpath::parse(&too_deep).is_err());
    assert!(lantern_fhirpath::parse(&nested).unwrap().evaluate(&patient).is_ok());
}

#[test]
fn numeric_edge_cases_do_not_panic() {
    let patient = json!({"resourceType": "Patient", "n": -9223372036854775808i64});
    for e in [
        "-n",
        "1 '10*-40'.toQuantity('1')",
        "0.0000000000000000000000000001.lowBoundary()",
        "0.0000000000000000000000000001.highBoundary(28)",
        "79228162514264337593543950335 + 1",
        "79228162514264337593543950335 * 10",
        "(-2147483648).abs()",
        "2.power(1000)",
        "'x'.substring(0, -5)",
        "1.round(100)",
        "@9999-12-31 + 1 day",
        "@0001-01-01 - 1 day",
        "@2020 + 99999999999999 years",
    ] {
        let _ = lantern_fhirpath::parse(e).map(|x| x.evaluate(&patient).map(|r| r.len()));
    }
}
