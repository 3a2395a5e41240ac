// Escape sequences in text data — HL7 v2 chapter 2.7 "Use of escape sequences in text fields":
// \F\ \S\ \T\ \R\ \E\ (delimiters), \P\ (truncation, 2.7+), \Xhh..\ (hex data), \H\ \N\
// (highlighting), \.br\ and the other formatting commands of 2.7.6. Unknown ones are kept.

use crate::charset::decode_hex_bytes;
use crate::delimiters::Delimiters;
use std::borrow::Cow;

/// Replace the escape sequences in one primitive value. Returns the text and whether a
/// malformed sequence (no closing escape character, bad hex) was met and kept literally.
pub fn unescape<'a>(value: &'a str, d: &Delimiters) -> (Cow<'a, str>, bool) {
    let Some(esc) = d.escape else {
        return (Cow::Borrowed(value), false);
    };
    if !value.contains(esc) {
        return (Cow::Borrowed(value), false);
    }
    let mut out = String::with_capacity(value.len());
    let mut malformed = false;
    let mut rest = value;
    while let Some(start) = rest.find(esc) {
        out.push_str(&rest[..start]);
        let after = &rest[start + esc.len_utf8()..];
        let Some(end) = after.find(esc) else {
            // No closing escape: keep the rest literally.
            malformed = true;
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let body = &after[..end];
        match expand(body, d) {
            Some(text) => out.push_str(&text),
            None => {
                if body.starts_with('X') || body.starts_with('x') {
                    malformed = true;
                }
                // Unknown sequence: keep it as it was, delimiters included.
                out.push(esc);
                out.push_str(body);
                out.push(esc);
            }
        }
        rest = &after[end + esc.len_utf8()..];
    }
    out.push_str(rest);
    (Cow::Owned(out), malformed)
}

/// The text one escape body stands for, or None if we do not know it.
fn expand(body: &str, d: &Delimiters) -> Option<String> {
    match body {
        "F" => Some(d.field.to_string()),
        "S" => Some(d.component.to_string()),
        "T" => Some(d.subcomponent.to_string()),
        "R" => Some(d.repetition.to_string()),
        "E" => d.escape.map(|e| e.to_string()),
        "P" => d.truncation.map(|t| t.to_string()),
        // Highlighting on/off: formatting only, the text is unchanged.
        "H" | "N" => Some(String::new()),
        ".br" => Some("\n".to_string()),
        ".fi" | ".nf" | ".ce" => Some(String::new()),
        _ if body.starts_with(".sp") => {
            let n = body[3..].trim().parse::<usize>().unwrap_or(1).clamp(1, 20);
            Some("\n".repeat(n))
        }
        _ if body.starts_with(".in") || body.starts_with(".ti") || body.starts_with(".sk") => {
            Some(String::new())
        }
        _ if body.len() > 1 && (body.starts_with('X') || body.starts_with('x')) => {
            let hex = &body[1..];
            if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                .collect();
            Some(decode_hex_bytes(&bytes))
        }
        _ => None,
    }
}

/// Escape one primitive value so it can be written between delimiters. Line breaks become
/// `\.br\`, carriage returns `\X0D\`, delimiters their letter escapes.
pub fn escape(value: &str, d: &Delimiters) -> String {
    let Some(esc) = d.escape else {
        return value.to_string();
    };
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let letter = if c == esc {
            Some("E")
        } else if c == d.field {
            Some("F")
        } else if c == d.component {
            Some("S")
        } else if c == d.subcomponent {
            Some("T")
        } else if c == d.repetition {
            Some("R")
        } else if Some(c) == d.truncation {
            Some("P")
        } else if c == '\n' {
            Some(".br")
        } else if c.is_ascii_control() && c != '\t' {
            // CR, NUL and the MLLP framing bytes must never appear raw inside a message.
            out.push(esc);
            out.push_str(&format!("X{:02X}", u32::from(c)));
            out.push(esc);
            continue;
        } else {
            None
        };
        match letter {
            Some(l) => {
                out.push(esc);
                out.push_str(l);
                out.push(esc);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(s: &str) -> String {
        unescape(s, &Delimiters::default()).0.into_owned()
    }

    #[test]
    fn delimiter_escapes() {
        assert_eq!(un(r"A\F\B\S\C\T\D\R\E\E\"), r"A|B^C&D~E\");
    }

    #[test]
    fn formatting_and_highlight() {
        assert_eq!(un(r"line1\.br\line2"), "line1\nline2");
        assert_eq!(un(r"\H\BOLD\N\ text"), "BOLD text");
        assert_eq!(un(r"a\.sp2\b"), "a\n\nb");
    }

    #[test]
    fn hex_and_unknown() {
        assert_eq!(un(r"\X41\\X42\"), "AB");
        assert_eq!(un(r"\XC3A9\"), "é");
        assert_eq!(un(r"\Zcustom\"), r"\Zcustom\");
        let (s, bad) = unescape(r"dangling \ here", &Delimiters::default());
        assert_eq!(s, r"dangling \ here");
        assert!(bad);
    }

    #[test]
    fn escape_round_trips() {
        let d = Delimiters::from_msh('|', "^~\\&#");
        let raw = "a|b^c&d~e\\f#g\nh\ri\u{b}j\u{1c}\0";
        let escaped = escape(raw, &d);
        assert!(!escaped.contains('|') && !escaped.contains('\u{1c}'));
        assert_eq!(unescape(&escaped, &d).0, raw);
    }
}
