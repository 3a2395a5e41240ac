//! `_sort` (R4 §3.1.1.4.10): each key is a correlated lookup into the parameter's index,
//! smallest value for ascending, largest for descending. Resources without a value sort last
//! in either direction (a sentinel stands in for the missing value, which also keeps keyset
//! paging simple: every sort value is comparable).
use crate::catalog::Catalog;
use crate::error::StoreError;
use lantern_fhir::search::SortKey;
use lantern_r4::SearchParamType as T;

/// The SQL type of a sort value, which decides its sentinel and how the cursor stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortType {
    Int,
    Real,
    Text,
}

pub(crate) struct SortExpr {
    pub sql: String,
    pub ty: SortType,
    pub descending: bool,
}

fn sentinel(ty: SortType, descending: bool) -> &'static str {
    match (ty, descending) {
        (SortType::Int, false) => "9223372036854775807",
        (SortType::Int, true) => "-9223372036854775808",
        (SortType::Real, false) => "1e308",
        (SortType::Real, true) => "-1e308",
        (SortType::Text, false) => "'\u{10FFFF}'",
        (SortType::Text, true) => "''",
    }
}

pub(crate) fn sort_exprs(
    catalog: &Catalog,
    rtype: &str,
    keys: &[SortKey],
    alias: &str,
) -> Result<Vec<SortExpr>, StoreError> {
    let mut out = Vec::new();
    for k in keys {
        let (sql, ty) = match k.code.as_str() {
            "_id" => (format!("{alias}.id"), SortType::Text),
            "_lastUpdated" => (format!("{alias}.updated"), SortType::Int),
            code => {
                let def = lantern_r4::search_param(rtype, code).ok_or_else(|| {
                    StoreError::invalid(
                        "not-supported",
                        Some("_sort".into()),
                        format!("{rtype} has no parameter '{code}'"),
                    )
                })?;
                let Some(rows) = catalog.param_rows(rtype, code) else {
                    return Err(StoreError::invalid(
                        "not-supported",
                        Some("_sort".into()),
                        format!("cannot sort by {code}"),
                    ));
                };
                let agg = if k.descending { "MAX" } else { "MIN" };
                let (table, col, ty) = match def.kind {
                    T::Date => ("ix_date", if k.descending { "hi" } else { "lo" }, SortType::Int),
                    T::String | T::Special => ("ix_string", "norm", SortType::Text),
                    T::Token => ("ix_token", "code", SortType::Text),
                    T::Number => ("ix_number", "lo", SortType::Real),
                    T::Quantity => ("ix_quantity", "lo", SortType::Real),
                    T::Reference => ("ix_ref", "tid", SortType::Text),
                    T::Uri => ("ix_uri", "value", SortType::Text),
                    T::Composite => ("ix_composite", "key", SortType::Text),
                };
                let pcond = rows.cond("");
                (format!("(SELECT {agg}({col}) FROM {table} WHERE rk = {alias}.rk AND {pcond})"), ty)
            }
        };
        let sql = format!("COALESCE({sql}, {})", sentinel(ty, k.descending));
        out.push(SortExpr { sql, ty, descending: k.descending });
    }
    Ok(out)
}
