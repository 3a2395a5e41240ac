// The lenient parser — HL7 v2 chapter 2.5 (message construction), 2.5.4 (delimiters), 2.6
// (message processing rules: ignore what you do not understand) and 2.7 (escapes). It never
// fails and never panics: whatever it cannot make sense of becomes a `ParseIssue`.

use crate::charset::{self, Charset};
use crate::delimiters::Delimiters;
use crate::escape::unescape;
use crate::issue::{ErrorCode, Issue, Location, ParseIssue, Severity};
use crate::message::{Component, Field, Message, Repetition, Segment};

/// Stop collecting issues after this many: a binary blob should not produce a million of them.
const MAX_ISSUES: usize = 200;

/// Parse one HL7 v2 message (or batch) from bytes. Accepts a UTF-8 byte-order mark, MLLP
/// framing bytes left in by mistake, `\r`, `\n` or `\r\n` segment ends and blank lines;
/// decodes per MSH-18; splits with the delimiters of MSH-1/MSH-2; unescapes values.
pub fn parse(bytes: &[u8]) -> (Message, Vec<ParseIssue>) {
    let mut issues = Issues::default();
    let bytes = trim_framing(bytes);
    let (bytes, _had_bom) = charset::strip_bom(bytes);
    let (charset, cs_issue) = Charset::from_msh18(&sniff_msh18(bytes));
    issues.push_opt(cs_issue);
    let (text, decode_issue) = charset::decode(bytes, charset);
    issues.push_opt(decode_issue);

    let lines = segment_lines(&text, &mut issues);
    let delimiters = lines.first().and_then(|l| header_delimiters(l, &mut issues)).unwrap_or_default();

    let mut segments = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        segments.push(parse_segment(line, &delimiters, i + 1, &mut issues));
    }
    match segments.first().map(|s| s.name.as_str()) {
        Some("MSH") | Some("FHS") | Some("BHS") => {}
        Some(other) => issues.push(Issue::new(
            Severity::Error,
            ErrorCode::SegmentSequence,
            Some(Location::field(other, 1, 0)),
            "message does not start with an MSH segment",
        )),
        None => issues.push(Issue::error(ErrorCode::SegmentSequence, "empty message: no segments")),
    }
    let message = Message { delimiters, segments };
    check_version(&message, &mut issues);
    (message, issues.0)
}

#[derive(Default)]
struct Issues(Vec<ParseIssue>);

impl Issues {
    fn push(&mut self, issue: Issue) {
        if self.0.len() < MAX_ISSUES {
            self.0.push(issue);
        }
    }
    fn push_opt(&mut self, issue: Option<Issue>) {
        if let Some(i) = issue {
            self.push(i);
        }
    }
}

/// Drop MLLP start/end bytes and surrounding NULs that a sender or a capture left behind.
fn trim_framing(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !matches!(b, 0x0B | 0x00)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !matches!(b, 0x1C | 0x00 | b'\r' | b'\n')).map_or(start, |e| e + 1);
    if start >= end {
        &bytes[0..0]
    } else {
        &bytes[start..end]
    }
}

/// Read MSH-18 from the raw bytes of the first segment, before we know how to decode the rest.
/// Delimiters are ASCII in every message we can read, so a byte scan is enough.
fn sniff_msh18(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let line = &bytes[start..];
    let line = &line[..line.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(line.len())];
    if line.len() < 8 || &line[..3] != b"MSH" || !line[3].is_ascii() {
        return String::new();
    }
    let fs = line[3];
    let (cs, rs) = (line[4], line[5]);
    let Some(field) = line.split(|&b| b == fs).nth(17) else {
        return String::new();
    };
    let first = field.split(|&b| b == rs).next().unwrap_or(&[]);
    let value = first.split(|&b| b == cs).next().unwrap_or(&[]);
    String::from_utf8_lossy(value).into_owned()
}

