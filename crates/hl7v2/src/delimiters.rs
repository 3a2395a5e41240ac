// Message delimiters — HL7 v2 chapter 2.5.4 "Message delimiters" and MSH-1/MSH-2 (chapter
// 2.14.9.1-2), including the v2.7 truncation character (2.5.5.2).

/// The six characters that structure an HL7 v2 message, as declared in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// Field separator (MSH-1), usually `|`.
    pub field: char,
    /// Component separator, usually `^`.
    pub component: char,
    /// Repetition separator, usually `~`.
    pub repetition: char,
    /// Escape character, usually `\`; absent when MSH-2 does not declare one.
    pub escape: Option<char>,
    /// Sub-component separator, usually `&`.
    pub subcomponent: char,
    /// Truncation character (v2.7+), usually `#`; absent before v2.7.
    pub truncation: Option<char>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: Some('\\'),
            subcomponent: '&',
            truncation: None,
        }
    }
}

impl Delimiters {
    /// Read delimiters from the field separator and the encoding characters of MSH-2. Missing
    /// characters fall back to the defaults (except escape and truncation, which become absent).
    pub fn from_msh(field: char, encoding: &str) -> Self {
        let d = Delimiters::default();
        let mut chars = encoding.chars();
        Delimiters {
            field,
            component: chars.next().unwrap_or(d.component),
            repetition: chars.next().unwrap_or(d.repetition),
            escape: chars.next(),
            subcomponent: chars.next().unwrap_or(d.subcomponent),
            truncation: chars.next(),
        }
    }

    /// The MSH-2 encoding characters string.
    pub fn encoding_characters(&self) -> String {
        let mut s = String::new();
        s.push(self.component);
        s.push(self.repetition);
        if let Some(e) = self.escape {
            s.push(e);
            s.push(self.subcomponent);
            if let Some(t) = self.truncation {
                s.push(t);
            }
        }
        s
    }

    /// True if every delimiter is distinct (a message whose delimiters collide cannot be split
    /// unambiguously).
    pub fn are_distinct(&self) -> bool {
        let mut all = vec![self.field, self.component, self.repetition, self.subcomponent];
        all.extend(self.escape);
        all.extend(self.truncation);
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        all.len() == n
    }

    /// Is `c` one of the structural separators (field, component, repetition, sub-component)?
    pub fn is_separator(&self, c: char) -> bool {
        c == self.field || c == self.component || c == self.repetition || c == self.subcomponent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_standard_and_v27_encoding() {
        let d = Delimiters::from_msh('|', "^~\\&#");
        assert_eq!(d.truncation, Some('#'));
        assert_eq!(d.encoding_characters(), "^~\\&#");
        let d = Delimiters::from_msh('|', "^~\\&");
        assert_eq!(d, Delimiters::default());
        assert!(d.are_distinct());
    }

    #[test]
    fn short_encoding_has_no_escape() {
        let d = Delimiters::from_msh('!', "@%");
        assert_eq!(d.field, '!');
        assert_eq!(d.component, '@');
        assert_eq!(d.repetition, '%');
        assert_eq!(d.escape, None);
        assert_eq!(d.encoding_characters(), "@%");
    }
}
