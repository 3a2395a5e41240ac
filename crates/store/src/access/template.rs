//! The access filter's SQL, built once per filter shape and reused.
//!
//! A caller's filter is the same for every statement of every request it makes, apart from
//! the clock (`at` of each [`AccessFilter::PatientFact`]) and the patients a statement expects.
//! Building its text afresh (a few kilobytes from dozens of `format!`s) cost ~4% of a search
//! under the policy, so the text is kept per (filter without clock, alias, number of expected
//! patients), with a list saying where each bound value comes from: a constant of the filter,
//! the k-th expected patient, or the k-th fact's clock.
//!
//! A statement that knows some of its patients' facts ([`AccessFilter::to_sql_knowing`])
//! has its filter specialised for each of them, and the specialised form depends on the
//! facts only through how they decide each probe: so its text is kept per (filter without
//! clock, alias, number of known patients, their decisions, number of other expected
//! patients). Building it afresh (a tree per known patient, a template lookup per branch)
//! was ~10% of what the policy and audit add to a search by patient.
//!
//! The template is made by building the SQL once with stand-ins for the varying values (a
//! clock of `i64::MIN + k`, an expected patient id `"\u{1}i"`, a known one `"\u{2}i"`, none
//! of which a real request can carry: a clock is microseconds since 1970, a FHIR id is
//! `[A-Za-z0-9.-]`), and reading the stand-ins back out of the bound values.
use super::{AccessFilter, PatientFacts};
use crate::conn::SqlValue;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Where a bound value comes from.
#[derive(Debug)]
enum Slot {
    Value(SqlValue),
    Expected(usize),
    Known(usize),
    Clock(usize),
    Epoch,
}

/// The guard's number while a template is made: far below any clock stand-in (`i64::MIN + k`
/// for the k-th fact) and any real number (`access_epoch` counts up from 0).
const EPOCH_STAND_IN: i64 = i64::MIN + (1 << 40);

/// What a template is for, beside the filter's shape and the alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Variant {
    /// [`AccessFilter::to_sql_expecting`] with this many patients.
    Expecting(usize),
    /// [`AccessFilter::to_sql_knowing`]: the known patients' decisions (one run per patient,
    /// see [`AccessFilter::specialise`]), how many other patients are expected, and whether
    /// the statement checks the facts' number.
    Knowing { known: usize, decided: Vec<bool>, rest: usize, guarded: bool },
}

#[derive(Debug)]
struct Template {
    sql: String,
    slots: Vec<Slot>,
}

struct Cached {
    filter: AccessFilter,
    alias: String,
    variant: Variant,
    template: Arc<Template>,
}

/// Templates by shape hash. Bounded: cleared when it holds more than this many (one per
/// caller, statement shape and, for statements about known patients, way their facts decide
/// the probes: a busy server holds a few to a dozen per active user). After a clear each
/// template is built again at its next use, at the cost of a fresh build.
const CAPACITY: usize = 4096;
static TEMPLATES: Mutex<Option<HashMap<u64, Vec<Cached>>>> = Mutex::new(None);

/// Appends the filter's bound values to `params` and returns its SQL, as
/// [`AccessFilter::build`] would.
pub(super) fn instantiate(
    filter: &AccessFilter,
    alias: &str,
    patients: &[String],
    params: &mut Vec<SqlValue>,
) -> String {
    let template = lookup(filter, alias, Variant::Expecting(patients.len()));
    fill(&template, filter, patients, &[], None, params)
}

/// As [`instantiate`], for [`AccessFilter::to_sql_knowing`] with the known patients' facts
/// and the other expected patients (`rest`, at most [`super::MAX_EXPECTED`]).
pub(super) fn instantiate_knowing(
    filter: &AccessFilter,
    alias: &str,
    known: &[Arc<PatientFacts>],
    rest: &[&str],
    guard: Option<i64>,
    params: &mut Vec<SqlValue>,
) -> String {
    let mut decided = Vec::new();
    for k in known {
        filter.decisions(k, &mut decided);
    }
    let variant =
        Variant::Knowing { known: known.len(), decided, rest: rest.len(), guarded: guard.is_some() };
    let template = lookup(filter, alias, variant);
    let known: Vec<&str> = known.iter().map(|k| k.patient.as_str()).collect();
    fill(&template, filter, rest, &known, guard, params)
}

