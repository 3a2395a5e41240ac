//! Property tests: the parser and the MLLP decoder never panic on arbitrary bytes, and
//! `parse(encode(m)) == m` for generated messages with any delimiters and values that need
//! escaping.

use lantern_hl7v2::mllp::{frame, DecodeEvent, FrameDecoder};
use lantern_hl7v2::{parse, Component, Delimiters, Field, Message, Repetition, Segment};
use proptest::prelude::*;

fn delimiters() -> impl Strategy<Value = Delimiters> {
    // Five distinct punctuation characters, plus an optional truncation character.
    let pool: Vec<char> = "|^~\\&#!@%*$+=:;?".chars().collect();
    (Just(pool).prop_shuffle(), any::<bool>()).prop_map(|(p, trunc)| Delimiters {
        field: p[0],
        component: p[1],
        repetition: p[2],
        escape: Some(p[3]),
        subcomponent: p[4],
        truncation: trunc.then_some(p[5]),
    })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 ]{0,8}",
        "[|^~\\\\&#!@%*\n\r A-Z]{0,6}",
        "[\u{0}\u{b}\u{1c}\t a]{0,4}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    let comp = prop::collection::vec(value(), 1..3).prop_map(|subcomponents| Component { subcomponents });
    let rep = prop::collection::vec(comp, 1..3).prop_map(|components| Repetition { components });
    prop::collection::vec(rep, 1..3).prop_map(|repetitions| Field { repetitions })
}

fn segment() -> impl Strategy<Value = Segment> {
    ("[A-Z][A-Z0-9]{2}", prop::collection::vec(field(), 1..6))
        .prop_filter("not a header", |(n, _)| !matches!(n.as_str(), "MSH" | "FHS" | "BHS"))
        .prop_map(|(name, fields)| Segment { name, fields })
}

fn message() -> impl Strategy<Value = Message> {
    (delimiters(), prop::collection::vec(field(), 0..10), prop::collection::vec(segment(), 0..5)).prop_map(
        |(d, msh_fields, segs)| {
            let mut fields = vec![Field::new(d.field.to_string()), Field::new(d.encoding_characters())];
            fields.extend(msh_fields.into_iter().take(9));
            // A fixed version so the parser has nothing to warn about in MSH-12.
            while fields.len() < 11 {
                fields.push(Field::new(""));
            }
            fields.push(Field::new("2.5"));
            let mut segments = vec![Segment { name: "MSH".into(), fields }];
            segments.extend(segs);
            Message { delimiters: d, segments }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_msh_like_input(tail in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = b"MSH".to_vec();
        bytes.extend(tail);
        let _ = parse(&bytes);
    }

    #[test]
    fn decoder_never_panics_and_finds_framed_payloads(
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        payload in prop::collection::vec(any::<u8>().prop_filter("no framing bytes", |b| *b != 0x0B && *b != 0x1C), 0..128),
        chunk in 1usize..17,
    ) {
        let mut bytes = garbage.clone();
        bytes.extend(frame(&payload));
        let mut d = FrameDecoder::new(64);
        let mut frames = Vec::new();
        for c in bytes.chunks(chunk) {
            d.push(c);
            while let Some(ev) = d.next_event() {
                if let DecodeEvent::Frame(f) = ev {
                    frames.push(f);
                }
            }
        }
        if payload.len() <= 64 {
            prop_assert_eq!(frames.last(), Some(&payload));
        } else {
            prop_assert!(frames.iter().all(|f| f.len() <= 64));
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..33) {
        let mut d = FrameDecoder::new(100);
        for c in bytes.chunks(chunk) {
            d.push(c);
            while let Some(ev) = d.next_event() {
                if let DecodeEvent::Frame(f) = ev {
                    prop_assert!(f.len() <= 100);
                }
            }
        }
        let _ = d.finish();
    }

    #[test]
    fn parse_encode_round_trips(m in message()) {
        let text = m.encode();
        let (parsed, issues) = parse(text.as_bytes());
        prop_assert!(issues.iter().all(|i| i.severity != lantern_hl7v2::Severity::Error), "{:?}", issues);
        prop_assert_eq!(parsed, m);
    }
}
