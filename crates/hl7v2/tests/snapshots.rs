//! Data-driven snapshots: a fixture message in `tests/fixtures/`, its bundle and ACK out.
//! Regenerate with `INSTA_UPDATE=always cargo test -p lantern-hl7v2 --test snapshots` (or
//! `cargo insta review`).

use lantern_hl7v2::ack::{response_ack, AckContext, Outcome};
use lantern_hl7v2::map::{map_message, FeedConfig};
use lantern_hl7v2::parse;

fn config() -> FeedConfig {
    FeedConfig::from_toml(
        r#"
feed_id = "nbt-pas"
local_time_zone = "Europe/London"
[organisation]
ods_code = "RVJ"
name = "North Bristol NHS Trust"
"#,
    )
    .unwrap()
}

fn snapshot(name: &str) {
    let path = format!("{}/tests/fixtures/{name}.hl7", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    let (msg, parse_issues) = parse(&bytes);
    let ctx = AckContext { control_id: "LANTERN-1".into(), timestamp: "20240301120000+0000".into() };
    let result = map_message(&msg, &config());
    let (value, mut issues) = match result {
        Ok((mapped, issues)) => {
            (serde_json::json!({ "bundle": mapped.bundle, "merges": mapped.merges }), issues)
        }
        Err(e) => (serde_json::json!({ "error": e.to_string() }), vec![e.to_issue()]),
    };
    issues.extend(parse_issues);
    let ack = response_ack(&msg, Outcome::from_issues(&issues), &issues, &ctx)
        .map(|a| a.encode().replace('\r', "\n"))
        .unwrap_or_default();
    insta::assert_json_snapshot!(format!("{name}.bundle"), value);
    insta::assert_snapshot!(format!("{name}.ack"), ack);
}

#[test]
fn adt_a01_uk_admission() {
    snapshot("adt_a01_uk");
}

#[test]
fn adt_a03_discharge() {
    snapshot("adt_a03_uk");
}

#[test]
fn adt_a40_merge() {
    snapshot("adt_a40_merge");
}

#[test]
fn oru_r01_results() {
    snapshot("oru_r01");
}

#[test]
fn siu_s15_cancel() {
    snapshot("siu_s15");
}

#[test]
fn vxu_v04_immunization() {
    snapshot("vxu_v04");
}

#[test]
fn unsupported_type_is_rejected() {
    snapshot("orm_o01_unsupported");
}