/// Appends the template's values, its stand-ins replaced by this statement's, and returns
/// its SQL.
fn fill<E: AsRef<str>>(
    template: &Template,
    filter: &AccessFilter,
    expected: &[E],
    known: &[&str],
    guard: Option<i64>,
    params: &mut Vec<SqlValue>,
) -> String {
    let mut clocks = Vec::new();
    clocks_of(filter, &mut clocks);
    params.extend(template.slots.iter().map(|s| match s {
        Slot::Value(v) => v.clone(),
        Slot::Expected(i) => SqlValue::from(expected[*i].as_ref()),
        Slot::Known(i) => SqlValue::from(known[*i]),
        Slot::Clock(k) => SqlValue::Int(clocks[*k]),
        // Guarded templates are looked up only with a guard (the variant says so).
        Slot::Epoch => SqlValue::Int(guard.unwrap_or(-1)),
    }));
    template.sql.clone()
}

fn lookup(filter: &AccessFilter, alias: &str, variant: Variant) -> Arc<Template> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    shape_hash(filter, &mut h);
    alias.hash(&mut h);
    variant.hash(&mut h);
    let key = h.finish();
    let mut cache = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if let Some(c) = map.get(&key).and_then(|v| {
        v.iter().find(|c| c.variant == variant && c.alias == alias && same_shape(&c.filter, filter))
    }) {
        return c.template.clone();
    }
    let template = Arc::new(make(filter, alias, &variant));
    if map.values().map(Vec::len).sum::<usize>() >= CAPACITY {
        map.clear();
    }
    map.entry(key).or_default().push(Cached {
        filter: filter.clone(),
        alias: alias.to_string(),
        variant,
        template: template.clone(),
    });
    template
}

fn make(filter: &AccessFilter, alias: &str, variant: &Variant) -> Template {
    let mut stand_in = filter.clone();
    let mut k = 0;
    set_clocks(&mut stand_in, &mut k);
    let mut values = Vec::new();
    let (sql, expected, known) = match variant {
        Variant::Expecting(n) => {
            let patients: Vec<String> = (0..*n).map(|i| format!("\u{1}{i}")).collect();
            (stand_in.build(alias, &mut values, &patients), *n, 0)
        }
        Variant::Knowing { known, decided, rest, guarded } => {
            let patients: Vec<String> = (0..*rest).map(|i| format!("\u{1}{i}")).collect();
            let stand_ins: Vec<String> = (0..*known).map(|i| format!("\u{2}{i}")).collect();
            let mut decided = decided.iter().copied();
            let guard = guarded.then_some(EPOCH_STAND_IN);
            let sql = stand_in.build_knowing(alias, &mut values, &stand_ins, &mut decided, &patients, guard);
            debug_assert!(decided.next().is_none(), "a decision left over");
            (sql, *rest, *known)
        }
    };
    let slots = values
        .into_iter()
        .map(|v| match v {
            SqlValue::Int(EPOCH_STAND_IN) => Slot::Epoch,
            SqlValue::Int(c) if (c as i128 - i64::MIN as i128) < k as i128 => {
                Slot::Clock((c as i128 - i64::MIN as i128) as usize)
            }
            SqlValue::Text(ref s) if s.starts_with('\u{1}') => match s[1..].parse() {
                Ok(i) if i < expected => Slot::Expected(i),
                _ => Slot::Value(v),
            },
            SqlValue::Text(ref s) if s.starts_with('\u{2}') => match s[1..].parse() {
                Ok(i) if i < known => Slot::Known(i),
                _ => Slot::Value(v),
            },
            v => Slot::Value(v),
        })
        .collect();
    Template { sql, slots }
}

/// Numbers the facts' clocks in traversal order (the order [`clocks_of`] reads them).
fn set_clocks(f: &mut AccessFilter, k: &mut usize) {
    match f {
        AccessFilter::PatientFact { at, .. } => {
            *at = i64::MIN + *k as i64;
            *k += 1;
        }
        AccessFilter::And(v) | AccessFilter::Or(v) => v.iter_mut().for_each(|f| set_clocks(f, k)),
        AccessFilter::Not(f) => set_clocks(f, k),
        _ => {}
    }
}

