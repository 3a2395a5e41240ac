//! The access filter: what the policy layer decided this request may see, in a form the SQL
//! compiler turns into a condition on every resource row a query touches (main results,
//! totals, includes, chains, `_has`, history, `$everything`). Filtering inside the query, not
//! after it, is what stops totals and paging from leaking withheld data.
use crate::conn::SqlValue;

pub mod facts;
mod template;

pub use facts::{FactCache, Known, PatientFacts};

/// The columns of a resource row the filter reads, for judging one row in Rust
/// ([`AccessFilter::admits`]).
#[derive(Debug, Clone, Copy)]
pub struct RowAccess<'a> {
    pub rtype: i64,
    pub org: Option<&'a str>,
    pub patient: Option<&'a str>,
    pub sec: i64,
}

/// A condition on a resource row (`resource` table alias given at compile time).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AccessFilter {
    /// Everything (system tools; the default until policy is configured).
    #[default]
    All,
    /// Nothing.
    None,
    /// Resources whose owning organisation is one of these (ODS codes).
    OrgIn(Vec<String>),
    /// Resources in the compartment of one of these patients (logical ids).
    PatientIn(Vec<String>),
    /// Resources of these types.
    TypeIn(Vec<i64>),
    /// Resources carrying none of these security-label bits.
    LabelsNone(i64),
    /// Resources outside any patient's compartment (Organization, Practitioner, Medication...).
    NoPatient,
    /// Resources whose patient (or a record linked to the same person in `person_link`) has a
    /// current fact in `patient_grant`: one of `subjects`, one of `kinds` (any kind if empty),
    /// not expired at `at`.
    /// Probed per row through the (patient, ...) key, so its cost does not grow with the number
    /// of patients an organisation cares for.
    PatientFact {
        subjects: Vec<String>,
        kinds: Vec<String>,
        at: i64,
    },
    And(Vec<AccessFilter>),
    Or(Vec<AccessFilter>),
    Not(Box<AccessFilter>),
}

impl AccessFilter {
    pub fn is_all(&self) -> bool {
        matches!(self, AccessFilter::All)
    }

    /// Sets the time every [`AccessFilter::PatientFact`] is judged at.
    pub fn set_clock(&mut self, now: i64) {
        match self {
            AccessFilter::PatientFact { at, .. } => *at = now,
            AccessFilter::And(v) | AccessFilter::Or(v) => v.iter_mut().for_each(|f| f.set_clock(now)),
            AccessFilter::Not(f) => f.set_clock(now),
            _ => {}
        }
    }

    /// Whether any part of the filter probes patients' facts.
    pub fn probes_facts(&self) -> bool {
        match self {
            AccessFilter::PatientFact { .. } => true,
            AccessFilter::And(v) | AccessFilter::Or(v) => v.iter().any(AccessFilter::probes_facts),
            AccessFilter::Not(f) => f.probes_facts(),
            _ => false,
        }
    }

    /// The filter as it stands for rows of `facts.patient`: its probes answered from the
    /// facts, "no patient" false, a patient list decided, and what is then constant folded
    /// away. Equivalent to `self` on every row whose patient is that one, and only on those.
    pub fn specialise(&self, facts: &PatientFacts) -> AccessFilter {
        let mut decided = Vec::new();
        self.decisions(facts, &mut decided);
        let mut decided = decided.into_iter();
        let out = self.specialise_by(&mut decided);
        debug_assert!(decided.next().is_none(), "a decision left over");
        out
    }

    /// How `facts` decide each term [`AccessFilter::specialise`] answers (every
    /// [`AccessFilter::PatientFact`] and [`AccessFilter::PatientIn`]), in pre-order. With the
    /// filter's shape, these decide its specialised form; the SQL cache keys on them.
    fn decisions(&self, facts: &PatientFacts, out: &mut Vec<bool>) {
        match self {
            AccessFilter::PatientFact { subjects, kinds, at } => out.push(facts.holds(subjects, kinds, *at)),
            AccessFilter::PatientIn(v) => out.push(v.contains(&facts.patient)),
            AccessFilter::And(v) | AccessFilter::Or(v) => v.iter().for_each(|f| f.decisions(facts, out)),
            AccessFilter::Not(f) => f.decisions(facts, out),
            _ => {}
        }
    }

