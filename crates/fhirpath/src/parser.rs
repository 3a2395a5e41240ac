//! A precedence-climbing parser for the FHIRPath N1 grammar (Appendix A; §4 "Expressions",
//! §6 "Operators" precedence table). Precedence, loosest first: `implies`; `or xor`; `and`;
//! `in contains`; `= ~ != !~`; `< <= > >=`; `|`; `is as`; `+ - &`; `* / div mod`;
//! unary `+ -`; `.` invocation and `[]` indexer. All binary operators associate to the left.

use crate::ast::{Ast, BinOp, Literal, Name, TypeSpec};
use crate::error::{Error, Result};
use crate::functions::Func;
use crate::lexer::{tokenize, Tok, Token};
use crate::quantity::{calendar_keyword, Quantity};
use crate::temporal::Temporal;
use rust_decimal::Decimal;
use std::str::FromStr;

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;
/// At most this many operator/invocation nodes: bounds the size (and so the depth) of the trees
/// that loops build without recursing (`a.b.c...`, `1+1+...`).
const MAX_NODES: usize = 2000;
/// The deepest tree accepted: evaluation recurses once per level.
const MAX_TREE_DEPTH: usize = 100;

/// Parses a whole expression. `as_filters`: `as` on a collection filters (see [`Ast::As`]).
pub(crate) fn parse_expression(src: &str, as_filters: bool) -> Result<Ast> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, pos: 0, depth: 0, nodes: 0, as_filters };
    let ast = p.expr(0)?;
    if depth(&ast) > MAX_TREE_DEPTH {
        return Err(Error::parse(0, "expression nested too deeply"));
    }
    match &p.peek().kind {
        Tok::Eof => Ok(ast),
        other => Err(Error::parse(p.peek().offset, format!("unexpected {other:?} after the expression"))),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
    as_filters: bool,
}

/// Binary operators by token: (operator, binding power).
fn binary_op(tok: &Tok) -> Option<(BinOp, u8)> {
    let op = match tok {
        Tok::Sym(s) => match *s {
            "*" => (BinOp::Mul, 10),
            "/" => (BinOp::Div, 10),
            "+" => (BinOp::Add, 9),
            "-" => (BinOp::Sub, 9),
            "&" => (BinOp::Concat, 9),
            "|" => (BinOp::Union, 7),
            "<" => (BinOp::Lt, 6),
            "<=" => (BinOp::Le, 6),
            ">" => (BinOp::Gt, 6),
            ">=" => (BinOp::Ge, 6),
            "=" => (BinOp::Eq, 5),
            "!=" => (BinOp::Ne, 5),
            "~" => (BinOp::Equiv, 5),
            "!~" => (BinOp::NotEquiv, 5),
            _ => return None,
        },
        Tok::Ident(w) => match w.as_str() {
            "div" => (BinOp::IntDiv, 10),
            "mod" => (BinOp::Mod, 10),
            "in" => (BinOp::In, 4),
            "contains" => (BinOp::Contains, 4),
            "and" => (BinOp::And, 3),
            "or" => (BinOp::Or, 2),
            "xor" => (BinOp::Xor, 2),
            "implies" => (BinOp::Implies, 1),
            _ => return None,
        },
        _ => return None,
    };
    Some(op)
}

