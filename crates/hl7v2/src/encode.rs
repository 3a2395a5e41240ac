// Writing a message back out — HL7 v2 chapter 2.5 (message construction rules) and 2.7
// (escaping). Segments end with a carriage return as the standard requires.

use crate::charset::{decode_latin1, Charset};
use crate::escape::escape;
use crate::message::{Field, Message, Segment};

impl Message {
    /// Encode as text with `\r` segment terminators, escaping values with the message's own
    /// delimiters.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            encode_segment(self, seg, &mut out);
            out.push('\r');
        }
        out
    }

    /// Encode as bytes in the character set MSH-18 declares (UTF-8 unless it says 8859/1, in
    /// which case characters outside Latin-1 become `?`).
    pub fn encode_bytes(&self) -> Vec<u8> {
        let text = self.encode();
        let charset = self.header().map_or(Charset::Default, |h| Charset::from_msh18(h.character_set()).0);
        match charset {
            Charset::Latin1 => text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect(),
            _ => text.into_bytes(),
        }
    }
}

fn encode_segment(msg: &Message, seg: &Segment, out: &mut String) {
    let d = &msg.delimiters;
    out.push_str(&seg.name);
    let header = matches!(seg.name.as_str(), "MSH" | "FHS" | "BHS");
    let skip = if header {
        out.push(d.field);
        out.push_str(&d.encoding_characters());
        2
    } else {
        0
    };
    for field in seg.fields.iter().skip(skip) {
        out.push(d.field);
        encode_field(msg, field, out);
    }
}

fn encode_field(msg: &Message, field: &Field, out: &mut String) {
    let d = &msg.delimiters;
    for (ri, rep) in field.repetitions.iter().enumerate() {
        if ri > 0 {
            out.push(d.repetition);
        }
        for (ci, comp) in rep.components.iter().enumerate() {
            if ci > 0 {
                out.push(d.component);
            }
            for (si, sub) in comp.subcomponents.iter().enumerate() {
                if si > 0 {
                    out.push(d.subcomponent);
                }
                out.push_str(&escape(sub, d));
            }
        }
    }
}

/// Decode Latin-1 bytes (re-exported for callers that received `encode_bytes` output).
pub fn latin1_to_string(bytes: &[u8]) -> String {
    decode_latin1(bytes)
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn parse_encode_parse_is_stable() {
        let raw = "MSH|^~\\&|APP|FAC|||20240101||ORU^R01|1|P|2.5\rOBX|1|TX|||a\\F\\b\\.br\\c~d^e&f\r";
        let (m, _) = parse(raw.as_bytes());
        assert_eq!(m.encode(), raw);
        let (again, _) = parse(m.encode().as_bytes());
        assert_eq!(again, m);
    }

    #[test]
    fn latin1_output() {
        let mut raw = b"MSH|^~\\&|A||||||ADT^A01|1|P|2.4||||||8859/1\rPID|1||1||M".to_vec();
        raw.extend_from_slice(&[0xFC, b'l']);
        let (m, _) = parse(&raw);
        assert_eq!(m.segments[1].value(5), "Mül");
        let bytes = m.encode_bytes();
        assert!(bytes.contains(&0xFC));
        assert_eq!(super::latin1_to_string(&bytes), m.encode());
    }
}
