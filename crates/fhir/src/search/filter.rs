//! `_filter` (R4 §3.1.1.5.11, the "_filter" parameter): an expression such as
//! `name co "pet" and (birthdate ge 1980-01-01 or gender eq other)`, read into the ordinary
//! search parameters each comparison stands for (`name:contains=pet`,
//! `birthdate=ge1980-01-01`, ...) joined by `and`, `or` and `not`, so that it is evaluated
//! through the index and under the access filter like any search.
//!
//! # What is taken
//!
//! Comparisons joined by `and`, `or` and `not (...)`, in parentheses or not; chained names
//! (`subject.name eq "x"`). Operators: `eq ne co sw gt lt ge le sa eb ap` (as the parameter's
//! type allows), `pr` (present: `:missing`), `ss sb` (`:above`, `:below`), `in ni` (`:in`,
//! `:not-in`). An `or` of comparisons of one parameter with one operator becomes one parameter
//! with a list of values (`status=final,amended`), which its index answers in one lookup; any
//! other `or`, and `not`, become groups of criteria (`Criterion::Any`, `Criterion::Not`). What
//! no parameter can say — `ew`, `po`, `re`, a filter inside a path (`a[b eq c].d`) — is refused
//! with the reason: answering part of a filter would return what it excludes.
use lantern_r4::SearchParamType;

/// A `_filter` expression read: comparisons as search parameters (name with modifier, value)
/// joined by `and`, `or` and `not`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Param(String, String),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

/// Reads `expr` as a filter on `rtype` (`None`: a search across types, where names are taken as
/// they are), or says why it cannot be taken.
pub fn read(rtype: Option<&str>, expr: &str) -> Result<Filter, String> {
    let tokens = lex(expr)?;
    let mut p = Parser { tokens, at: 0 };
    let tree = p.or_expr()?;
    if p.at != p.tokens.len() {
        return Err(format!("unexpected '{}' in _filter", p.tokens[p.at].text()));
    }
    filter_of(rtype, &tree)
}

/// The parameters of a filter that is only comparisons joined by `and` (and `or`s within one
/// parameter and operator), else `None`: what ordinary parameters can carry, for a caller that
/// cannot take groups.
pub fn as_parameters(f: &Filter) -> Option<Vec<(String, String)>> {
    match f {
        Filter::Param(k, v) => Some(vec![(k.clone(), v.clone())]),
        Filter::And(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(as_parameters(p)?);
            }
            Some(out)
        }
        Filter::Or(_) | Filter::Not(_) => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Str(s) => format!("\"{s}\""),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
        }
    }
}

/// Words (names, operators, unquoted values), JSON-style quoted strings and parentheses.
fn lex(expr: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                out.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted value in _filter is not closed".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(o) => {
                                s.push('\\');
                                s.push(o);
                            }
                            None => return Err("a quoted value in _filter is not closed".into()),
                        },
                        Some(o) => s.push(o),
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Node {
    Compare { path: String, op: String, value: String },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// How deep parentheses may nest: real filters are shallow, and recursion must stay bounded.
const MAX_NESTING: usize = 32;

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or_expr(&mut self) -> Result<Node, String> {
        self.or_at(0)
    }

    fn or_at(&mut self, depth: usize) -> Result<Node, String> {
        let mut parts = vec![self.and_at(depth)?];
        while self.peek_word("or") {
            self.at += 1;
            parts.push(self.and_at(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Node::Or(parts) })
    }

    fn and_at(&mut self, depth: usize) -> Result<Node, String> {
        let mut parts = vec![self.term(depth)?];
        while self.peek_word("and") {
            self.at += 1;
            parts.push(self.term(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) })
    }

    fn term(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_NESTING {
            return Err(format!("_filter nests parentheses more than {MAX_NESTING} deep"));
        }
        if self.peek_word("not") && matches!(self.tokens.get(self.at + 1), Some(Token::Open)) {
            self.at += 1;
            return Ok(Node::Not(Box::new(self.term(depth + 1)?)));
        }
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or_at(depth + 1)?;
                match self.tokens.get(self.at) {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("a parenthesis in _filter is not closed".into()),
                }
            }
            Some(Token::Word(path)) => {
                self.at += 1;
                if path.contains('[') {
                    return Err(format!("a filter inside a path ('{path}') is not supported in _filter"));
                }
                let op = match self.tokens.get(self.at) {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(format!("'{path}' in _filter needs an operator (eq, co, gt...)")),
                };
                self.at += 1;
                let value = match self.tokens.get(self.at) {
                    Some(Token::Word(v)) | Some(Token::Str(v)) => v.clone(),
                    _ => return Err(format!("'{path} {op}' in _filter needs a value")),
                };
                self.at += 1;
                Ok(Node::Compare { path, op, value })
            }
            Some(t) => Err(format!("unexpected '{}' in _filter", t.text())),
            None => Err("_filter ends where a comparison was expected".into()),
        }
    }
}

