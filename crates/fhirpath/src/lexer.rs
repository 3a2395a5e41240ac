//! Lexical grammar of FHIRPath N1 (§ Appendix A, "Formal Specification"; §4.1 "Literals";
//! §3 "Comments"): identifiers, delimited identifiers, string/number/date/time literals,
//! `$`- and `%`-prefixed names, operators and punctuation. Whitespace and comments are skipped.

use crate::error::{Error, Result};

/// One token with its starting byte offset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A plain identifier (keywords like `and` are plain identifiers; the parser decides).
    Ident(String),
    /// A back-quoted identifier: never a keyword.
    Delimited(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal as written (digits, optional fraction).
    Number(String),
    /// A long literal (`123L`, FHIRPath N2), digits only.
    Long(String),
    /// `@YYYY[-MM[-DD]]` (text after the `@`).
    Date(String),
    /// `@YYYY...T[hh[:mm[:ss[.fff]]]][tz]` (text after the `@`).
    DateTime(String),
    /// `@Thh[:mm[:ss[.fff]]]` (text after the `@T`).
    Time(String),
    /// `%name`, `%`name``, `%'name'`.
    Var(String),
    /// `$this`, `$index`, `$total`.
    Special(String),
    /// Punctuation and symbolic operators.
    Sym(&'static str),
    Eof,
}

const SYMBOLS: [&str; 22] = [
    "<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", "{", "}", ",", "+", "-", "*", "/", "&", "|", "=", "~",
    "<", ">",
];

/// Splits `src` into tokens, ending with `Tok::Eof`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>> {
    let mut lx = Lexer { src, bytes: src.as_bytes(), pos: 0, out: Vec::new() };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: Tok, offset: usize) {
        self.out.push(Token { kind, offset });
    }

    fn run(&mut self) -> Result<()> {
        loop {
            self.skip_trivia()?;
            let start = self.pos;
            let c = self.peek(0);
            if self.pos >= self.bytes.len() {
                self.push(Tok::Eof, start);
                return Ok(());
            }
            match c {
                b'\'' => {
                    let s = self.quoted(b'\'')?;
                    self.push(Tok::Str(s), start);
                }
                b'`' => {
                    let s = self.quoted(b'`')?;
                    self.push(Tok::Delimited(s), start);
                }
                b'0'..=b'9' => self.number(),
                b'@' => self.datetime()?,
                b'%' => {
                    self.pos += 1;
                    let name = match self.peek(0) {
                        b'`' => self.quoted(b'`')?,
                        b'\'' => self.quoted(b'\'')?,
                        c if is_ident_start(c) => self.ident(),
                        _ => return Err(Error::parse(start, "expected a variable name after '%'")),
                    };
                    self.push(Tok::Var(name), start);
                }
                b'$' => {
                    self.pos += 1;
                    let name = self.ident();
                    if !matches!(name.as_str(), "this" | "index" | "total") {
                        return Err(Error::parse(start, format!("unknown special variable ${name}")));
                    }
                    self.push(Tok::Special(name), start);
                }
                c if is_ident_start(c) => {
                    let name = self.ident();
                    self.push(Tok::Ident(name), start);
                }
                _ => {
                    let rest = &self.src[self.pos..];
                    match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
                        Some(sym) => {
                            self.pos += sym.len();
                            self.push(Tok::Sym(sym), start);
                        }
                        None => {
                            let ch = rest.chars().next().unwrap_or('?');
                            return Err(Error::parse(start, format!("unexpected character {ch:?}")));
                        }
                    }
                }
            }
        }
    }

    fn skip_trivia(&mut self) -> Result<()> {
        loop {
            let c = self.peek(0);
            if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' || c == 0x0c {
                self.pos += 1;
            } else if c == b'/' && self.peek(1) == b'/' {
                while self.pos < self.bytes.len() && self.peek(0) != b'\n' {
                    self.pos += 1;
                }
            } else if c == b'/' && self.peek(1) == b'*' {
                let start = self.pos;
                match self.src[self.pos + 2..].find("*/") {
                    Some(end) => self.pos += 2 + end + 2,
                    None => return Err(Error::parse(start, "unterminated comment")),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while is_ident_char(self.peek(0)) {
            self.pos += 1;
        }
        self.src[start..self.pos].to_string()
    }

    /// A `'...'` or `` `...` `` literal with FHIRPath escapes.
    fn quoted(&mut self, quote: u8) -> Result<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(ch) = self.src[self.pos..].chars().next() else {
                return Err(Error::parse(start, "unterminated string or identifier"));
            };
            self.pos += ch.len_utf8();
            if ch as u32 == quote as u32 {
                return Ok(out);
            }
            if ch != '\\' {
                out.push(ch);
                continue;
            }
            let esc = self.peek(0);
            self.pos += 1;
            match esc {
                b'\'' => out.push('\''),
                b'"' => out.push('"'),
                b'`' => out.push('`'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hex = self.src.get(self.pos..self.pos + 4).unwrap_or("");
                    let Some(code) = u32::from_str_radix(hex, 16)
                        .ok()
                        .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    else {
                        // A malformed \u escape stands for a plain `u`, as fhirpath.js reads it.
                        out.push('u');
                        continue;
                    };
                    self.pos += 4;
                    // Surrogate pairs written as two \u escapes.
                    if (0xD800..0xDC00).contains(&code) && self.src[self.pos..].starts_with("\\u") {
                        let lo = self.src.get(self.pos + 2..self.pos + 6).unwrap_or("");
                        if let Ok(low) = u32::from_str_radix(lo, 16) {
                            if (0xDC00..0xE000).contains(&low) {
                                self.pos += 6;
                                let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                continue;
                            }
                        }
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                _ => return Err(Error::parse(self.pos - 2, "unknown escape sequence")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) {
        let start = self.pos;
        self.digits();
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            self.digits();
        } else if self.peek(0) == b'L' && !is_ident_char(self.peek(1)) {
            let text = self.src[start..self.pos].to_string();
            self.pos += 1;
            self.push(Tok::Long(text), start);
            return;
        }
        let text = self.src[start..self.pos].to_string();
        self.push(Tok::Number(text), start);
    }

    /// Exactly `n` digits, or an error.
    fn fixed_digits(&mut self, n: usize, what: &str) -> Result<()> {
        let start = self.pos;
        if self.digits() != n {
            return Err(Error::parse(start, format!("expected {n} digits for {what}")));
        }
        Ok(())
    }

    /// `hh[:mm[:ss[.fff]]]`
    fn time_part(&mut self) -> Result<()> {
        self.fixed_digits(2, "hour")?;
        if self.peek(0) == b':' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            self.fixed_digits(2, "minute")?;
            if self.peek(0) == b':' && self.peek(1).is_ascii_digit() {
                self.pos += 1;
                self.fixed_digits(2, "second")?;
                if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
                    self.pos += 1;
                    self.digits();
                }
            }
        }
        Ok(())
    }

    fn datetime(&mut self) -> Result<()> {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0) == b'T' {
            self.pos += 1;
            let body = self.pos;
            self.time_part()?;
            let text = self.src[body..self.pos].to_string();
            self.push(Tok::Time(text), start);
            return Ok(());
        }
        let body = self.pos;
        self.fixed_digits(4, "year")?;
        if self.peek(0) == b'-' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            self.fixed_digits(2, "month")?;
            if self.peek(0) == b'-' && self.peek(1).is_ascii_digit() {
                self.pos += 1;
                self.fixed_digits(2, "day")?;
            }
        }
        if self.peek(0) != b'T' {
            let text = self.src[body..self.pos].to_string();
            self.push(Tok::Date(text), start);
            return Ok(());
        }
        self.pos += 1;
        if self.peek(0).is_ascii_digit() {
            self.time_part()?;
            match self.peek(0) {
                b'Z' => self.pos += 1,
                b'+' | b'-' if self.peek(1).is_ascii_digit() => {
                    self.pos += 1;
                    self.fixed_digits(2, "zone hour")?;
                    if self.peek(0) != b':' {
                        return Err(Error::parse(self.pos, "expected ':' in time zone"));
                    }
                    self.pos += 1;
                    self.fixed_digits(2, "zone minute")?;
                }
                _ => {}
            }
        }
        let text = self.src[body..self.pos].to_string();
        self.push(Tok::DateTime(text), start);
        Ok(())
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn escapes_in_strings() {
        assert_eq!(kinds(r"'a\'b\u0065\n'")[0], Tok::Str("a'be\n".into()));
        assert_eq!(kinds(r"`giv\`en`")[0], Tok::Delimited("giv`en".into()));
    }

    #[test]
    fn dates_times_and_numbers() {
        assert_eq!(
            kinds("@2015-02-04T14:34:28.123+10:00")[0],
            Tok::DateTime("2015-02-04T14:34:28.123+10:00".into())
        );
        assert_eq!(kinds("@2015T")[0], Tok::DateTime("2015T".into()));
        assert_eq!(kinds("@2015-02")[0], Tok::Date("2015-02".into()));
        assert_eq!(kinds("@T14:34")[0], Tok::Time("14:34".into()));
        assert_eq!(kinds("1.5")[0], Tok::Number("1.5".into()));
        assert_eq!(kinds("1.is")[..3], [Tok::Number("1".into()), Tok::Sym("."), Tok::Ident("is".into())]);
        assert_eq!(kinds("2L")[0], Tok::Long("2".into()));
    }

    #[test]
    fn comments_and_operators() {
        assert_eq!(kinds("1 // x\n<= /* y */ 2").len(), 4);
        assert!(tokenize("1 /* open").is_err());
        assert_eq!(kinds("a!~b")[1], Tok::Sym("!~"));
        assert_eq!(kinds("a>=b")[1], Tok::Sym(">="));
        assert_eq!(kinds("a>b")[1], Tok::Sym(">"));
    }
}
