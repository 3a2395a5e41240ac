//! The function library (FHIRPath N1 §5 "Functions", §6.3 type functions, §7 "Aggregates", N2
//! additions, FHIR R4 fhirpath.html "Additional functions"). Names are resolved to [`Func`] at
//! parse time with their arity; [`call`] dispatches to one module per specification section.

mod aggregate;
mod combining;
mod conversion;
mod datetime;
mod existence;
mod fhir;
mod filtering;
mod math;
mod strings;
mod subsetting;
mod tree;
mod utility;

use crate::ast::Ast;
use crate::error::{eval_err, Result};
use crate::eval::{singleton, values::to_system, Evaluator, Scope};
use crate::item::{Collection, Item};
use std::borrow::Cow;

macro_rules! funcs {
    ($($variant:ident = $name:literal ($min:literal, $max:literal),)*) => {
        /// A library function, resolved at parse time.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($variant,)* }

        impl Func {
            pub(crate) fn lookup(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }

            /// (minimum, maximum) number of arguments.
            pub(crate) fn arity(self) -> (usize, usize) {
                match self { $(Func::$variant => ($min, $max),)* }
            }
        }
    };
}

funcs! {
    // 5.1 existence
    Empty = "empty" (0, 0), Exists = "exists" (0, 1), All = "all" (1, 1), AllTrue = "allTrue" (0, 0),
    AnyTrue = "anyTrue" (0, 0), AllFalse = "allFalse" (0, 0), AnyFalse = "anyFalse" (0, 0),
    SubsetOf = "subsetOf" (1, 1), SupersetOf = "supersetOf" (1, 1), Count = "count" (0, 0),
    Distinct = "distinct" (0, 0), IsDistinct = "isDistinct" (0, 0),
    // 5.2 filtering and projection
    Where = "where" (1, 1), Select = "select" (1, 1), Repeat = "repeat" (1, 1), RepeatAll = "repeatAll" (1, 1),
    OfType = "ofType" (1, 1),
    // 5.3 subsetting
    Single = "single" (0, 0), First = "first" (0, 0), Last = "last" (0, 0), Tail = "tail" (0, 0),
    Skip = "skip" (1, 1), Take = "take" (1, 1), Intersect = "intersect" (1, 1), Exclude = "exclude" (1, 1),
    // 5.4 combining
    Union = "union" (1, 1), Combine = "combine" (1, 1),
    // 5.5 conversion
    Iif = "iif" (2, 3), ToBoolean = "toBoolean" (0, 0), ConvertsToBoolean = "convertsToBoolean" (0, 0),
    ToInteger = "toInteger" (0, 0), ConvertsToInteger = "convertsToInteger" (0, 0),
    ToLong = "toLong" (0, 0), ConvertsToLong = "convertsToLong" (0, 0),
    ToDecimal = "toDecimal" (0, 0), ConvertsToDecimal = "convertsToDecimal" (0, 0),
    ToStringFn = "toString" (0, 0), ConvertsToString = "convertsToString" (0, 0),
    ToDate = "toDate" (0, 0), ConvertsToDate = "convertsToDate" (0, 0),
    ToDateTime = "toDateTime" (0, 0), ConvertsToDateTime = "convertsToDateTime" (0, 0),
    ToTime = "toTime" (0, 0), ConvertsToTime = "convertsToTime" (0, 0),
    ToQuantity = "toQuantity" (0, 1), ConvertsToQuantity = "convertsToQuantity" (0, 1),
    // 5.6 strings
    IndexOf = "indexOf" (1, 1), LastIndexOf = "lastIndexOf" (1, 1), Substring = "substring" (1, 2),
    StartsWith = "startsWith" (1, 1), EndsWith = "endsWith" (1, 1), Contains = "contains" (1, 1),
    Upper = "upper" (0, 0), Lower = "lower" (0, 0), Replace = "replace" (2, 2), Matches = "matches" (1, 2),
    MatchesFull = "matchesFull" (1, 2), ReplaceMatches = "replaceMatches" (2, 3), Length = "length" (0, 0),
    ToChars = "toChars" (0, 0), Split = "split" (1, 1), Join = "join" (0, 1), Trim = "trim" (0, 0),
    Encode = "encode" (1, 1), Decode = "decode" (1, 1), Escape = "escape" (1, 1), Unescape = "unescape" (1, 1),
    // 5.7 math
    Abs = "abs" (0, 0), Ceiling = "ceiling" (0, 0), Exp = "exp" (0, 0), Floor = "floor" (0, 0), Ln = "ln" (0, 0),
    Log = "log" (1, 1), Power = "power" (1, 1), Round = "round" (0, 1), Sqrt = "sqrt" (0, 0),
    Truncate = "truncate" (0, 0),
    // 5.8 tree navigation
    Children = "children" (0, 0), Descendants = "descendants" (0, 0),
    // 5.9 utility (and N2 additions)
    Trace = "trace" (1, 2), Now = "now" (0, 0), TimeOfDay = "timeOfDay" (0, 0), Today = "today" (0, 0),
    DefineVariable = "defineVariable" (1, 2), LowBoundary = "lowBoundary" (0, 1),
    HighBoundary = "highBoundary" (0, 1), Precision = "precision" (0, 0), Comparable = "comparable" (1, 1),
    Sort = "sort" (0, 8), Coalesce = "coalesce" (0, 8),
    // N3 date/time components
    YearOf = "yearOf" (0, 0), MonthOf = "monthOf" (0, 0), DayOf = "dayOf" (0, 0), HourOf = "hourOf" (0, 0),
    MinuteOf = "minuteOf" (0, 0), SecondOf = "secondOf" (0, 0), MillisecondOf = "millisecondOf" (0, 0),
    TimezoneOffsetOf = "timezoneOffsetOf" (0, 0), DateOf = "dateOf" (0, 0), TimeOf = "timeOf" (0, 0),
    // 6.3 types, 6.5 boolean
    Is = "is" (1, 1), As = "as" (1, 1), Type = "type" (0, 0), Not = "not" (0, 0),
    // 7 aggregates
    Aggregate = "aggregate" (1, 2), Sum = "sum" (0, 0), Min = "min" (0, 0), Max = "max" (0, 0), Avg = "avg" (0, 0),
    // FHIR additions
    Extension = "extension" (1, 1), HasExtension = "hasExtension" (1, 1), HasValue = "hasValue" (0, 0), GetValue = "getValue" (0, 0),
    Resolve = "resolve" (0, 0), MemberOf = "memberOf" (1, 1), HtmlChecks = "htmlChecks" (0, 0),
    ConformsTo = "conformsTo" (1, 1), Subsumes = "subsumes" (1, 1), SubsumedBy = "subsumedBy" (1, 1),
    ElementDefinition = "elementDefinition" (0, 0), Slice = "slice" (2, 2), CheckModifiers = "checkModifiers" (1, 8),
}

