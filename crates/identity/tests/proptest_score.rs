//! Scoring is symmetric and never panics, whatever the strings.
use std::sync::OnceLock;

use lantern_identity::gen::{generate, GenConfig};
use lantern_identity::{Config, Matcher, Model, Record};
use proptest::prelude::*;

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let g = generate(&GenConfig { records: 2_000, seed: 11 });
        lantern_identity::train_model(&g.records, &Config::default()).unwrap()
    })
}

fn field() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "[A-Za-z '\\-]{0,12}".prop_map(Some),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Some),
        "[A-Z]{1,2}[0-9]{1,2} ?[0-9][A-Z]{2}".prop_map(Some),
        "[0-9 ]{8,13}".prop_map(Some),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        (field(), field(), field(), field()),
        (field(), field(), field(), field(), field(), field()),
        prop::collection::vec(any::<String>(), 0..3),
        prop::option::of(0u32..4),
    )
        .prop_map(|((g, f, d, s), (p, a, t, ph, e, n), prev, order)| Record {
            given_name: g,
            family_name: f,
            previous_family_names: prev,
            date_of_birth: d,
            sex: s,
            postcode: p,
            address_line: a,
            town: t,
            phone: ph,
            email: e,
            nhs_number: n,
            nhs_number_verified: None,
            birth_order: order,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn symmetric_and_total(a in record(), b in record()) {
        let mut m = Matcher::new(model());
        let (pa, pb) = (m.prepare(&a), m.prepare(&b));
        let ab = m.evaluate(&pa, &pb);
        let ba = m.evaluate(&pb, &pa);
        prop_assert!(ab.score.is_finite());
        prop_assert_eq!(ab.score.to_bits(), ba.score.to_bits());
        prop_assert_eq!(ab.decision, ba.decision);
        let _ = ab.render();
    }

    #[test]
    fn a_record_matches_itself(a in record()) {
        let mut m = Matcher::new(model());
        let pa = m.prepare(&a);
        let e = m.evaluate(&pa, &pa);
        // Every field present on the record agrees with itself at its first (exact) level.
        for f in &e.evidence {
            prop_assert!(f.level.is_none() || f.level == Some(0), "{} at {:?}", f.comparison, f.level);
        }
    }
}
