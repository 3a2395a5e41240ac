//! The access filter: what the policy layer decided this request may see, in a form the SQL
//! compiler turns into a condition on every resource row a query touches (main results,
//! totals, includes, chains, `_has`, history, `$everything`). Filtering inside the query, not
//! after it, is what stops totals and paging from leaking withheld data.
use crate::conn::SqlValue;

/// A condition on a resource row (`resource` table alias given at compile time).
#[derive(Debug, Clone, PartialEq)]
pub enum AccessFilter {
    /// Everything (system tools; the default until policy is configured).
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
            format!("{alias}.{col} IN ({marks})")
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