fn filter_of(rtype: Option<&str>, node: &Node) -> Result<Filter, String> {
    Ok(match node {
        Node::Compare { path, op, value } => {
            let (k, v) = parameter(rtype, path, op, value)?;
            Filter::Param(k, v)
        }
        Node::And(parts) => Filter::And(parts.iter().map(|p| filter_of(rtype, p)).collect::<Result<_, _>>()?),
        Node::Not(inner) => Filter::Not(Box::new(filter_of(rtype, inner)?)),
        Node::Or(parts) => {
            let parts: Vec<Filter> = parts.iter().map(|p| filter_of(rtype, p)).collect::<Result<_, _>>()?;
            // One parameter and operator throughout: one parameter with a list of values.
            let same = match parts.first() {
                Some(Filter::Param(k, _)) => {
                    parts.iter().all(|p| matches!(p, Filter::Param(k2, _) if k2 == k))
                }
                _ => false,
            };
            match (same, parts.first()) {
                (true, Some(Filter::Param(k, _))) => {
                    let values: Vec<&str> = parts
                        .iter()
                        .filter_map(|p| match p {
                            Filter::Param(_, v) => Some(v.as_str()),
                            _ => None,
                        })
                        .collect();
                    Filter::Param(k.clone(), values.join(","))
                }
                _ => Filter::Or(parts),
            }
        }
    })
}

