//! FHIRPath N1 §5.6 "String manipulation" (indexOf, substring, startsWith, endsWith, contains,
//! upper, lower, replace, matches, replaceMatches, length, toChars) and the N2 additions
//! (lastIndexOf, matchesFull, split, join, trim, encode, decode, escape, unescape). Indexes
//! count characters, not bytes. Regular expressions use the `regex` crate with `.` matching
//! newlines, as the specification asks.

use super::{boolean, input_string, string, Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::values::to_system;
use crate::item::{Collection, Item};
use base64::Engine;
use std::borrow::Cow;

/// Compiles a FHIRPath regular expression; `flags` (N3) may hold `i` (ignore case) and `m`
/// (multi-line). `.` always matches newlines.
fn regex(pattern: &str, full: bool, flags: &str) -> Result<regex::Regex> {
    let mut inline = String::from("s");
    for f in flags.chars() {
        match f {
            'i' | 'm' => inline.push(f),
            other => return eval_err(format!("unsupported regular expression flag '{other}'")),
        }
    }
    let p = if full { format!("(?{inline})^(?:{pattern})$") } else { format!("(?{inline}){pattern}") };
    regex::Regex::new(&p).or_else(|e| eval_err(format!("invalid regular expression: {e}")))
}

fn char_index(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    if func == Func::Join {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        let sep = cx.arg_string(0)?.unwrap_or_default();
        let mut parts = Vec::with_capacity(input.len());
        for i in &input {
            match to_system(i) {
                Some(Item::String(s)) => parts.push(s),
                None => {}
                Some(other) => return eval_err(format!("join() expects strings, got {}", other.fhir_type())),
            }
        }
        return string(parts.join(&sep));
    }
    let Some(s) = input_string(&input)? else { return Ok(Vec::new()) };
    match func {
        Func::IndexOf
        | Func::LastIndexOf
        | Func::StartsWith
        | Func::EndsWith
        | Func::Contains
        | Func::Split => {
            let Some(sub) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            match func {
                Func::IndexOf => {
                    Ok(vec![Item::Integer(s.find(sub.as_ref()).map_or(-1, |b| char_index(&s, b)))])
                }
                Func::LastIndexOf => {
                    Ok(vec![Item::Integer(s.rfind(sub.as_ref()).map_or(-1, |b| char_index(&s, b)))])
                }
                Func::StartsWith => boolean(s.starts_with(sub.as_ref())),
                Func::EndsWith => boolean(s.ends_with(sub.as_ref())),
                Func::Contains => boolean(s.contains(sub.as_ref())),
                _ => Ok(s.split(sub.as_ref()).map(|p| Item::String(Cow::Owned(p.to_string()))).collect()),
            }
        }
        Func::Substring => {
            let Some(start) = cx.arg_integer(0)? else { return Ok(Vec::new()) };
            let len = s.chars().count() as i64;
            if start < 0 || start >= len {
                return Ok(Vec::new());
            }
            let take = match cx.args.len() {
                1 => len,
                _ => match cx.arg_integer(1)? {
                    Some(n) => n.max(0),
                    None => len,
                },
            };
            string(s.chars().skip(start as usize).take(take as usize).collect::<String>())
        }
        Func::Upper => string(s.to_uppercase()),
        Func::Lower => string(s.to_lowercase()),
        Func::Replace => {
            let (Some(pat), Some(with)) = (cx.arg_string(0)?, cx.arg_string(1)?) else {
                return Ok(Vec::new());
            };
            string(s.replace(pat.as_ref(), &with))
        }
        Func::Matches | Func::MatchesFull => {
            let Some(pat) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            let flags = cx.arg_string(1)?.unwrap_or_default();
            boolean(regex(&pat, func == Func::MatchesFull, &flags)?.is_match(&s))
        }
        Func::ReplaceMatches => {
            let (Some(pat), Some(with)) = (cx.arg_string(0)?, cx.arg_string(1)?) else {
                return Ok(Vec::new());
            };
            if pat.is_empty() {
                return string(s);
            }
            let flags = cx.arg_string(2)?.unwrap_or_default();
            string(regex(&pat, false, &flags)?.replace_all(&s, with.as_ref()).into_owned())
        }
        Func::Length => Ok(vec![Item::Integer(s.chars().count() as i64)]),
        Func::ToChars => Ok(s.chars().map(|c| Item::String(Cow::Owned(c.to_string()))).collect()),
        Func::Trim => string(s.trim().to_string()),
        Func::Encode | Func::Decode | Func::Escape | Func::Unescape => {
            let Some(fmt) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            let r = match func {
                Func::Encode => encode(&s, &fmt),
                Func::Decode => match decode(&s, &fmt) {
                    Some(v) => Some(v),
                    None if matches!(fmt.as_ref(), "base64" | "urlbase64" | "hex") => {
                        return eval_err(format!("not valid {fmt} text"))
                    }
                    None => None,
                },
                Func::Escape => escape(&s, &fmt),
                _ => unescape(&s, &fmt),
            };
            Ok(r.map(|v| Item::String(Cow::Owned(v))).into_iter().collect())
        }
        _ => eval_err("not a string function"),
    }
}

fn encode(s: &str, fmt: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    Some(match fmt {
        "base64" => STANDARD.encode(s),
        "urlbase64" => URL_SAFE.encode(s),
        "hex" => hex::encode(s),
        _ => return None,
    })
}

fn decode(s: &str, fmt: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let bytes = match fmt {
        "base64" => STANDARD.decode(s).ok()?,
        "urlbase64" => URL_SAFE.decode(s).ok()?,
        "hex" => hex::decode(s).ok()?,
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

fn escape(s: &str, fmt: &str) -> Option<String> {
    match fmt {
        "html" => Some(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;"),
        ),
        "json" => {
            let quoted = serde_json::to_string(s).ok()?;
            Some(quoted[1..quoted.len() - 1].to_string())
        }
        _ => None,
    }
}

fn unescape(s: &str, fmt: &str) -> Option<String> {
    match fmt {
        "html" => Some(
            s.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        ),
        "json" => Some(unescape_json(s)),
        _ => None,
    }
}

/// Resolves JSON backslash escapes; anything else (including bare quotes) is kept as is.
fn unescape_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(c @ ('"' | '\\' | '/')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
