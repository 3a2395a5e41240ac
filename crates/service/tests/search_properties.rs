//! Property tests for date and number search semantics on both backends: random values at
//! random precisions (and Periods, open or closed) are stored, random searches with random
//! prefixes are run, and the ids found must equal a brute-force oracle written from the R4
//! prefix table (§3.1.1.4.2), which compares the *ranges* implied by each value's precision:
//!
//! | prefix | matches when (search range S = [slo, shi], target range T = [tlo, thi]) |
//! |---|---|
//! | eq | S fully contains T |
//! | ne | S does not fully contain T |
//! | gt | the range above S intersects T: thi > shi |
//! | lt | the range below S intersects T: tlo < slo |
//! | ge | gt, or eq |
//! | le | lt, or eq |
//! | sa | T lies wholly after S: tlo > shi |
//! | eb | T lies wholly before S: thi < slo |
//! | ap | implementation-defined; checked only to include every eq match |
use lantern_service::Fhir;
use lantern_testkit::client::*;
use lantern_testkit::json;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const PREFIXES: [&str; 10] = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"];

/// A date or dateTime at some precision, with its text and inclusive microsecond range.
#[derive(Debug, Clone)]
struct When {
    text: String,
    lo: i64,
    hi: i64,
}

/// Days from 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const DAY: i64 = 86_400_000_000;
const SEC: i64 = 1_000_000;

fn when() -> impl Strategy<Value = When> {
    (
        2019i64..=2021,
        1i64..=12,
        1i64..=28,
        0usize..4,
        prop::sample::select(vec![0i64, 1, 12, 23]),
        prop::sample::select(vec![0i64, 30, 59]),
        prop::sample::select(vec![0i64, 59]),
        prop::sample::select(vec![("Z", 0i64), ("+01:00", 60), ("-05:00", -300)]),
    )
        .prop_map(|(y, m, d, precision, h, mi, s, (zone, off))| match precision {
            0 => When {
                text: format!("{y}"),
                lo: days_from_civil(y, 1, 1) * DAY,
                hi: days_from_civil(y + 1, 1, 1) * DAY - 1,
            },
            1 => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                When {
                    text: format!("{y}-{m:02}"),
                    lo: days_from_civil(y, m, 1) * DAY,
                    hi: days_from_civil(ny, nm, 1) * DAY - 1,
                }
            }
            2 => When {
                text: format!("{y}-{m:02}-{d:02}"),
                lo: days_from_civil(y, m, d) * DAY,
                hi: days_from_civil(y, m, d + 1) * DAY - 1,
            },
            _ => {
                let t = days_from_civil(y, m, d) * DAY + ((h * 60 + mi) * 60 + s) * SEC - off * 60 * SEC;
                When {
                    text: format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}"),
                    lo: t,
                    hi: t + SEC - 1,
                }
            }
        })
}

/// What an Observation carries: a dateTime, or a Period with a start, an end, or both.
#[derive(Debug, Clone)]
enum Effective {
    At(When),
    Period(Option<When>, Option<When>),
}

impl Effective {
    fn range(&self) -> (i64, i64) {
        match self {
            Effective::At(w) => (w.lo, w.hi),
            Effective::Period(s, e) => {
                (s.as_ref().map_or(i64::MIN, |w| w.lo), e.as_ref().map_or(i64::MAX, |w| w.hi))
            }
        }
    }
}

fn effective() -> impl Strategy<Value = Effective> {
    prop_oneof![
        3 => when().prop_map(Effective::At),
        2 => (when(), when()).prop_map(|(a, b)| if a.lo <= b.lo { Effective::Period(Some(a), Some(b)) } else { Effective::Period(Some(b), Some(a)) }),
        1 => when().prop_map(|a| Effective::Period(Some(a), None)),
        1 => when().prop_map(|b| Effective::Period(None, Some(b))),
    ]
}