/// One comparison as a search parameter (name with modifier, value).
fn parameter(rtype: Option<&str>, path: &str, op: &str, value: &str) -> Result<(String, String), String> {
    let first = path.split('.').next().unwrap_or(path);
    let chained = path.contains('.');
    let kind = rtype.and_then(|t| lantern_r4::search_param(t, first)).map(|d| d.kind);
    if rtype.is_some() && kind.is_none() && !first.starts_with('_') {
        return Err(format!("{} has no search parameter '{first}'", rtype.unwrap_or_default()));
    }
    // A chain's last link is on another type: its type is not known here, so only what reads
    // the same for every type is taken.
    let kind = if chained { None } else { kind };
    // Commas separate alternatives in a search parameter's value: one inside a value is escaped.
    let v = value.replace('\\', "\\\\").replace(',', "\\,");
    use SearchParamType as T;
    let ordered = matches!(kind, Some(T::Date | T::Number | T::Quantity));
    let param = |modifier: &str| {
        if modifier.is_empty() {
            path.to_string()
        } else {
            format!("{path}:{modifier}")
        }
    };
    Ok(match op {
        "eq" => match kind {
            Some(T::String) => (param("exact"), v),
            _ if ordered => (param(""), format!("eq{v}")),
            _ => (param(""), v),
        },
        "ne" => match kind {
            _ if ordered => (param(""), format!("ne{v}")),
            Some(T::Token) => (param("not"), v),
            _ => return Err(format!("'ne' on '{path}' is not supported in _filter")),
        },
        "co" => match kind {
            Some(T::String) | None if !chained => (param("contains"), v),
            _ => return Err(format!("'co' on '{path}' is not supported in _filter")),
        },
        "sw" => match kind {
            Some(T::String) | None => (param(""), v),
            _ => return Err(format!("'sw' on '{path}' is not supported in _filter")),
        },
        "gt" | "lt" | "ge" | "le" | "sa" | "eb" | "ap" if ordered => (param(""), format!("{op}{v}")),
        "pr" => match value {
            "true" => (param("missing"), "false".into()),
            "false" => (param("missing"), "true".into()),
            _ => return Err(format!("'pr' on '{path}' takes true or false, not '{value}'")),
        },
        "ss" if matches!(kind, Some(T::Token | T::Uri)) => (param("above"), v),
        "sb" if matches!(kind, Some(T::Token | T::Uri)) => (param("below"), v),
        "in" if matches!(kind, Some(T::Token)) => (param("in"), v),
        "ni" if matches!(kind, Some(T::Token)) => (param("not-in"), v),
        "ew" | "po" | "re" => return Err(format!("_filter's '{op}' is not supported")),
        _ => return Err(format!("'{op}' is not an operator _filter allows on '{path}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No input makes the translator panic (nor recurse without bound).
        #[test]
        fn never_panics(s in "[()\"a-z_. 0-9|,-]{0,80}") {
            let _ = read(Some("Patient"), &s);
            let _ = read(None, &s);
        }
    }

    fn t(expr: &str) -> Vec<(String, String)> {
        let f = read(Some("Patient"), expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        as_parameters(&f).unwrap_or_else(|| panic!("{expr}: groups"))
    }

    fn translate(rtype: Option<&str>, expr: &str) -> Result<Vec<(String, String)>, String> {
        read(rtype, expr).map(|f| as_parameters(&f).expect("no groups"))
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn comparisons_become_parameters() {
        assert_eq!(
            t(r#"name co "pet" and birthdate ge 1980-01-01"#),
            pairs(&[("name:contains", "pet"), ("birthdate", "ge1980-01-01")])
        );
        assert_eq!(t(r#"family eq "O'Brien""#), pairs(&[("family:exact", "O'Brien")]));
        assert_eq!(t("gender eq female"), pairs(&[("gender", "female")]));
        assert_eq!(t("gender ne female"), pairs(&[("gender:not", "female")]));
        assert_eq!(t("name sw Pet"), pairs(&[("name", "Pet")]));
        assert_eq!(t("identifier eq http://x|1"), pairs(&[("identifier", "http://x|1")]));
        assert_eq!(t("birthdate pr true"), pairs(&[("birthdate:missing", "false")]));
        assert_eq!(t("general-practitioner.name eq smith"), pairs(&[("general-practitioner.name", "smith")]));
        assert_eq!(
            t("(gender eq male or gender eq other) AND (active eq true)"),
            pairs(&[("gender", "male,other"), ("active", "true")])
        );
        assert_eq!(t(r#"name eq "a,b""#), pairs(&[("name:exact", "a\\,b")]));
        let obs =
            translate(Some("Observation"), "value-quantity gt 5.4|http://unitsofmeasure.org|mg").unwrap();
        assert_eq!(obs, pairs(&[("value-quantity", "gt5.4|http://unitsofmeasure.org|mg")]));
        let code = translate(Some("Observation"), "code in http://hl7.org/fhir/ValueSet/x").unwrap();
        assert_eq!(code, pairs(&[("code:in", "http://hl7.org/fhir/ValueSet/x")]));
    }

    #[test]
    fn or_across_parameters_and_not_are_groups() {
        let f = read(Some("Patient"), "gender eq male or (birthdate gt 2000 and not (name co x))").unwrap();
        let p = |k: &str, v: &str| Filter::Param(k.into(), v.into());
        assert_eq!(
            f,
            Filter::Or(vec![
                p("gender", "male"),
                Filter::And(vec![p("birthdate", "gt2000"), Filter::Not(Box::new(p("name:contains", "x")))])
            ])
        );
        assert_eq!(as_parameters(&f), None);
    }

    #[test]
    fn what_parameters_cannot_say_is_refused_with_the_reason() {
        let no = |e: &str| read(Some("Patient"), e).unwrap_err();
        assert!(no("name ew son").contains("'ew'"));
        assert!(no("nonsense eq 1").contains("no search parameter 'nonsense'"));
        assert!(no("gender gt male").contains("not an operator"));
        assert!(no("name[use eq official].family eq x").contains("inside a path"));
        assert!(no("(gender eq male").contains("not closed"));
        assert!(no(r#"name eq "open"#).contains("not closed"));
        assert!(no("gender eq").contains("needs a value"));
        assert!(no("gender").contains("needs an operator"));
        assert!(no("gender eq male )").contains("unexpected ')'"));
        let deep = format!("{}gender eq male{}", "(".repeat(100), ")".repeat(100));
        assert!(no(&deep).contains("nests"));
    }
}
