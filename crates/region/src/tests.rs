//! The region as a test source: deterministic, valid by Lantern's own parsers, maps and
//! validator, and consistent with its ground truth.
use super::*;
use std::collections::{HashMap, HashSet};

/// 2026-06-01T09:00:00Z, so the tests do not move with the clock.
const NOW: i64 = 1_780_304_400;

fn region(n: usize, seed: u64) -> Region {
    Region::new(RegionConfig { patients: n, seed, now: NOW })
}

fn all_deliveries(r: &Region) -> Vec<Delivery> {
    (0..r.people().len()).flat_map(|i| r.deliveries_for(i)).collect()
}

#[test]
fn same_seed_same_region_other_seed_other_region() {
    let (a, b, c) = (region(300, 7), region(300, 7), region(300, 8));
    assert_eq!(all_deliveries(&a), all_deliveries(&b));
    assert_eq!(a.config_toml(), b.config_toml());
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    a.write_truth_csv(&mut ta).unwrap();
    b.write_truth_csv(&mut tb).unwrap();
    assert_eq!(ta, tb);
    assert_ne!(all_deliveries(&a), all_deliveries(&c));
    // A person's deliveries do not depend on who was generated before.
    assert_eq!(a.deliveries_for(123), b.deliveries_for(123));
}

#[test]
fn nhs_numbers_are_valid_test_numbers_and_unique() {
    let r = region(2000, 1);
    let mut seen = HashSet::new();
    for p in r.people() {
        let n = lantern_identity::NhsNumber::parse(&p.nhs_number).expect("valid Modulus 11");
        assert!(
            (9_990_000_000..=9_999_999_999).contains(&n.value()),
            "{} outside the test range",
            p.nhs_number
        );
        assert!(seen.insert(n.value()), "NHS number given twice");
        for rec in &p.records {
            if let Some(x) = &rec.demographics.nhs_number {
                assert_eq!(x, &p.nhs_number);
            }
        }
    }
}

#[test]
fn config_loads_as_policy_and_feeds() {
    let r = region(10, 1);
    let text = r.config_toml();
    let policy = lantern_policy::PolicyConfig::from_toml(&text).unwrap();
    assert_eq!(policy.organisations.len(), r.organisations().len());
    assert_eq!(policy.agreements.len(), 4);
    lantern_policy::Policy::new(policy).unwrap();
    let feeds = lantern_feeds::FeedsFile::from_toml(&text).unwrap();
    assert_eq!(feeds.feeds.len(), r.organisations().len());
    let pas = feeds.feeds.iter().find(|f| f.config.feed_id == "rsv-pas").unwrap();
    assert_eq!(pas.facilities, vec!["RSV", "RSV_PAS"]);
    assert_eq!(pas.config.identifiers.nhs_number_type_codes, vec!["NH"]);
}

fn feed_configs(r: &Region) -> HashMap<String, lantern_hl7v2::map::FeedConfig> {
    let feeds = lantern_feeds::FeedsFile::from_toml(&r.config_toml()).unwrap();
    feeds.feeds.into_iter().map(|f| (f.config.feed_id.clone(), f.config)).collect()
}

#[test]
fn every_v2_message_parses_and_maps_without_error() {
    let r = region(1500, 3);
    let cfgs = feed_configs(&r);
    let mut kinds = HashSet::new();
    let mut n = 0;
    for d in all_deliveries(&r) {
        let Payload::V2(m) = &d.payload else { continue };
        let (msg, issues) = lantern_hl7v2::parse(m.as_bytes());
        let errors: Vec<_> = issues.iter().filter(|i| i.severity == lantern_hl7v2::Severity::Error).collect();
        assert!(errors.is_empty(), "{errors:?}\n{m}");
        let (mapped, issues) =
            lantern_hl7v2::map::map_message(&msg, &cfgs[d.feed]).unwrap_or_else(|e| panic!("{e}\n{m}"));
        let errors: Vec<_> = issues.iter().filter(|i| i.severity == lantern_hl7v2::Severity::Error).collect();
        assert!(errors.is_empty(), "{errors:?}\n{m}");
        let bad: Vec<_> =
            lantern_fhir::validate::validate(&mapped.bundle).into_iter().filter(|i| i.is_error()).collect();
        assert!(bad.is_empty(), "{bad:?}\n{m}");
        kinds
            .insert(m.split('|').nth(8).unwrap_or_default().split('^').take(2).collect::<Vec<_>>().join("^"));
        n += 1;
    }
    assert!(n > 500, "{n} messages");
    for k in ["ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "SIU^S12", "ORU^R01", "RDE^O11"] {
        assert!(kinds.contains(k), "no {k} in {kinds:?}");
    }
}

#[test]
fn every_bundle_validates_and_is_tagged_with_its_organisation() {
    let r = region(800, 4);
    let mut types: HashMap<String, usize> = HashMap::new();
    for d in all_deliveries(&r) {
        let Payload::Bundle(text) = &d.payload else { continue };
        let b: serde_json::Value = serde_json::from_str(text).unwrap();
        let bad: Vec<_> = lantern_fhir::validate::validate(&b).into_iter().filter(|i| i.is_error()).collect();
        assert!(bad.is_empty(), "{bad:?}\n{text}");
        let ods = r.organisations()[d.org].ods;
        for e in b["entry"].as_array().unwrap() {
            let res = &e["resource"];
            *types.entry(res["resourceType"].as_str().unwrap().to_string()).or_default() += 1;
            assert_eq!(res["meta"]["tag"][1]["code"], ods);
            assert!(res["meta"]["source"].as_str().unwrap().contains(d.feed));
            assert_eq!(e["request"]["method"], "PUT");
        }
    }
    for t in [
        "Patient",
        "Encounter",
        "Condition",
        "AllergyIntolerance",
        "MedicationRequest",
        "Observation",
        "Immunization",
        "Appointment",
        "EpisodeOfCare",
        "CarePlan",
        "Consent",
    ] {
        assert!(types.get(t).copied().unwrap_or(0) > 0, "no {t}: {types:?}");
    }
}