fn date_oracle(prefix: &str, (slo, shi): (i64, i64), (tlo, thi): (i64, i64)) -> bool {
    let eq = tlo >= slo && thi <= shi;
    match prefix {
        "" | "eq" => eq,
        "ne" => !eq,
        "gt" => thi > shi,
        "lt" => tlo < slo,
        "ge" => thi > shi || eq,
        "le" => tlo < slo || eq,
        "sa" => tlo > shi,
        "eb" => thi < slo,
        _ => unreachable!(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn run_dates(fhir: Fhir, rt: &tokio::runtime::Runtime) {
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let strategy = (
        prop::collection::vec(effective(), 1..6),
        prop::collection::vec((prop::sample::select(PREFIXES.to_vec()), when()), 1..6),
    );
    runner
        .run(&strategy, |(values, queries)| {
            let case = format!("case{}", counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
            rt.block_on(async {
                let mut stored = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    let mut o = json!({"resourceType": "Observation", "id": format!("{case}-{i}"), "status": "final",
                                       "code": {"coding": [{"system": "http://example.org/case", "code": case}]}});
                    match v {
                        Effective::At(w) => o["effectiveDateTime"] = json!(w.text),
                        Effective::Period(s, e) => {
                            let mut p = json!({});
                            if let Some(s) = s {
                                p["start"] = json!(s.text);
                            }
                            if let Some(e) = e {
                                p["end"] = json!(e.text);
                            }
                            o["effectivePeriod"] = p;
                        }
                    }
                    put(&fhir, o).await;
                    stored.push((format!("{case}-{i}"), v.range()));
                }
                for (prefix, w) in &queries {
                    let q = format!("code={case}&date={prefix}{}&_count=100", w.text.replace('+', "%2B"));
                    let got = ids(&fhir, "Observation", &q).await;
                    if *prefix == "ap" {
                        let eq = ids(&fhir, "Observation", &format!("code={case}&date=eq{}&_count=100", w.text.replace('+', "%2B"))).await;
                        for id in eq {
                            prop_assert!(got.contains(&id), "ap{} misses eq match {id}", w.text);
                        }
                        continue;
                    }
                    let mut want: Vec<String> = stored
                        .iter()
                        .filter(|(_, r)| date_oracle(prefix, (w.lo, w.hi), *r))
                        .map(|(id, _)| id.clone())
                        .collect();
                    want.sort();
                    prop_assert_eq!(&got, &want, "date={}{} over {:?}", prefix, w.text, values);
                }
                Ok(())
            })
        })
        .unwrap();
}

/// A decimal target with three places whose last place avoids every search value's precision
/// boundary (multiples of 0.005), so "contains" is never a tie.
fn target() -> impl Strategy<Value = (String, f64)> {
    (0i64..2000)
        .prop_filter("off a boundary", |k| k % 5 != 0)
        .prop_map(|k| (format!("{}.{:03}", k / 1000, k % 1000), k as f64 / 1000.0))
}

/// A search number with 0-2 decimals: its value and the range its precision implies.
fn search_number() -> impl Strategy<Value = (String, f64, f64, f64)> {
    (0u32..3).prop_flat_map(|places| {
        let scale = 10i64.pow(places);
        (0i64..=2 * scale).prop_map(move |n| {
            let text = if places == 0 {
                format!("{n}")
            } else {
                format!("{}.{:0w$}", n / scale, n % scale, w = places as usize)
            };
            let value: f64 = text.parse().unwrap();
            let half = 0.5 / scale as f64;
            (text, value, value - half, value + half)
        })
    })
}

fn number_oracle(prefix: &str, (v, lo, hi): (f64, f64, f64), x: f64) -> bool {
    match prefix {
        "" | "eq" => x >= lo && x < hi,
        "ne" => !(x >= lo && x < hi),
        "gt" | "sa" => x > v,
        "lt" | "eb" => x < v,
        "ge" => x >= v,
        "le" => x <= v,
        _ => unreachable!(),
    }
}

fn run_numbers(fhir: Fhir, rt: &tokio::runtime::Runtime) {
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let strategy = (
        prop::collection::vec(target(), 1..6),
        prop::collection::vec((prop::sample::select(PREFIXES[..9].to_vec()), search_number()), 1..6),
    );
    runner
        .run(&strategy, |(values, queries)| {
            let case = format!("n{}", counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
            rt.block_on(async {
                for (i, (text, _)) in values.iter().enumerate() {
                    let body: serde_json::Value = serde_json::from_str(&format!(
                        r#"{{"resourceType": "Observation", "id": "{case}-{i}", "status": "final",
                            "code": {{"coding": [{{"system": "http://example.org/case", "code": "{case}"}}]}},
                            "valueQuantity": {{"value": {text}, "system": "http://unitsofmeasure.org", "code": "mg"}}}}"#
                    ))
                    .unwrap();
                    put(&fhir, body).await;
                }
                for (prefix, (text, v, lo, hi)) in &queries {
                    for form in [format!("{prefix}{text}"), format!("{prefix}{text}|http://unitsofmeasure.org|mg")] {
                        let got = ids(&fhir, "Observation", &format!("code={case}&value-quantity={form}&_count=100")).await;
                        let mut want: Vec<String> = values
                            .iter()
                            .enumerate()
                            .filter(|(_, (_, x))| number_oracle(prefix, (*v, *lo, *hi), *x))
                            .map(|(i, _)| format!("{case}-{i}"))
                            .collect();
                        want.sort();
                        prop_assert_eq!(&got, &want, "value-quantity={} over {:?}", form, values);
                    }
                    let none = ids(&fhir, "Observation", &format!("code={case}&value-quantity={prefix}{text}|http://unitsofmeasure.org|kg")).await;
                    prop_assert!(none.is_empty());
                }
                Ok(())
            })
        })
        .unwrap();
}

fn on_backend(backend: &str, f: fn(Fhir, &tokio::runtime::Runtime)) {
    let rt = runtime();
    let store = match backend {
        "sqlite" => lantern_testkit::sqlite(),
        _ => match lantern_testkit::postgres() {
            Some(s) => s,
            None => return,
        },
    };
    f(store.fhir.clone(), &rt);
    drop(store);
}

mod sqlite {
    #[test]
    fn date_prefixes_match_the_oracle() {
        super::on_backend("sqlite", super::run_dates);
    }
    #[test]
    fn number_prefixes_match_the_oracle() {
        super::on_backend("sqlite", super::run_numbers);
    }
}

mod postgres {
    #[test]
    fn date_prefixes_match_the_oracle() {
        super::on_backend("postgres", super::run_dates);
    }
    #[test]
    fn number_prefixes_match_the_oracle() {
        super::on_backend("postgres", super::run_numbers);
    }
}