fn looks_like_segment_start(line: &str, fs: Option<char>) -> bool {
    let mut chars = line.chars();
    let id: Vec<char> = chars.by_ref().take(3).collect();
    if id.len() != 3
        || !id[0].is_ascii_uppercase()
        || !id[1..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    match (chars.next(), fs) {
        (None, _) => true,
        (Some(c), Some(fs)) => c == fs,
        (Some(c), None) => !c.is_alphanumeric() && !c.is_whitespace(),
    }
}

/// Split text into segment lines: any of CR, LF, CRLF ends a segment; blank lines are dropped;
/// a line that cannot start a segment is taken as text wrapped by a sender that put raw line
/// breaks inside a field, and joined back to the line before it.
fn segment_lines(text: &str, issues: &mut Issues) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut fs: Option<char> = None;
    for raw in text.split(['\r', '\n']) {
        if raw.trim().is_empty() {
            continue;
        }
        if lines.is_empty() {
            let line = raw.trim_start();
            if fs.is_none() && line.len() > 3 && matches!(&line.as_bytes()[..3], b"MSH" | b"FHS" | b"BHS") {
                fs = line[3..].chars().next();
            }
            lines.push(line.to_string());
            continue;
        }
        let count = lines.len();
        if looks_like_segment_start(raw, fs) {
            lines.push(raw.to_string());
        } else if let Some(last) = lines.last_mut() {
            issues.push(Issue::new(
                Severity::Warning,
                ErrorCode::SegmentSequence,
                Some(Location::field(&last.chars().take(3).collect::<String>(), count, 0)),
                "line break inside a segment: text joined to the segment before it",
            ));
            last.push('\n');
            last.push_str(raw);
        }
    }
    lines
}

/// Delimiters from a header segment (MSH, FHS or BHS).
fn header_delimiters(line: &str, issues: &mut Issues) -> Option<Delimiters> {
    let id = line.get(..3)?;
    if !matches!(id, "MSH" | "FHS" | "BHS") {
        return None;
    }
    let mut rest = line[3..].chars();
    let fs = rest.next()?;
    let encoding: String = rest.take_while(|&c| c != fs).collect();
    let d = Delimiters::from_msh(fs, &encoding);
    if encoding.chars().count() < 4 {
        issues.push(Issue::new(
            Severity::Warning,
            ErrorCode::DataType,
            Some(Location::field(id, 1, 2)),
            format!("MSH-2 declares only {} encoding characters", encoding.chars().count()),
        ));
    }
    if !d.are_distinct() || fs.is_alphanumeric() {
        issues.push(Issue::new(
            Severity::Error,
            ErrorCode::DataType,
            Some(Location::field(id, 1, 2)),
            "MSH-1/MSH-2 delimiters are not distinct; default delimiters used",
        ));
        return None;
    }
    Some(d)
}

fn parse_segment(line: &str, d: &Delimiters, sequence: usize, issues: &mut Issues) -> Segment {
    let mut parts = line.split(d.field);
    let name = parts.next().unwrap_or("").trim().to_string();
    if !looks_like_segment_start(&name, None) || name.chars().count() != 3 {
        issues.push(Issue::new(
            Severity::Warning,
            ErrorCode::SegmentSequence,
            Some(Location::field(&name.chars().take(3).collect::<String>(), sequence, 0)),
            "segment id is not three upper-case letters or digits",
        ));
    }
    let mut fields = Vec::new();
    let header = matches!(name.as_str(), "MSH" | "FHS" | "BHS");
    if header {
        fields.push(Field::new(d.field.to_string()));
        fields.push(Field::new(parts.next().unwrap_or("")));
    }
    for raw in parts {
        let n = fields.len() + 1;
        fields.push(parse_field(raw, d, &mut |msg: &str| {
            issues.push(Issue::new(
                Severity::Warning,
                ErrorCode::DataType,
                Some(Location::field(&name, sequence, n)),
                msg,
            ));
        }));
    }
    Segment { name, fields }
}

