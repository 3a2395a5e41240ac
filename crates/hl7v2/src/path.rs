// Path access in the notation of HL7 v2 chapter 2.5 and common interface-engine practice:
// `SEG[occurrence]-field(repetition).component.subcomponent`, e.g. `PID-3(2).1`, `PID-5.1.1`,
// `OBX[2]-5`. All numbers are 1-based; omitted parts mean "the first".

use crate::message::{Message, Repetition, Segment};
use std::fmt;
use std::str::FromStr;

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Segment id.
    pub segment: String,
    /// Which occurrence of the segment (1-based).
    pub occurrence: usize,
    /// Field number (1-based).
    pub field: usize,
    /// Repetition (1-based); `None` means the first.
    pub repetition: Option<usize>,
    /// Component (1-based); `None` means the first.
    pub component: Option<usize>,
    /// Sub-component (1-based); `None` means the first.
    pub subcomponent: Option<usize>,
}

/// Why a path could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HL7 v2 path {path:?}: {reason}")]
pub struct PathError {
    path: String,
    reason: &'static str,
}

fn number(s: &str, path: &str, reason: &'static str) -> Result<usize, PathError> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(PathError { path: path.to_string(), reason }),
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(path: &str) -> Result<Self, PathError> {
        let err = |reason| PathError { path: path.to_string(), reason };
        let (seg_part, rest) = path.split_once('-').ok_or_else(|| err("expected SEG-field"))?;
        let (segment, occurrence) = match seg_part.find(['[', '(']) {
            Some(i) => {
                let inner = seg_part[i + 1..].trim_end_matches([']', ')']);
                (&seg_part[..i], number(inner, path, "bad segment occurrence")?)
            }
            None => (seg_part, 1),
        };
        if segment.len() != 3 || !segment.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err("segment id must be three letters or digits"));
        }
        let mut dots = rest.split('.');
        let field_part = dots.next().unwrap_or("");
        let (field, repetition) = match field_part.find(['(', '[']) {
            Some(i) => {
                let inner = field_part[i + 1..].trim_end_matches([')', ']']);
                (
                    number(&field_part[..i], path, "bad field number")?,
                    Some(number(inner, path, "bad repetition")?),
                )
            }
            None => (number(field_part, path, "bad field number")?, None),
        };
        let component = dots.next().map(|c| number(c, path, "bad component")).transpose()?;
        let subcomponent = dots.next().map(|s| number(s, path, "bad sub-component")).transpose()?;
        if dots.next().is_some() {
            return Err(err("too many parts"));
        }
        Ok(Path {
            segment: segment.to_ascii_uppercase(),
            occurrence,
            field,
            repetition,
            component,
            subcomponent,
        })
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.segment)?;
        if self.occurrence != 1 {
            write!(f, "[{}]", self.occurrence)?;
        }
        write!(f, "-{}", self.field)?;
        if let Some(r) = self.repetition {
            write!(f, "({r})")?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
        }
        if let Some(s) = self.subcomponent {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl Path {
    /// The value this path names in a segment (ignoring segment id and occurrence).
    pub fn value_in<'a>(&self, segment: &'a Segment) -> Option<&'a str> {
        let field = segment.field(self.field)?;
        let rep = field.repetitions.get(self.repetition.unwrap_or(1) - 1)?;
        self.value_in_repetition(rep)
    }

    fn value_in_repetition<'a>(&self, rep: &'a Repetition) -> Option<&'a str> {
        let comp = rep.component(self.component.unwrap_or(1))?;
        let value = comp.subcomponents.get(self.subcomponent.unwrap_or(1) - 1)?;
        Some(value.as_str()).filter(|v| !v.is_empty())
    }
}

impl Message {
    /// The value at a path such as `PID-3(2).1`, or `None` when the path is invalid, absent or
    /// empty.
    pub fn get(&self, path: &str) -> Option<&str> {
        let p: Path = path.parse().ok()?;
        let seg = self.segments.iter().filter(|s| s.name == p.segment).nth(p.occurrence - 1)?;
        p.value_in(seg)
    }

    /// The value at the path in every repetition of the field (the repetition in the path is
    /// ignored), skipping empty ones.
    pub fn get_all(&self, path: &str) -> Vec<&str> {
        let Ok(p) = path.parse::<Path>() else { return Vec::new() };
        let Some(seg) = self.segments.iter().filter(|s| s.name == p.segment).nth(p.occurrence - 1) else {
            return Vec::new();
        };
        seg.field(p.field)
            .map(|f| f.repetitions.iter().filter_map(|r| p.value_in_repetition(r)).collect())
            .unwrap_or_default()
    }
}

impl Segment {
    /// The value at `field(rep).component.sub` within this segment, e.g. `seg.get("3(2).1")`.
    pub fn get(&self, path: &str) -> Option<&str> {
        let p: Path = format!("{}-{}", "XXX", path).parse().ok()?;
        p.value_in(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    const MSG: &[u8] = b"MSH|^~\\&|APP|FAC|||20240101||ADT^A01|1|P|2.5\r\
PID|1||111^^^HOSP^MR~9434765919^^^NHS^NH||SMITH&VAN^JOHN^Q\r\
OBX|1|NM|a\rOBX|2|ST|b";

    #[test]
    fn reads_paths() {
        let (m, _) = parse(MSG);
        assert_eq!(m.get("PID-3(2).1"), Some("9434765919"));
        assert_eq!(m.get("PID-3.4"), Some("HOSP"));
        assert_eq!(m.get("PID-5.1.1"), Some("SMITH"));
        assert_eq!(m.get("PID-5.1.2"), Some("VAN"));
        assert_eq!(m.get("PID-5.2"), Some("JOHN"));
        assert_eq!(m.get("OBX[2]-3"), Some("b"));
        assert_eq!(m.get("OBX(2)-2"), Some("ST"));
        assert_eq!(m.get("MSH-9.2"), Some("A01"));
        assert_eq!(m.get("PID-3(3).1"), None);
        assert_eq!(m.get("PID-2"), None);
        assert_eq!(m.get("nonsense"), None);
        assert_eq!(m.get_all("PID-3.4"), vec!["HOSP", "NHS"]);
        assert_eq!(m.segment("PID").unwrap().get("3(2).5"), Some("NH"));
    }

    #[test]
    fn path_display_round_trips() {
        for p in ["PID-3(2).1", "OBX[2]-5", "PID-5.1.1", "MSH-10"] {
            let parsed: super::Path = p.parse().unwrap();
            assert_eq!(parsed.to_string(), p);
        }
        assert!("PID-0".parse::<super::Path>().is_err());
        assert!("PIDX-1".parse::<super::Path>().is_err());
    }
}