    /// [`AccessFilter::specialise`] from its decisions ([`AccessFilter::decisions`]), taken in
    /// order. Every term takes its decision, none is skipped, so that the decisions of one
    /// filter line up with the terms of any filter of the same shape. A missing decision is
    /// ruled out by the callers (decisions and terms come from filters of one shape) and
    /// checked in debug builds.
    fn specialise_by(&self, decided: &mut impl Iterator<Item = bool>) -> AccessFilter {
        use AccessFilter as F;
        match self {
            F::PatientFact { .. } | F::PatientIn(_) => {
                let d = decided.next();
                debug_assert!(d.is_some(), "a term without its decision");
                if d.unwrap_or(false) {
                    F::All
                } else {
                    F::None
                }
            }
            F::NoPatient => F::None,
            F::And(v) => specialise_all(v, decided, true),
            F::Or(v) => specialise_all(v, decided, false),
            F::Not(f) => match f.specialise_by(decided) {
                F::All => F::None,
                F::None => F::All,
                g => F::Not(Box::new(g)),
            },
            other => other.clone(),
        }
    }

    /// Whether the filter lets `row` through, judged in Rust as its SQL judges it. `facts`
    /// must be those of `row.patient` (ignored for a row without a patient, whose probes
    /// find nothing).
    pub fn admits(&self, row: &RowAccess<'_>, facts: &PatientFacts) -> bool {
        use AccessFilter as F;
        debug_assert!(row.patient.is_none_or(|p| p == facts.patient), "facts of another patient");
        match self {
            F::All => true,
            F::None => false,
            F::OrgIn(v) => row.org.is_some_and(|o| v.iter().any(|x| x == o)),
            F::PatientIn(v) => row.patient.is_some_and(|p| v.iter().any(|x| x == p)),
            F::TypeIn(v) => v.contains(&row.rtype),
            F::LabelsNone(bits) => row.sec & bits == 0,
            F::NoPatient => row.patient.is_none(),
            F::PatientFact { subjects, kinds, at } => {
                row.patient.is_some() && !subjects.is_empty() && facts.holds(subjects, kinds, *at)
            }
            F::And(v) => v.iter().all(|f| f.admits(row, facts)),
            F::Or(v) => v.iter().any(|f| f.admits(row, facts)),
            F::Not(f) => !f.admits(row, facts),
        }
    }

    /// As [`AccessFilter::to_sql_expecting`], where the facts of some expected patients are
    /// `known` (see [`facts`]): rows of those patients are judged by the filter specialised
    /// for them, with no probe left, and every other row as before. With a guard (facts from a
    /// guarded cache), only while the statement sees the facts' `access_epoch` number; if it
    /// sees another, every row is judged as by [`AccessFilter::to_sql_expecting`].
    pub fn to_sql_knowing(
        &self,
        alias: &str,
        params: &mut Vec<SqlValue>,
        expected: &[String],
        known: &Known,
    ) -> String {
        if known.facts.is_empty() || !self.probes_facts() {
            return self.to_sql_expecting(alias, params, expected);
        }
        let facts = &known.facts[..known.facts.len().min(MAX_EXPECTED)];
        let rest: Vec<&str> = expected
            .iter()
            .map(String::as_str)
            .filter(|p| !facts.iter().any(|k| k.patient == *p))
            .take(MAX_EXPECTED)
            .collect();
        template::instantiate_knowing(self, alias, facts, &rest, known.guard, params)
    }

    /// [`AccessFilter::to_sql_knowing`] built afresh (the template cache calls this once per
    /// filter shape and set of decisions): `(CASE WHEN patient = ? THEN <the filter specialised
    /// for that patient> ... ELSE <the filter expecting the rest> END)`. `known` are the known
    /// patients' ids (or stand-ins) and `decided` their decisions, one run per patient. With a
    /// `guard`, that is wrapped in `(CASE WHEN (SELECT n FROM access_epoch WHERE id = 1) = ?
    /// THEN ... ELSE <the filter expecting the known patients and the rest> END)`.
    fn build_knowing<S: AsRef<str>>(
        &self,
        alias: &str,
        params: &mut Vec<SqlValue>,
        known: &[S],
        decided: &mut impl Iterator<Item = bool>,
        rest: &[String],
        guard: Option<i64>,
    ) -> String {
        if let Some(epoch) = guard {
            params.push(SqlValue::Int(epoch));
            let knowing = self.build_knowing(alias, params, known, decided, rest, None);
            let all: Vec<String> =
                known.iter().map(|k| k.as_ref().to_string()).chain(rest.iter().cloned()).collect();
            let probing = self.build(alias, params, &all);
            return format!("(CASE WHEN ({}) = ? THEN {knowing} ELSE {probing} END)", facts::EPOCH_NOW);
        }
        let mut sql = String::from("(CASE");
        for k in known {
            params.push(k.as_ref().into());
            let spec = self.specialise_by(decided).build(alias, params, &[]);
            sql.push_str(&format!(" WHEN {alias}.patient = ? THEN {spec}"));
        }
        let other = self.build(alias, params, rest);
        sql.push_str(&format!(" ELSE {other} END)"));
        sql
    }