#[test]
fn every_csv_row_maps_and_validates() {
    let r = region(1500, 5);
    let tables = r.csv_tables();
    let mut rows = 0;
    for d in all_deliveries(&r) {
        let Payload::Csv { table, rows: rs } = &d.payload else { continue };
        let t = tables.iter().find(|t| t.name == *table).unwrap();
        let m = lantern_feeds::tabular::CsvMapping::from_toml(&t.mapping).unwrap();
        let header: Vec<String> = t.header.iter().map(|s| s.to_string()).collect();
        for row in rs {
            assert_eq!(row.len(), header.len());
            let res = m.row(&header, row).unwrap();
            let bad: Vec<_> =
                lantern_fhir::validate::validate(&res).into_iter().filter(|i| i.is_error()).collect();
            assert!(bad.is_empty(), "{bad:?}\n{res}");
            assert_eq!(res["meta"]["tag"][1]["code"], "LA901");
            rows += 1;
        }
    }
    assert!(rows > 20, "{rows} rows");
}

#[test]
fn ground_truth_is_consistent() {
    let r = region(3000, 6);
    let mut ids = HashSet::new();
    let mut dup = 0;
    let mut without_nhs = 0;
    for (o, rec, person) in r.truth() {
        assert!(ids.insert((o.ods, rec.local_id.clone())), "local id given twice");
        assert!(r.people()[person as usize].records.iter().any(|x| x.local_id == rec.local_id));
        dup += usize::from(rec.duplicate);
        without_nhs += usize::from(rec.demographics.nhs_number.is_none());
    }
    for p in r.people() {
        let gps = p.records.iter().filter(|x| r.organisations()[x.org].kind == Kind::Gp).count();
        assert_eq!(gps, 1, "every person is registered with one practice");
        assert!(p.records[0].demographics.nhs_number.is_some(), "GP records carry the NHS number");
    }
    assert!(dup > 5 && without_nhs > 50, "{dup} duplicates, {without_nhs} without NHS number");
    let mut csv = Vec::new();
    r.write_truth_csv(&mut csv).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), ids.len() + 1);
}

#[test]
fn showcases_show_what_they_say() {
    let r = region(400, 9);
    let s = r.showcase();
    assert_eq!(s.len(), 5);
    let person = |nhs: &str| r.people().iter().find(|p| p.nhs_number == nhs).unwrap();
    let joined = person(&s[0].nhs_number);
    assert!(joined.organisations().len() >= 4);
    let meds = |p: &Person| -> Vec<String> {
        let mut v = Vec::new();
        for d in r.deliveries_for(p.id as usize) {
            match d.payload {
                Payload::Bundle(b) if b.contains("MedicationRequest") => v.push("gp".to_string()),
                Payload::V2(m) if m.contains("RDE^O11") => v.push("acute".to_string()),
                _ => {}
            }
        }
        v
    };
    assert_eq!(meds(joined), vec!["gp", "acute"], "medicines from both the GP and the hospital");
    let restricted = person(&s[1].nhs_number);
    assert!(r
        .deliveries_for(restricted.id as usize)
        .iter()
        .any(|d| matches!(&d.payload, Payload::Bundle(b) if b.contains("105629000"))));
    let opted = person(&s[2].nhs_number);
    assert!(opted.traits.opted_out);
    let dup = person(&s[3].nhs_number);
    assert!(dup.records.iter().filter(|x| x.duplicate).count() == 1);
    let unknown = person(&s[4].nhs_number);
    assert!(unknown.records.iter().all(|x| r.organisations()[x.org].kind != Kind::Acute));
    let users = r.users();
    let roles: Vec<&str> = users.iter().map(|u| u.role).collect();
    assert_eq!(
        roles,
        ["gp", "ae-doctor", "social-worker", "privacy-officer", "data-quality", "patient", "patient"]
    );
    assert_eq!(users[0].org, r.organisations()[joined.records[0].org].ods);
    assert_eq!(users[5].nhs_number.as_deref(), Some(joined.nhs_number.as_str()));
    // The second patient is the one an A&E doctor must break the glass for.
    assert_eq!(users[6].nhs_number.as_deref(), Some(unknown.nhs_number.as_str()));
}

#[test]
fn restricted_items_are_labelled_by_the_policy() {
    let labels = lantern_policy::labels::Labels::new(&[], false).unwrap();
    let r = region(1500, 10);
    let mut restricted = 0;
    for p in r.people().iter().filter(|p| p.traits.restricted.is_some()) {
        let labelled = r.deliveries_for(p.id as usize).iter().any(|d| match &d.payload {
            Payload::Bundle(b) => {
                let v: serde_json::Value = serde_json::from_str(b).unwrap();
                v["entry"].as_array().unwrap().iter().any(|e| labels.bits(&e["resource"]) != 0)
            }
            Payload::V2(m) => m.contains("714812005"),
            _ => false,
        });
        assert!(labelled, "person {} has no labelled item", p.id);
        restricted += 1;
    }
    assert!(restricted >= 5, "{restricted}");
}
