//! The access filter: what the policy layer decided this request may see, in a form the SQL
//! compiler turns into a condition on every resource row a query touches (main results,
//! totals, includes, chains, `_has`, history, `$everything`). Filtering inside the query, not
//! after it, is what stops totals and paging from leaking withheld data.
use crate::conn::SqlValue;

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

    /// SQL for this condition on the resource row aliased `alias`, appending bound values.
    pub fn to_sql(&self, alias: &str, params: &mut Vec<SqlValue>) -> String {
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
                let cond = |params: &mut Vec<SqlValue>| {
                    params.extend(subjects.iter().map(|s| SqlValue::from(s.as_str())));
                    let mut c = format!("g.subject IN ({})", vec!["?"; subjects.len()].join(","));
                    if !kinds.is_empty() {
                        params.extend(kinds.iter().map(|k| SqlValue::from(k.as_str())));
                        c.push_str(&format!(" AND g.kind IN ({})", vec!["?"; kinds.len()].join(",")));
                    }
                    params.push(SqlValue::Int(*at));
                    c.push_str(" AND (g.until IS NULL OR g.until > ?)");
                    c
                };
                let direct = cond(params);
                let linked = cond(params);
                // CROSS JOIN fixes the order for SQLite: from this row's patient to the other
                // records of its person, then their facts by primary key. Any other order would
                // scan every fact of the subject (an organisation's whole caseload).
                format!(
                    "(EXISTS (SELECT 1 FROM patient_grant g WHERE g.patient = {alias}.patient AND {direct}) \
                     OR EXISTS (SELECT 1 FROM person_link l1 CROSS JOIN person_link l2 CROSS JOIN patient_grant g \
                     WHERE l1.patient = {alias}.patient AND l2.person = l1.person AND l2.patient <> l1.patient \
                     AND g.patient = l2.patient AND {linked}))"
                )
            }
            AccessFilter::And(v) if v.is_empty() => "1 = 1".into(),
            AccessFilter::Or(v) if v.is_empty() => "1 = 0".into(),
            AccessFilter::And(v) => {
                format!("({})", v.iter().map(|f| f.to_sql(alias, params)).collect::<Vec<_>>().join(" AND "))
            }
            AccessFilter::Or(v) => {
                format!("({})", v.iter().map(|f| f.to_sql(alias, params)).collect::<Vec<_>>().join(" OR "))
            }
            AccessFilter::Not(f) => format!("NOT ({})", f.to_sql(alias, params)),
        }
    }
}
