//! FHIR search requests (R4 §3.1.1 "Search"): the typed form of a query string, checked
//! against the official SearchParameter definitions. The store compiles this into SQL; nothing
//! here knows about tables.
mod care_dates;
pub mod filter;
mod parse;
mod value;

pub use care_dates::care_date_params;
pub use parse::{parse, Handling};
pub use value::{parse_number, parse_value, Prefix};

use lantern_r4::SearchParamType;

/// One search, as parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRequest {
    /// The resource type searched; None for a system-level search.
    pub rtype: Option<String>,
    /// `_type` on a system search.
    pub types: Vec<String>,
    /// Criteria, all of which must hold.
    pub criteria: Vec<Criterion>,
    pub sort: Vec<SortKey>,
    /// Page size (`_count`).
    pub count: usize,
    pub total: TotalMode,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    pub summary: Option<Summary>,
    pub elements: Vec<String>,
    /// The opaque paging cursor (`_page`), produced by a previous page's next link.
    pub cursor: Option<String>,
    /// Parameters that were accepted and used, in canonical form, for the self link.
    pub used: Vec<(String, String)>,
    /// Parameters ignored under `Prefer: handling=lenient`, for an OperationOutcome warning.
    pub ignored: Vec<String>,
    /// `_linked=true` (a Lantern extension): a reference to a Patient also matches every source
    /// Patient record the patient index links to the same person.
    pub linked: bool,
}

pub const DEFAULT_COUNT: usize = 20;
pub const MAX_COUNT: usize = 1000;

/// `_total` (R4 §3.1.1.5.11). The default is `Estimate`: an exact count when there are at most
/// [`ESTIMATE_CAP`] matches (the usual case for one patient's data of one kind) and no total
/// above that, so that a broad search's first page never pays for counting many rows.
/// `_total=accurate` always counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotalMode {
    None,
    #[default]
    Estimate,
    Accurate,
}

/// Above this many matches, `_total=estimate` (the default) gives no total. As many as the
/// largest page (`MAX_COUNT`): counting costs about 2.5 µs a match on SQLite, so 10,000 (the cap
/// until 2026-12-05) made a broad token search's first page take 25 ms at a million resources.
pub const ESTIMATE_CAP: i64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

/// One condition. Values inside one criterion are alternatives (OR, the comma); criteria are
/// all required (AND, repeated parameters).
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// A parameter of the searched type.
    Param { code: &'static str, kind: SearchParamType, modifier: Modifier, values: Vec<SearchValue> },
    /// `param:missing=true|false`.
    Missing { code: &'static str, kind: SearchParamType, missing: bool },
    /// A chained parameter: resources whose reference `code` points at a resource (of one of
    /// `target_types`) that matches `inner`.
    Chain { code: &'static str, target_types: Vec<String>, inner: Box<Criterion> },
    /// Reverse chaining (`_has:Type:ref:criterion`): resources referred to, through `ref_code`,
    /// by a resource of `source_type` matching `inner`.
    Has { source_type: String, ref_code: &'static str, inner: Box<Criterion> },
    /// Membership of a compartment (R4 §3.1.0.8, `GET Patient/123/Observation`): any of
    /// `params` refers to `compartment/id`, or, when `itself` (the compartment's own type), the
    /// resource is `compartment/id`. Made by [`compartment`], never by parsing a query.
    Compartment { compartment: String, id: String, params: Vec<&'static str>, itself: bool },
    /// `_filter`'s `or` across parameters: the resource meets every criterion of at least one
    /// of the groups.
    Any(Vec<Vec<Criterion>>),
    /// `_filter`'s `not(...)`: the resource does not meet all of these criteria.
    Not(Vec<Criterion>),
}

/// The criterion for "`rtype` resources in the compartment of `compartment/id`", from R4's
/// CompartmentDefinitions; `None` if `rtype` is never in that compartment. The focal resource
/// is in its own compartment: R4 writes `{def}` for it under Encounter and Practitioner but
/// not under Patient (R5 adds it there), and `Patient/1/Patient` finding nothing would be odd.
pub fn compartment(compartment: &str, id: &str, rtype: &str) -> Option<Criterion> {
    let defs = lantern_r4::compartment_params(compartment, rtype);
    if defs.is_empty() {
        return None;
    }
    Some(Criterion::Compartment {
        compartment: compartment.to_string(),
        id: id.to_string(),
        params: defs.iter().copied().filter(|p| *p != "{def}").collect(),
        itself: defs.contains(&"{def}") || rtype == compartment,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    None,
    Exact,
    Contains,
    Not,
    Text,
    Identifier,
    Above,
    Below,
    /// `:[type]` on a reference parameter.
    Type(String),
    /// `:in` / `:not-in` on a token parameter: the values are value set URLs, expanded by the
    /// store (a stored ValueSet that lists or expands its codes, or one of R4's own).
    In,
    NotIn,
    /// `:of-type` on an identifier parameter: `type-system|type-code|value`, matched against
    /// `Identifier.type.coding` and `Identifier.value` (the value is held as
    /// `SearchValue::Token` with `code` = `type-code|value`).
    OfType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    String(String),
    /// `system|code`: `system` None means any system; `Some(None)` means "no system" (`|code`);
    /// `code` None means any code in the system (`system|`).
    Token {
        system: Option<Option<String>>,
        code: Option<String>,
    },
    /// A local reference (`Patient/1`, or `1` with the type unknown) or an absolute URL.
    Reference {
        rtype: Option<String>,
        id: String,
    },
    ReferenceUrl(String),
    Date {
        prefix: Prefix,
        lo: i64,
        hi: i64,
    },
    /// A number with the range its precision implies.
    Number {
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
    },
    Quantity {
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
        system: Option<String>,
        code: Option<String>,
    },
    Uri(String),
    /// Composite parameter: one raw value per component, split on `$`.
    Composite(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub code: String,
    pub descending: bool,
}

/// `_include` / `_revinclude`: `source_type:param[:target_type]`, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub source_type: String,
    /// None for `*` (every reference parameter).
    pub param: Option<&'static str>,
    pub target_type: Option<String>,
    pub iterate: bool,
}
