//! The tree-walking evaluator (FHIRPath N1 §3 "Navigation model", §4 "Expressions", §6
//! "Operations"). Every node of the compiled [`Ast`] maps a scope (`$this`, `$index`, `$total`)
//! to a collection; items borrow from the input JSON and from the compiled expression.

pub(crate) mod arith;
pub(crate) mod compare;
pub(crate) mod equality;
pub(crate) mod logic;
pub(crate) mod navigate;
#[cfg(test)]
mod tests;
pub(crate) mod types;
pub(crate) mod values;

use crate::ast::{Ast, BinOp, Literal};
use crate::error::{eval_err, Result};
use crate::item::{Collection, Item, Node};
use crate::model::Model;
use crate::resolver::{Resolver, Terminology};
use crate::temporal::Temporal;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

/// Everything fixed for one evaluation.
pub(crate) struct Env<'e, 'a> {
    pub(crate) root: Option<Item<'a>>,
    /// `%context` when it is not the resource.
    pub(crate) context: Option<&'e [Item<'a>]>,
    pub(crate) vars: &'e HashMap<String, Collection<'a>>,
    pub(crate) defined: RefCell<Vec<(String, Collection<'a>)>>,
    pub(crate) model: &'static dyn Model,
    pub(crate) resolver: &'a dyn Resolver<'a>,
    pub(crate) terminology: Option<&'a dyn Terminology>,
    pub(crate) trace: Option<&'a crate::TraceHook<'a>>,
    pub(crate) now: OnceCell<Temporal>,
}

/// The focus of an expression: `$this` (the input collection), `$index`, `$total`.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'s, 'a> {
    pub(crate) this: &'s [Item<'a>],
    pub(crate) index: Option<usize>,
    pub(crate) total: Option<&'s [Item<'a>]>,
}

impl<'s, 'a> Scope<'s, 'a> {
    pub(crate) fn item(this: &'s [Item<'a>], index: usize) -> Self {
        Scope { this, index: Some(index), total: None }
    }
}

pub(crate) struct Evaluator<'e, 'a> {
    pub(crate) env: &'e Env<'e, 'a>,
}

/// Requires at most one item (§4.5 "singleton evaluation of collections").
pub(crate) fn singleton<'c, 'a>(c: &'c [Item<'a>], what: &str) -> Result<Option<&'c Item<'a>>> {
    match c {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => eval_err(format!("{what} expects a single item, got {}", c.len())),
    }
}