impl Func {
    /// Functions whose argument is a type specifier.
    pub(crate) fn takes_type(self) -> bool {
        matches!(self, Func::Is | Func::As | Func::OfType)
    }
}

/// Evaluates `func` on `input`.
pub(crate) fn call<'a>(
    ev: &Evaluator<'_, 'a>,
    func: Func,
    input: Collection<'a>,
    has_target: bool,
    args: &'a [Ast],
    scope: Scope<'_, 'a>,
) -> Result<Collection<'a>> {
    let cx = Call { ev, args, scope, has_target };
    use Func::*;
    match func {
        Empty | Exists | All | AllTrue | AnyTrue | AllFalse | AnyFalse | SubsetOf | SupersetOf | Count
        | Distinct | IsDistinct => existence::call(&cx, func, input),
        Where | Select | Repeat | RepeatAll | OfType => filtering::call(&cx, func, input),
        Single | First | Last | Tail | Skip | Take | Intersect | Exclude => {
            subsetting::call(&cx, func, input)
        }
        Union | Combine => combining::call(&cx, func, input),
        Iif | ToBoolean | ConvertsToBoolean | ToInteger | ConvertsToInteger | ToLong | ConvertsToLong
        | ToDecimal | ConvertsToDecimal | ToStringFn | ConvertsToString | ToDate | ConvertsToDate
        | ToDateTime | ConvertsToDateTime | ToTime | ConvertsToTime | ToQuantity | ConvertsToQuantity => {
            conversion::call(&cx, func, input)
        }
        IndexOf | LastIndexOf | Substring | StartsWith | EndsWith | Contains | Upper | Lower | Replace
        | Matches | MatchesFull | ReplaceMatches | Length | ToChars | Split | Join | Trim | Encode
        | Decode | Escape | Unescape => strings::call(&cx, func, input),
        Abs | Ceiling | Exp | Floor | Ln | Log | Power | Round | Sqrt | Truncate => {
            math::call(&cx, func, input)
        }
        Children | Descendants => tree::call(&cx, func, input),
        Trace | Now | TimeOfDay | Today | DefineVariable | LowBoundary | HighBoundary | Precision
        | Comparable | Sort | Coalesce | Is | As | Type | Not => utility::call(&cx, func, input),
        Aggregate | Sum | Min | Max | Avg => aggregate::call(&cx, func, input),
        YearOf | MonthOf | DayOf | HourOf | MinuteOf | SecondOf | MillisecondOf | TimezoneOffsetOf
        | DateOf | TimeOf => datetime::call(&cx, func, input),
        Extension | HasExtension | HasValue | GetValue | Resolve | MemberOf | HtmlChecks | ConformsTo
        | Subsumes | SubsumedBy | ElementDefinition | Slice | CheckModifiers => fhir::call(&cx, func, input),
    }
}

