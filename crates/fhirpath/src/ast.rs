//! The compiled form of an expression (FHIRPath N1 Appendix A grammar, after precedence has been
//! resolved). Function names are resolved to [`Func`] when parsing, so evaluation never looks
//! names up.

use crate::functions::Func;
use crate::quantity::Quantity;
use crate::temporal::Temporal;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    /// `{}`
    Empty,
    Literal(Literal),
    /// `$this`
    This,
    /// `$index`
    Index,
    /// `$total`
    Total,
    /// `%name`
    Var(String),
    /// A bare identifier at the start of a path: a member of the input, or the input itself
    /// when it names the input's type (`Patient.name` on a Patient).
    Ident(Name),
    /// `target.name`
    Member(Box<Ast>, Name),
    /// `target.f(args)`, or `f(args)` on the input when `target` is `None`.
    Call {
        target: Option<Box<Ast>>,
        func: Func,
        args: Vec<Ast>,
    },
    /// `target[index]`
    Indexer(Box<Ast>, Box<Ast>),
    /// Unary minus (unary plus is dropped when parsing).
    Neg(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `expr is Type`
    Is(Box<Ast>, TypeSpec),
    /// `expr as Type`; with `filter` set (the R4 SearchParameter dialect) a collection is
    /// filtered like `ofType` instead of being an error.
    As(Box<Ast>, TypeSpec, bool),
    /// A type specifier used as a function argument (`ofType(FHIR.Patient)`).
    Type(TypeSpec),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Bool(bool),
    Str(String),
    Int(i64),
    Dec(Decimal),
    Date(Temporal),
    DateTime(Temporal),
    Time(Temporal),
    Quantity(Quantity<'static>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// An element name, with the `_name` spelling of its primitive-extension sibling precomputed
/// so navigation does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) name: String,
    pub(crate) underscored: String,
}

impl Name {
    pub(crate) fn new(name: String) -> Self {
        let underscored = format!("_{name}");
        Name { name, underscored }
    }
}

/// A type specifier: `Patient`, `FHIR.Patient`, `System.Integer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeSpec {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}
