//! The access filter's SQL, built once per filter shape and reused.
//!
//! A caller's filter is the same for every statement of every request it makes, apart from
//! the clock (`at` of each [`AccessFilter::PatientFact`]) and the patients a statement expects.
//! Building its text afresh (a few kilobytes from dozens of `format!`s) cost ~4% of a search
//! under the policy, so the text is kept per (filter without clock, alias, number of expected
//! patients), with a list saying where each bound value comes from: a constant of the filter,
//! the k-th expected patient, or the k-th fact's clock.
//!
//! The template is made by building the SQL once with stand-ins for the varying values (a
//! clock of `i64::MIN + k`, a patient id `"\u{1}i"`, neither of which a real request can
//! carry: a clock is microseconds since 1970, a FHIR id is `[A-Za-z0-9.-]`), and reading
//! the stand-ins back out of the bound values.
use super::AccessFilter;
use crate::conn::SqlValue;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Where a bound value comes from.
#[derive(Debug)]
enum Slot {
    Value(SqlValue),
    Expected(usize),
    Clock(usize),
}

#[derive(Debug)]
struct Template {
    sql: String,
    slots: Vec<Slot>,
}

struct Cached {
    filter: AccessFilter,
    alias: String,
    expected: usize,
    template: Arc<Template>,
}

/// Templates by shape hash. Bounded: cleared when it holds more than this many (one per
/// caller and statement shape, so a busy server holds a few per active user).
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
    let template = lookup(filter, alias, patients.len());
    let mut clocks = Vec::new();
    clocks_of(filter, &mut clocks);
    params.extend(template.slots.iter().map(|s| match s {
        Slot::Value(v) => v.clone(),
        Slot::Expected(i) => SqlValue::from(patients[*i].as_str()),
        Slot::Clock(k) => SqlValue::Int(clocks[*k]),
    }));
    template.sql.clone()
}

fn lookup(filter: &AccessFilter, alias: &str, expected: usize) -> Arc<Template> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    shape_hash(filter, &mut h);
    alias.hash(&mut h);
    expected.hash(&mut h);
    let key = h.finish();
    let mut cache = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if let Some(c) = map.get(&key).and_then(|v| {
        v.iter().find(|c| c.expected == expected && c.alias == alias && same_shape(&c.filter, filter))
    }) {
        return c.template.clone();
    }
    let template = Arc::new(make(filter, alias, expected));
    if map.values().map(Vec::len).sum::<usize>() >= CAPACITY {
        map.clear();
    }
    map.entry(key).or_default().push(Cached {
        filter: filter.clone(),
        alias: alias.to_string(),
        expected,
        template: template.clone(),
    });
    template
}

fn make(filter: &AccessFilter, alias: &str, expected: usize) -> Template {
    let mut stand_in = filter.clone();
    let mut k = 0;
    set_clocks(&mut stand_in, &mut k);
    let patients: Vec<String> = (0..expected).map(|i| format!("\u{1}{i}")).collect();
    let mut values = Vec::new();
    let sql = stand_in.build(alias, &mut values, &patients);
    let slots = values
        .into_iter()
        .map(|v| match v {
            SqlValue::Int(c) if (c as i128 - i64::MIN as i128) < k as i128 => {
                Slot::Clock((c as i128 - i64::MIN as i128) as usize)
            }
            SqlValue::Text(ref s) if s.starts_with('\u{1}') => match s[1..].parse() {
                Ok(i) if i < expected => Slot::Expected(i),
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