impl<'e, 'a> Evaluator<'e, 'a> {
    pub(crate) fn model(&self) -> &'static dyn Model {
        self.env.model
    }

    pub(crate) fn now(&self) -> Temporal {
        *self.env.now.get_or_init(Temporal::now)
    }

    /// Evaluates a sub-expression that is not part of the current invocation chain (an operand,
    /// a function argument): variables it defines with `defineVariable` end with it.
    pub(crate) fn eval_scoped(&self, ast: &'a Ast, scope: Scope<'_, 'a>) -> Result<Collection<'a>> {
        let mark = self.env.defined.borrow().len();
        let r = self.eval(ast, scope);
        self.env.defined.borrow_mut().truncate(mark);
        r
    }

    /// Whether `%name` is already bound (`defineVariable` may not rebind a name).
    pub(crate) fn variable_exists(&self, name: &str) -> bool {
        matches!(name, "context" | "resource" | "rootResource" | "ucum" | "sct" | "loinc")
            || self.env.vars.contains_key(name)
            || self.env.defined.borrow().iter().any(|(n, _)| n == name)
    }

    pub(crate) fn eval(&self, ast: &'a Ast, scope: Scope<'_, 'a>) -> Result<Collection<'a>> {
        match ast {
            Ast::Empty => Ok(Vec::new()),
            Ast::Literal(l) => Ok(vec![literal(l)]),
            Ast::This => Ok(scope.this.to_vec()),
            Ast::Index => Ok(scope.index.map(|i| Item::Integer(i as i64)).into_iter().collect()),
            Ast::Total => Ok(scope.total.map(<[Item<'a>]>::to_vec).unwrap_or_default()),
            Ast::Var(name) => self.variable(name),
            Ast::Ident(name) => {
                let mut out = Vec::new();
                for item in scope.this {
                    if let Item::Node(n) = item {
                        if name.name.starts_with(|c: char| c.is_ascii_uppercase())
                            && self.node_is_named_type(n, &name.name)
                        {
                            out.push(item.clone());
                            continue;
                        }
                    }
                    navigate::member(self.model(), item, name, &mut out);
                }
                Ok(out)
            }
            Ast::Member(target, name) => {
                let input = self.eval(target, scope)?;
                let mut out = Vec::with_capacity(input.len());
                for item in &input {
                    navigate::member(self.model(), item, name, &mut out);
                }
                Ok(out)
            }
            Ast::Call { target, func, args } => {
                let input = match target {
                    Some(t) => self.eval(t, scope)?,
                    None => scope.this.to_vec(),
                };
                crate::functions::call(self, *func, input, target.is_some(), args, scope)
            }
            Ast::Indexer(target, index) => {
                let input = self.eval(target, scope)?;
                let idx = self.eval_scoped(index, scope)?;
                let Some(i) = singleton(&idx, "indexer")? else { return Ok(Vec::new()) };
                let i = match values::to_system(i) {
                    Some(Item::Integer(i)) => i,
                    _ => return eval_err("an index must be an integer"),
                };
                Ok(usize::try_from(i).ok().and_then(|i| input.into_iter().nth(i)).into_iter().collect())
            }
            Ast::Neg(inner) => {
                let v = self.eval(inner, scope)?;
                arith::negate(&v)
            }
            Ast::Binary(op, l, r) => self.binary(*op, l, r, scope),
            Ast::Is(inner, spec) => {
                let v = self.eval(inner, scope)?;
                let ty = types::resolve(self.model(), spec)?;
                match singleton(&v, "is")? {
                    None => Ok(Vec::new()),
                    Some(item) => Ok(vec![Item::Boolean(types::matches(self.model(), item, &ty))]),
                }
            }
            Ast::As(inner, spec, filter) => {
                let v = self.eval(inner, scope)?;
                let ty = types::resolve(self.model(), spec)?;
                if *filter {
                    return Ok(v.into_iter().filter(|i| types::matches(self.model(), i, &ty)).collect());
                }
                match singleton(&v, "as")? {
                    Some(item) if types::matches(self.model(), item, &ty) => Ok(vec![item.clone()]),
                    _ => Ok(Vec::new()),
                }
            }
            Ast::Type(_) => eval_err("a type name is not a value"),
        }
    }

    /// Whether a path's first identifier names the type of the input node (`Patient.name`).
    fn node_is_named_type(&self, n: &Node<'a>, name: &str) -> bool {
        let ty = n.fhir_type();
        !ty.is_empty() && (ty == name || (self.model().is_resource(ty) && self.model().is_subtype(ty, name)))
    }

    fn variable(&self, name: &str) -> Result<Collection<'a>> {
        if let Some((_, v)) = self.env.defined.borrow().iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.env.vars.get(name) {
            return Ok(v.clone());
        }
        let s = |s: String| Ok(vec![Item::String(Cow::Owned(s))]);
        match name {
            "context" => Ok(match self.env.context {
                Some(c) => c.to_vec(),
                None => self.env.root.clone().into_iter().collect(),
            }),
            "resource" | "rootResource" => Ok(self.env.root.clone().into_iter().collect()),
            "ucum" => s("http://unitsofmeasure.org".into()),
            "sct" => s("http://snomed.info/sct".into()),
            "loinc" => s("http://loinc.org".into()),
            _ => {
                if let Some(vs) = name.strip_prefix("vs-") {
                    s(format!("http://hl7.org/fhir/ValueSet/{vs}"))
                } else if let Some(ext) = name.strip_prefix("ext-") {
                    s(format!("http://hl7.org/fhir/StructureDefinition/{ext}"))
                } else {
                    eval_err(format!("undefined variable %{name}"))
                }
            }
        }
    }

    fn binary(&self, op: BinOp, l: &'a Ast, r: &'a Ast, scope: Scope<'_, 'a>) -> Result<Collection<'a>> {
        match op {
            BinOp::And | BinOp::Or | BinOp::Implies => return logic::short_circuit(self, op, l, r, scope),
            _ => {}
        }
        let a = self.eval_scoped(l, scope)?;
        let b = self.eval_scoped(r, scope)?;
        match op {
            BinOp::Union => Ok(equality::union(a, b)),
            BinOp::Eq => Ok(bool_opt(equality::collections_equal(&a, &b)?)),
            BinOp::Ne => Ok(bool_opt(equality::collections_equal(&a, &b)?.map(|x| !x))),
            BinOp::Equiv => Ok(vec![Item::Boolean(equality::collections_equivalent(&a, &b))]),
            BinOp::NotEquiv => Ok(vec![Item::Boolean(!equality::collections_equivalent(&a, &b))]),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare::compare_op(op, &a, &b),
            BinOp::In => equality::membership(&a, &b),
            BinOp::Contains => equality::membership(&b, &a),
            BinOp::Xor => logic::xor(&a, &b),
            _ => arith::binary(op, &a, &b),
        }
    }
}

pub(crate) fn bool_opt<'a>(b: Option<bool>) -> Collection<'a> {
    b.map(Item::Boolean).into_iter().collect()
}

fn literal(l: &Literal) -> Item<'_> {
    match l {
        Literal::Bool(b) => Item::Boolean(*b),
        Literal::Str(s) => Item::String(Cow::Borrowed(s)),
        Literal::Int(i) => Item::Integer(*i),
        Literal::Dec(d) => Item::Decimal(*d),
        Literal::Date(t) => Item::Date(*t),
        Literal::DateTime(t) => Item::DateTime(*t),
        Literal::Time(t) => Item::Time(*t),
        Literal::Quantity(q) => Item::Quantity(crate::quantity::Quantity {
            value: q.value,
            unit: Cow::Borrowed(q.unit()),
            dual: false,
        }),
    }
}

/// Turns a JSON value supplied as a variable into items (arrays become several items).
pub(crate) fn json_to_items(v: &Value) -> Collection<'_> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().flat_map(json_to_items).collect(),
        Value::Bool(b) => vec![Item::Boolean(*b)],
        Value::Number(_) => values::number(v).into_iter().collect(),
        Value::String(s) => vec![Item::String(Cow::Borrowed(s))],
        Value::Object(_) => vec![Item::Node(Node::resource(v))],
    }
}