const TYPE_OP_BP: u8 = 8;

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].kind
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, sym: &'static str) -> Result<()> {
        let t = self.next();
        if t.kind == Tok::Sym(sym) {
            Ok(())
        } else {
            Err(Error::parse(t.offset, format!("expected '{sym}', found {:?}", t.kind)))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        self.nodes += 1;
        if self.depth > MAX_DEPTH || self.nodes > MAX_NODES {
            return Err(Error::parse(self.peek().offset, "expression nested too deeply"));
        }
        Ok(())
    }

    fn count(&mut self) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Error::parse(self.peek().offset, "expression too large"));
        }
        Ok(())
    }

    fn expr(&mut self, min_bp: u8) -> Result<Ast> {
        self.enter()?;
        let mut lhs = self.unary()?;
        loop {
            let tok = &self.peek().kind;
            if let Tok::Ident(w) = tok {
                if (w == "is" || w == "as") && TYPE_OP_BP >= min_bp {
                    let is = w == "is";
                    self.count()?;
                    self.next();
                    let spec = self.type_spec()?;
                    lhs = if is {
                        Ast::Is(Box::new(lhs), spec)
                    } else {
                        Ast::As(Box::new(lhs), spec, self.as_filters)
                    };
                    continue;
                }
            }
            let Some((op, bp)) = binary_op(tok) else { break };
            if bp < min_bp {
                break;
            }
            self.count()?;
            self.next();
            let rhs = self.expr(bp + 1)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Ast> {
        match self.peek().kind {
            Tok::Sym("-") => {
                self.next();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(match inner {
                    Ast::Literal(Literal::Int(i)) => Ast::Literal(Literal::Int(-i)),
                    Ast::Literal(Literal::Dec(d)) => Ast::Literal(Literal::Dec(-d)),
                    Ast::Literal(Literal::Quantity(mut q)) => {
                        q.value = -q.value;
                        Ast::Literal(Literal::Quantity(q))
                    }
                    other => Ast::Neg(Box::new(other)),
                })
            }
            Tok::Sym("+") => {
                self.next();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(inner)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Ast> {
        let mut lhs = self.term()?;
        loop {
            match self.peek().kind {
                Tok::Sym(".") => {
                    self.count()?;
                    self.next();
                    let t = self.next();
                    let name = match t.kind {
                        Tok::Ident(n) | Tok::Delimited(n) => n,
                        other => {
                            return Err(Error::parse(
                                t.offset,
                                format!("expected a name after '.', found {other:?}"),
                            ))
                        }
                    };
                    if self.peek().kind == Tok::Sym("(") {
                        lhs = self.call(Some(lhs), &name, t.offset)?;
                    } else {
                        lhs = Ast::Member(Box::new(lhs), Name::new(name));
                    }
                }
                Tok::Sym("[") => {
                    self.count()?;
                    self.next();
                    let index = self.expr(0)?;
                    self.expect("]")?;
                    lhs = Ast::Indexer(Box::new(lhs), Box::new(index));
                }
                _ => return Ok(lhs),
            }
        }
    }

    fn term(&mut self) -> Result<Ast> {
        let t = self.next();
        let at = t.offset;
        let bad = |what: &str| Error::parse(at, format!("invalid {what} literal"));
        Ok(match t.kind {
            Tok::Number(text) => {
                let value = if text.contains('.') {
                    Literal::Dec(Decimal::from_str(&text).map_err(|_| bad("decimal"))?)
                } else {
                    match text.parse::<i64>() {
                        Ok(i) => Literal::Int(i),
                        Err(_) => Literal::Dec(Decimal::from_str(&text).map_err(|_| bad("number"))?),
                    }
                };
                self.maybe_quantity(value)?
            }
            Tok::Long(text) => Ast::Literal(Literal::Int(text.parse().map_err(|_| bad("long"))?)),
            Tok::Str(s) => Ast::Literal(Literal::Str(s)),
            Tok::Date(s) => Ast::Literal(Literal::Date(Temporal::parse_date(&s).ok_or_else(|| bad("date"))?)),
            Tok::DateTime(s) => {
                Ast::Literal(Literal::DateTime(Temporal::parse_datetime(&s).ok_or_else(|| bad("dateTime"))?))
            }
            Tok::Time(s) => Ast::Literal(Literal::Time(Temporal::parse_time(&s).ok_or_else(|| bad("time"))?)),
            Tok::Special(s) => match s.as_str() {
                "this" => Ast::This,
                "index" => Ast::Index,
                _ => Ast::Total,
            },
            Tok::Var(name) => Ast::Var(name),
            Tok::Sym("(") => {
                let inner = self.expr(0)?;
                self.expect(")")?;
                inner
            }
            Tok::Sym("{") => {
                self.expect("}")?;
                Ast::Empty
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ast::Literal(Literal::Bool(true)),
                "false" => Ast::Literal(Literal::Bool(false)),
                _ if self.peek().kind == Tok::Sym("(") => self.call(None, &name, at)?,
                "and" | "or" | "xor" | "implies" | "div" | "mod" => {
                    return Err(Error::parse(at, format!("unexpected operator '{name}'")))
                }
                _ => Ast::Ident(Name::new(name)),
            },
            Tok::Delimited(name) => {
                if self.peek().kind == Tok::Sym("(") {
                    self.call(None, &name, at)?
                } else {
                    Ast::Ident(Name::new(name))
                }
            }
            other => return Err(Error::parse(at, format!("unexpected {other:?}"))),
        })
    }

    /// A number followed by a unit string or calendar keyword is a quantity literal.
    fn maybe_quantity(&mut self, value: Literal) -> Result<Ast> {
        let unit = match self.peek_at(0) {
            Tok::Str(u) => Some(u.clone()),
            Tok::Ident(w) => calendar_keyword(w).map(str::to_string),
            _ => None,
        };
        let Some(unit) = unit else { return Ok(Ast::Literal(value)) };
        self.next();
        let v = match value {
            Literal::Int(i) => Decimal::from(i),
            Literal::Dec(d) => d,
            _ => unreachable!("numbers only"),
        };
        Ok(Ast::Literal(Literal::Quantity(Quantity::new(v, unit))))
    }

    fn call(&mut self, target: Option<Ast>, name: &str, at: usize) -> Result<Ast> {
        self.expect("(")?;
        let mut args = Vec::new();
        if self.peek().kind != Tok::Sym(")") {
            loop {
                args.push(self.expr(0)?);
                if self.peek().kind == Tok::Sym(",") {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        let func =
            Func::lookup(name).ok_or_else(|| Error::parse(at, format!("unknown function '{name}'")))?;
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(Error::parse(at, format!("wrong number of arguments for {name}()")));
        }
        if func.takes_type() {
            let spec = ast_to_type(&args[0]).ok_or_else(|| Error::parse(at, "expected a type name"))?;
            let target = Box::new(target.unwrap_or(Ast::This));
            return Ok(match func {
                Func::Is => Ast::Is(target, spec),
                Func::As => Ast::As(target, spec, self.as_filters),
                _ => Ast::Call { target: Some(target), func, args: vec![Ast::Type(spec)] },
            });
        }
        Ok(Ast::Call { target: target.map(Box::new), func, args })
    }

    fn type_spec(&mut self) -> Result<TypeSpec> {
        let t = self.next();
        let first = match t.kind {
            Tok::Ident(n) | Tok::Delimited(n) => n,
            other => return Err(Error::parse(t.offset, format!("expected a type name, found {other:?}"))),
        };
        if self.peek().kind == Tok::Sym(".") {
            if let Tok::Ident(n) | Tok::Delimited(n) = self.peek_at(1).clone() {
                self.next();
                self.next();
                return Ok(TypeSpec { namespace: Some(first), name: n });
            }
        }
        Ok(TypeSpec { namespace: None, name: first })
    }
}

/// The depth of a tree (bounded by `MAX_NODES`, so the recursion is too).
fn depth(ast: &Ast) -> usize {
    1 + match ast {
        Ast::Member(t, _) | Ast::Neg(t) | Ast::Is(t, _) | Ast::As(t, _, _) => depth(t),
        Ast::Indexer(a, b) | Ast::Binary(_, a, b) => depth(a).max(depth(b)),
        Ast::Call { target, args, .. } => {
            let t = target.as_deref().map_or(0, depth);
            args.iter().map(depth).max().unwrap_or(0).max(t)
        }
        _ => 0,
    }
}

fn ast_to_type(ast: &Ast) -> Option<TypeSpec> {
    match ast {
        Ast::Ident(n) => Some(TypeSpec { namespace: None, name: n.name.clone() }),
        Ast::Member(inner, n) => match inner.as_ref() {
            Ast::Ident(ns) => Some(TypeSpec { namespace: Some(ns.name.clone()), name: n.name.clone() }),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ast {
        parse_expression(s, false).unwrap()
    }

    fn bin(op: BinOp, l: Ast, r: Ast) -> Ast {
        Ast::Binary(op, Box::new(l), Box::new(r))
    }

    fn int(i: i64) -> Ast {
        Ast::Literal(Literal::Int(i))
    }

    #[test]
    fn precedence_of_arithmetic_and_logic() {
        assert_eq!(p("1+2*3"), bin(BinOp::Add, int(1), bin(BinOp::Mul, int(2), int(3))));
        assert_eq!(p("1-2-3"), bin(BinOp::Sub, bin(BinOp::Sub, int(1), int(2)), int(3)));
        let t = Ast::Literal(Literal::Bool(true));
        assert_eq!(
            p("true or true and true"),
            bin(BinOp::Or, t.clone(), bin(BinOp::And, t.clone(), t.clone()))
        );
        assert!(matches!(p("a implies b or c"), Ast::Binary(BinOp::Implies, _, _)));
    }

    #[test]
    fn type_operators_bind_tighter_than_union_and_comparison() {
        // 1 > (2 is Boolean)
        match p("1 > 2 is Boolean") {
            Ast::Binary(BinOp::Gt, _, r) => assert!(matches!(*r, Ast::Is(..))),
            other => panic!("{other:?}"),
        }
        match p("1 | 1 is Integer") {
            Ast::Binary(BinOp::Union, _, r) => assert!(matches!(*r, Ast::Is(..))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn polarity_applies_after_invocation() {
        assert!(matches!(p("-1.convertsToInteger()"), Ast::Neg(_)));
        assert_eq!(p("-1"), int(-1));
        assert!(matches!(p("-a.count() = -5"), Ast::Binary(BinOp::Eq, _, _)));
    }

    #[test]
    fn literals() {
        assert!(matches!(p("4 days"), Ast::Literal(Literal::Quantity(q)) if q.unit() == "day"));
        assert!(matches!(p("10 'mg'"), Ast::Literal(Literal::Quantity(q)) if q.unit() == "mg"));
        assert!(matches!(p("1.0"), Ast::Literal(Literal::Dec(d)) if d.scale() == 1));
        assert!(matches!(p("@2015-02-04T14:34"), Ast::Literal(Literal::DateTime(_))));
        assert!(matches!(p("{}"), Ast::Empty));
        assert!(matches!(p("`given`"), Ast::Ident(n) if n.name == "given"));
    }

    #[test]
    fn type_specifiers_and_errors() {
        assert!(
            matches!(p("x.ofType(FHIR.Patient)"), Ast::Call { args, .. } if args[0] == Ast::Type(TypeSpec { namespace: Some("FHIR".into()), name: "Patient".into() }))
        );
        assert!(matches!(p("x.as(Quantity).unit"), Ast::Member(..)));
        assert!(parse_expression("2 + 2 /", false).is_err());
        assert!(parse_expression("@T14:34:28Z", false).is_err());
        assert!(parse_expression("name.nosuchfunction()", false).is_err());
        assert!(parse_expression("(((1)", false).is_err());
    }
}