    /// SQL for this condition on the resource row aliased `alias`, appending bound values.
    pub fn to_sql(&self, alias: &str, params: &mut Vec<SqlValue>) -> String {
        self.to_sql_expecting(alias, params, &[])
    }

    /// As [`AccessFilter::to_sql`], for a statement whose rows are expected to belong to
    /// `patients` (a search by patient, `$everything`). The facts of those patients are then
    /// probed once per statement instead of once per row: each [`AccessFilter::PatientFact`]
    /// becomes `CASE WHEN patient = 'p1' THEN <probe of p1> ... ELSE <probe of the row's
    /// patient> END`, where the first probes are uncorrelated subqueries that SQLite and
    /// PostgreSQL evaluate at most once per statement. The condition is the same for every
    /// row (a row of another patient takes the `ELSE`), so a wrong expectation costs speed,
    /// never correctness. At most [`MAX_EXPECTED`] patients are used.
    pub fn to_sql_expecting(&self, alias: &str, params: &mut Vec<SqlValue>, patients: &[String]) -> String {
        let patients = &patients[..patients.len().min(MAX_EXPECTED)];
        template::instantiate(self, alias, patients, params)
    }

    /// The SQL text and values of [`AccessFilter::to_sql_expecting`], built afresh (the
    /// template cache calls this once per filter shape).
    fn build(&self, alias: &str, params: &mut Vec<SqlValue>, patients: &[String]) -> String {
        fn list(alias: &str, col: &str, vals: Vec<SqlValue>, params: &mut Vec<SqlValue>) -> String {
            if vals.is_empty() {
                return "1 = 0".into();
            }
            let marks = vec!["?"; vals.len()].join(",");
            params.extend(vals);
            // NULL-safe, so that Not(...) of it is the exact complement.
            format!("({alias}.{col} IS NOT NULL AND {alias}.{col} IN ({marks}))")
        }
        match self {
            AccessFilter::All => "1 = 1".into(),
            AccessFilter::None => "1 = 0".into(),
            AccessFilter::OrgIn(v) => {
                list(alias, "org", v.iter().map(|s| s.as_str().into()).collect(), params)
            }
            AccessFilter::PatientIn(v) => {
                list(alias, "patient", v.iter().map(|s| s.as_str().into()).collect(), params)
            }
            AccessFilter::TypeIn(v) => {
                list(alias, "type", v.iter().map(|t| SqlValue::Int(*t)).collect(), params)
            }
            AccessFilter::LabelsNone(bits) => {
                params.push(SqlValue::Int(*bits));
                format!("({alias}.sec & ?) = 0")
            }
            AccessFilter::NoPatient => format!("{alias}.patient IS NULL"),
            AccessFilter::PatientFact { subjects, kinds, at } => {
                if subjects.is_empty() {
                    return "1 = 0".into();
                }
                if patients.is_empty() {
                    return fact_probe(&format!("{alias}.patient"), None, subjects, kinds, *at, params);
                }
                let mut sql = String::from("(CASE");
                for p in patients {
                    params.push(p.as_str().into());
                    let probe = fact_probe("?", Some(p), subjects, kinds, *at, params);
                    sql.push_str(&format!(" WHEN {alias}.patient = ? THEN {probe}"));
                }
                let own = fact_probe(&format!("{alias}.patient"), None, subjects, kinds, *at, params);
                sql.push_str(&format!(" ELSE {own} END)"));
                sql
            }
            AccessFilter::And(v) if v.is_empty() => "1 = 1".into(),
            AccessFilter::Or(v) if v.is_empty() => "1 = 0".into(),
            AccessFilter::And(v) => format!(
                "({})",
                v.iter().map(|f| f.build(alias, params, patients)).collect::<Vec<_>>().join(" AND ")
            ),
            AccessFilter::Or(v) => format!(
                "({})",
                v.iter().map(|f| f.build(alias, params, patients)).collect::<Vec<_>>().join(" OR ")
            ),
            AccessFilter::Not(f) => format!("NOT ({})", f.build(alias, params, patients)),
        }
    }
}

/// The terms of an AND (`and`) or an OR specialised ([`AccessFilter::specialise`]), folded:
/// a term that decides the whole (None in an AND, All in an OR) is the answer, one that
/// changes nothing is dropped, and one term left stands alone.
fn specialise_all(
    terms: &[AccessFilter],
    decided: &mut impl Iterator<Item = bool>,
    and: bool,
) -> AccessFilter {
    let (neutral, decisive) =
        if and { (AccessFilter::All, AccessFilter::None) } else { (AccessFilter::None, AccessFilter::All) };
    // Every term is specialised, even after a decisive one, so that each takes its decisions.
    let terms: Vec<AccessFilter> = terms.iter().map(|t| t.specialise_by(decided)).collect();
    if terms.contains(&decisive) {
        return decisive;
    }
    let mut out: Vec<AccessFilter> = terms.into_iter().filter(|g| *g != neutral).collect();
    match out.len() {
        0 => neutral,
        1 => out.pop().unwrap_or(neutral),
        _ if and => AccessFilter::And(out),
        _ => AccessFilter::Or(out),
    }
}