/// One function invocation: the evaluator, the argument expressions and the calling scope.
pub(crate) struct Call<'c, 'e, 's, 'a> {
    pub(crate) ev: &'c Evaluator<'e, 'a>,
    pub(crate) args: &'a [Ast],
    pub(crate) scope: Scope<'s, 'a>,
    pub(crate) has_target: bool,
}

impl<'a> Call<'_, '_, '_, 'a> {
    /// Evaluates argument `i` in the calling scope (for value arguments like `substring(2)`).
    pub(crate) fn arg(&self, i: usize) -> Result<Collection<'a>> {
        match self.args.get(i) {
            Some(a) => self.ev.eval_scoped(a, self.scope),
            None => Ok(Vec::new()),
        }
    }

    /// Evaluates argument `i` once per input item with `$this`/`$index` bound (for `where`,
    /// `select`, `all`...).
    pub(crate) fn arg_for(&self, i: usize, this: &[Item<'a>], index: usize) -> Result<Collection<'a>> {
        self.ev.eval_scoped(&self.args[i], Scope::item(this, index))
    }

    /// Argument `i` as a single optional System value.
    pub(crate) fn arg_single(&self, i: usize) -> Result<Option<Item<'a>>> {
        let v = self.arg(i)?;
        Ok(singleton(&v, "function argument")?.and_then(to_system))
    }

    pub(crate) fn arg_string(&self, i: usize) -> Result<Option<Cow<'a, str>>> {
        match self.arg_single(i)? {
            None => Ok(None),
            Some(Item::String(s)) => Ok(Some(s)),
            Some(other) => eval_err(format!("expected a string argument, got {}", other.fhir_type())),
        }
    }

    pub(crate) fn arg_integer(&self, i: usize) -> Result<Option<i64>> {
        match self.arg_single(i)? {
            None => Ok(None),
            Some(Item::Integer(n)) => Ok(Some(n)),
            Some(other) => eval_err(format!("expected an integer argument, got {}", other.fhir_type())),
        }
    }
}

/// The input as a single string (string functions, §5.6): empty → `None`; a non-string or
/// several items is an error.
pub(crate) fn input_string<'a>(input: &[Item<'a>]) -> Result<Option<Cow<'a, str>>> {
    match singleton(input, "string function")?.map(to_system) {
        None | Some(None) => Ok(None),
        Some(Some(Item::String(s))) => Ok(Some(s)),
        Some(Some(other)) => eval_err(format!("expected a string, got {}", other.fhir_type())),
    }
}

pub(crate) fn boolean<'a>(b: bool) -> Result<Collection<'a>> {
    Ok(vec![Item::Boolean(b)])
}

pub(crate) fn string<'a>(s: impl Into<Cow<'a, str>>) -> Result<Collection<'a>> {
    Ok(vec![Item::String(s.into())])
}