fn parse_field(raw: &str, d: &Delimiters, report: &mut dyn FnMut(&str)) -> Field {
    let repetitions = raw
        .split(d.repetition)
        .map(|rep| Repetition {
            components: rep
                .split(d.component)
                .map(|comp| Component {
                    subcomponents: comp
                        .split(d.subcomponent)
                        .map(|sub| {
                            let (text, malformed) = unescape(sub, d);
                            if malformed {
                                report("malformed escape sequence kept as literal text");
                            }
                            text.into_owned()
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Field { repetitions }
}

/// Versions 2.1 to 2.8 are understood; anything else is read as best we can and reported.
fn check_version(message: &Message, issues: &mut Issues) {
    let Some(msh) = message.msh() else { return };
    let version = msh.value(12);
    if version.is_empty() {
        issues.push(Issue::new(
            Severity::Warning,
            ErrorCode::RequiredFieldMissing,
            Some(Location::field("MSH", 1, 12)),
            "MSH-12 version id is empty",
        ));
    } else if !version.starts_with("2.") || crate::header::version_tuple(version) > (2, 8, 99) {
        issues.push(Issue::new(
            Severity::Warning,
            ErrorCode::UnsupportedVersionId,
            Some(Location::field("MSH", 1, 12)),
            format!("version {version} is outside 2.1-2.8; parsed leniently"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_message_with_any_line_ends() {
        for sep in ["\r", "\n", "\r\n", "\r\n\r\n"] {
            let raw =
                ["MSH|^~\\&|APP|FAC|||20240101||ADT^A01|1|P|2.5", "PID|1||123^^^H^MR~456^^^NHS^NH||Doe^John"]
                    .join(sep);
            let (m, issues) = parse(raw.as_bytes());
            assert!(issues.is_empty(), "{issues:?}");
            assert_eq!(m.segments.len(), 2);
            let pid = &m.segments[1];
            assert_eq!(pid.field(3).unwrap().repetitions.len(), 2);
            assert_eq!(pid.field(3).unwrap().repetitions[1].get(4), "NHS");
        }
    }

    #[test]
    fn msh_fields_are_numbered_as_in_the_standard() {
        let (m, _) = parse(b"MSH|^~\\&|APP|FAC|RAPP|RFAC|20240101||ADT^A01^ADT_A01|CTRL1|P|2.5.1");
        let msh = m.msh().unwrap();
        assert_eq!(msh.value(1), "|");
        assert_eq!(msh.value(2), "^~\\&");
        assert_eq!(msh.value(3), "APP");
        assert_eq!(msh.component(9, 2), "A01");
        assert_eq!(msh.value(10), "CTRL1");
    }

    #[test]
    fn custom_delimiters_and_escapes() {
        let (m, issues) = parse(b"MSH#*@!%#APP\rPID#1##12*34%5@67##A!F!B!S!C");
        assert!(issues.iter().all(|i| i.severity != Severity::Error), "{issues:?}");
        let pid = &m.segments[1];
        let f3 = pid.field(3).unwrap();
        assert_eq!(f3.repetitions[0].sub(2, 1), "34");
        assert_eq!(f3.repetitions[0].sub(2, 2), "5");
        assert_eq!(f3.repetitions[1].get(1), "67");
        assert_eq!(pid.value(5), "A#B*C");
    }

    #[test]
    fn bom_and_framing_are_ignored() {
        let (m, issues) = parse(b"\x0b\xEF\xBB\xBFMSH|^~\\&|A\rEVN|A01\x1c\r");
        assert!(issues.iter().all(|i| i.severity != Severity::Error));
        assert_eq!(m.segments.len(), 2);
        assert_eq!(m.segments[0].name, "MSH");
    }

    #[test]
    fn latin1_declared_in_msh18() {
        let mut raw = b"MSH|^~\\&|A||||||ADT^A01|1|P|2.4||||||8859/1\rPID|1||1||M".to_vec();
        raw.push(0xFC);
        raw.extend_from_slice(b"ller");
        let (m, issues) = parse(&raw);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(m.segments[1].value(5), "Müller");
    }

    #[test]
    fn wrapped_text_is_joined() {
        let (m, issues) = parse(b"MSH|^~\\&|A|||||||1|P|2.5\nOBX|1|TX|||first line\nsecond line\nNTE|1");
        assert_eq!(m.segments.len(), 3);
        assert_eq!(m.segments[1].value(5), "first line\nsecond line");
        assert_eq!(issues.len(), 1);
    }

    #[test]
    fn garbage_never_panics() {
        for raw in
            [&b""[..], b"\x00", b"MSH", b"MSH|", b"MSH||||", b"\xff\xfe", b"MSH|^^^^|x", b"MSH\xc3\xa9^~\\&"]
        {
            let _ = parse(raw);
        }
        let (_, issues) = parse(b"");
        assert_eq!(issues[0].code, ErrorCode::SegmentSequence);
    }
}