/// How many expected patients [`AccessFilter::to_sql_expecting`] probes ahead.
pub const MAX_EXPECTED: usize = 8;

/// Whether `patient` (an SQL expression, or `?` bound to `bound`), or a record linked to the
/// same person in `person_link`, has a current fact of one of `subjects` (and `kinds`).
fn fact_probe(
    patient: &str,
    bound: Option<&str>,
    subjects: &[String],
    kinds: &[String],
    at: i64,
    params: &mut Vec<SqlValue>,
) -> String {
    let cond = |params: &mut Vec<SqlValue>| {
        params.extend(subjects.iter().map(|s| SqlValue::from(s.as_str())));
        let mut c = format!("g.subject IN ({})", vec!["?"; subjects.len()].join(","));
        if !kinds.is_empty() {
            params.extend(kinds.iter().map(|k| SqlValue::from(k.as_str())));
            c.push_str(&format!(" AND g.kind IN ({})", vec!["?"; kinds.len()].join(",")));
        }
        params.push(SqlValue::Int(at));
        c.push_str(" AND (g.until IS NULL OR g.until > ?)");
        c
    };
    // Placeholders are bound in the order they appear: the patient, then the condition.
    let bind = |params: &mut Vec<SqlValue>| {
        if let Some(p) = bound {
            params.push(p.into());
        }
    };
    bind(params);
    let direct = cond(params);
    bind(params);
    let linked = cond(params);
    // CROSS JOIN fixes the order for SQLite: from this row's patient to the other records of
    // its person, then their facts by primary key. Any other order would scan every fact of
    // the subject (an organisation's whole caseload).
    format!(
        "(EXISTS (SELECT 1 FROM patient_grant g WHERE g.patient = {patient} AND {direct}) \
         OR EXISTS (SELECT 1 FROM person_link l1 CROSS JOIN person_link l2 CROSS JOIN patient_grant g \
         WHERE l1.patient = {patient} AND l2.person = l1.person AND l2.patient <> l1.patient \
         AND g.patient = l2.patient AND {linked}))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(subject: &str) -> AccessFilter {
        AccessFilter::PatientFact { subjects: vec![subject.into()], kinds: vec!["k".into()], at: 7 }
    }

    /// A clinician's filter as the policy compiles it: own data, reference data, or a related
    /// patient who has not opted out, without restricted labels (facts judged at `at`).
    pub(super) fn clinician_filter(at: i64) -> AccessFilter {
        let fact =
            |s: &str| AccessFilter::PatientFact { subjects: vec![s.into()], kinds: vec!["k".into()], at };
        AccessFilter::Or(vec![
            AccessFilter::OrgIn(vec!["RVJ".into()]),
            AccessFilter::NoPatient,
            AccessFilter::And(vec![
                fact("RVJ"),
                AccessFilter::Not(Box::new(fact("*"))),
                AccessFilter::LabelsNone(3),
            ]),
        ])
    }

    #[test]
    fn placeholders_and_bound_values_agree() {
        let f = clinician_filter(7);
        let many: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
        for expect in [&[][..], &["p1".to_string()][..], &many[..]] {
            let mut params = Vec::new();
            let sql = f.to_sql_expecting("r", &mut params, expect);
            assert_eq!(sql.matches('?').count(), params.len(), "{sql}");
            let whens = sql.matches("WHEN r.patient = ?").count();
            assert_eq!(whens, 2 * expect.len().min(MAX_EXPECTED), "one branch per expected patient and fact");
        }
    }

    #[test]
    fn an_expected_patient_is_bound_before_its_probe() {
        let mut params = Vec::new();
        let sql = fact("RVJ").to_sql_expecting("r", &mut params, &["p1".to_string()]);
        assert!(sql.starts_with("(CASE WHEN r.patient = ? THEN (EXISTS"), "{sql}");
        let p1 = SqlValue::from("p1");
        let (subject, kind, at) = (SqlValue::from("RVJ"), SqlValue::from("k"), SqlValue::Int(7));
        let probe = |patient: Option<&SqlValue>| {
            let mut v = Vec::new();
            for _ in 0..2 {
                v.extend(patient.cloned());
                v.extend([subject.clone(), kind.clone(), at.clone()]);
            }
            v
        };
        let mut want = vec![p1.clone()];
        want.extend(probe(Some(&p1)));
        want.extend(probe(None));
        assert_eq!(params, want);
    }
}