fn clocks_of(f: &AccessFilter, out: &mut Vec<i64>) {
    match f {
        AccessFilter::PatientFact { at, .. } => out.push(*at),
        AccessFilter::And(v) | AccessFilter::Or(v) => v.iter().for_each(|f| clocks_of(f, out)),
        AccessFilter::Not(f) => clocks_of(f, out),
        _ => {}
    }
}

/// Hashes everything but the clocks.
fn shape_hash(f: &AccessFilter, h: &mut impl Hasher) {
    std::mem::discriminant(f).hash(h);
    match f {
        AccessFilter::All | AccessFilter::None | AccessFilter::NoPatient => {}
        AccessFilter::OrgIn(v) | AccessFilter::PatientIn(v) => v.hash(h),
        AccessFilter::TypeIn(v) => v.hash(h),
        AccessFilter::LabelsNone(b) => b.hash(h),
        AccessFilter::PatientFact { subjects, kinds, at: _ } => {
            subjects.hash(h);
            kinds.hash(h);
        }
        AccessFilter::And(v) | AccessFilter::Or(v) => {
            v.len().hash(h);
            v.iter().for_each(|f| shape_hash(f, h));
        }
        AccessFilter::Not(f) => shape_hash(f, h),
    }
}

/// Equal but for the clocks.
fn same_shape(a: &AccessFilter, b: &AccessFilter) -> bool {
    use AccessFilter as F;
    match (a, b) {
        (F::PatientFact { subjects: s1, kinds: k1, .. }, F::PatientFact { subjects: s2, kinds: k2, .. }) => {
            s1 == s2 && k1 == k2
        }
        (F::And(x), F::And(y)) | (F::Or(x), F::Or(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_shape(a, b))
        }
        (F::Not(x), F::Not(y)) => same_shape(x, y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached path gives exactly what building afresh gives, for any clock, alias and
    /// expected patients, including after the shape is cached.
    #[test]
    fn cached_sql_and_values_equal_a_fresh_build() {
        for at in [1, 1_700_000_000_000_000, 1_700_000_000_000_999] {
            for alias in ["r", "t"] {
                for patients in [vec![], vec!["p1".to_string()], vec!["p2".into(), "p3".into()]] {
                    let f = crate::access::tests::clinician_filter(at);
                    let (mut fresh, mut cached) = (Vec::new(), Vec::new());
                    let want = f.build(alias, &mut fresh, &patients);
                    for _ in 0..2 {
                        cached.clear();
                        assert_eq!(f.to_sql_expecting(alias, &mut cached, &patients), want);
                        assert_eq!(cached, fresh);
                    }
                }
            }
        }
    }

    /// The filter specialised for `facts` as written before the cache (straight from the
    /// facts, short-circuiting): an independent check of the decisions the cache keys on.
    fn specialise_directly(f: &AccessFilter, facts: &PatientFacts) -> AccessFilter {
        use AccessFilter as F;
        let decided = |b: bool| if b { F::All } else { F::None };
        let all = |v: &[AccessFilter], and: bool| {
            let (neutral, decisive) = if and { (F::All, F::None) } else { (F::None, F::All) };
            let mut out = Vec::new();
            for t in v {
                let g = specialise_directly(t, facts);
                if g == decisive {
                    return decisive;
                }
                if g != neutral {
                    out.push(g);
                }
            }
            match out.len() {
                0 => neutral,
                1 => out.remove(0),
                _ if and => F::And(out),
                _ => F::Or(out),
            }
        };
        match f {
            F::PatientFact { subjects, kinds, at } => decided(facts.holds(subjects, kinds, *at)),
            F::PatientIn(v) => decided(v.contains(&facts.patient)),
            F::NoPatient => F::None,
            F::And(v) => all(v, true),
            F::Or(v) => all(v, false),
            F::Not(g) => match specialise_directly(g, facts) {
                F::All => F::None,
                F::None => F::All,
                g => F::Not(Box::new(g)),
            },
            other => other.clone(),
        }
    }

    /// `to_sql_knowing` built afresh, as it was before the cache (and, with a guard, as the
    /// guard's documentation says it wraps that).
    fn fresh_knowing(
        f: &AccessFilter,
        alias: &str,
        params: &mut Vec<SqlValue>,
        expected: &[String],
        known: &[Arc<PatientFacts>],
        guard: Option<i64>,
    ) -> String {
        let rest: Vec<String> = expected
            .iter()
            .filter(|p| !known.iter().any(|k| &k.patient == *p))
            .take(crate::access::MAX_EXPECTED)
            .cloned()
            .collect();
        if let Some(epoch) = guard {
            params.push(SqlValue::Int(epoch));
            let knowing = fresh_knowing(f, alias, params, expected, known, None);
            let all: Vec<String> = known.iter().map(|k| k.patient.clone()).chain(rest).collect();
            let probing = f.build(alias, params, &all);
            return format!(
                "(CASE WHEN (SELECT n FROM access_epoch WHERE id = 1) = ? THEN {knowing} ELSE {probing} END)"
            );
        }
        let mut sql = String::from("(CASE");
        for k in known {
            params.push(k.patient.as_str().into());
            let spec = specialise_directly(f, k).build(alias, params, &[]);
            sql.push_str(&format!(" WHEN {alias}.patient = ? THEN {spec}"));
        }
        let other = f.build(alias, params, &rest);
        sql.push_str(&format!(" ELSE {other} END)"));
        sql
    }

    /// The cached statement for known patients is exactly the fresh one, for every mix of
    /// their facts (each probe held or not, a grant current or expired at the clock), clocks,
    /// aliases, other expected patients and guards, including once the template is cached; and for
    /// a filter with a patient list (a patient's own token).
    #[test]
    fn cached_sql_knowing_patients_equals_a_fresh_build() {
        use crate::access::Known;
        let facts = |patient: &str, held: &[(&str, Option<i64>)]| {
            Arc::new(PatientFacts {
                patient: patient.into(),
                facts: held.iter().map(|(s, until)| (s.to_string(), "k".to_string(), *until)).collect(),
            })
        };
        let own = AccessFilter::Or(vec![
            AccessFilter::PatientIn(vec!["p1".into(), "p3".into()]),
            AccessFilter::And(vec![
                AccessFilter::NoPatient,
                AccessFilter::Not(Box::new(AccessFilter::PatientFact {
                    subjects: vec!["*".into()],
                    kinds: vec![],
                    at: 5,
                })),
            ]),
        ]);
        for at in [1, 1_700_000_000_000_000] {
            let sets = [
                facts("p1", &[]),
                facts("p2", &[("RVJ", None)]),
                facts("p3", &[("RVJ", Some(at + 1)), ("*", None)]),
                facts("p4", &[("RVJ", Some(at)), ("*", Some(at + 10))]),
                facts("p5", &[("*", None)]),
            ];
            let mut filters = vec![crate::access::tests::clinician_filter(at), own.clone()];
            filters[1].set_clock(at);
            for f in &filters {
                for alias in ["r", "t"] {
                    for known in [&sets[..1], &sets[1..2], &sets[2..4], &sets[..], &sets[3..]] {
                        let mut expected: Vec<String> = known.iter().map(|k| k.patient.clone()).collect();
                        for extra in [0, 1, 12] {
                            expected.extend((0..extra).map(|i| format!("x{i}")));
                            for guard in [None, Some(0), Some(7)] {
                                let mut fresh = Vec::new();
                                let want = fresh_knowing(f, alias, &mut fresh, &expected, known, guard);
                                let known = Known { facts: known.to_vec(), guard };
                                for _ in 0..2 {
                                    let mut cached = Vec::new();
                                    assert_eq!(f.to_sql_knowing(alias, &mut cached, &expected, &known), want);
                                    assert_eq!(cached, fresh);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn filters_that_differ_only_in_a_constant_do_not_share_a_template() {
        let a = AccessFilter::OrgIn(vec!["RVJ".into()]);
        let b = AccessFilter::OrgIn(vec!["RBA".into()]);
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        a.to_sql_expecting("r", &mut pa, &[]);
        b.to_sql_expecting("r", &mut pb, &[]);
        assert_eq!(pa, vec![SqlValue::from("RVJ")]);
        assert_eq!(pb, vec![SqlValue::from("RBA")]);
    }
}
