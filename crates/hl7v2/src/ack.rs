// Acknowledgements — HL7 v2 chapter 2.9 (message processing rules: original mode 2.9.2,
// enhanced mode 2.9.3 with MSH-15/MSH-16 and table 0155), chapter 2.14.8 (MSA, table 0008) and
// 2.14.5 (ERR: ERR-1 ELD up to v2.4, ERR-2/3/4/8 from v2.5).

use crate::header::version_tuple;
use crate::issue::{ErrorCode, Issue, Severity};
use crate::message::{Component, Field, Message, Repetition, Segment};

/// MSA-1 acknowledgement code (table 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
    /// Commit accept (enhanced mode).
    CA,
    /// Commit error (enhanced mode).
    CE,
    /// Commit reject (enhanced mode).
    CR,
}

impl AckCode {
    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }
}

/// What happened to a message, independent of acknowledgement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (and, for application acks, processed).
    Accepted,
    /// Accepted for processing but something was wrong with its content.
    Error,
    /// Refused: unsupported type/version, unreadable header, or a receiver failure.
    Rejected,
}

impl Outcome {
    /// Decide from issues: an error about the message type, version, processing id or the
    /// header makes it a reject; any other error an error; warnings do not count.
    pub fn from_issues(issues: &[Issue]) -> Outcome {
        let errors = issues.iter().filter(|i| i.severity == Severity::Error);
        let mut outcome = Outcome::Accepted;
        for issue in errors {
            match issue.code {
                ErrorCode::UnsupportedMessageType
                | ErrorCode::UnsupportedEventCode
                | ErrorCode::UnsupportedProcessingId
                | ErrorCode::UnsupportedVersionId
                | ErrorCode::SegmentSequence => return Outcome::Rejected,
                _ => outcome = Outcome::Error,
            }
        }
        outcome
    }

    fn code(self, commit: bool) -> AckCode {
        match (self, commit) {
            (Outcome::Accepted, false) => AckCode::AA,
            (Outcome::Error, false) => AckCode::AE,
            (Outcome::Rejected, false) => AckCode::AR,
            (Outcome::Accepted, true) => AckCode::CA,
            (Outcome::Error, true) => AckCode::CE,
            (Outcome::Rejected, true) => AckCode::CR,
        }
    }
}

/// When an acknowledgement is wanted (table 0155, MSH-15/MSH-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCondition {
    /// AL — always.
    Always,
    /// NE — never.
    Never,
    /// ER — only on error or reject.
    OnError,
    /// SU — only on success.
    OnSuccess,
}

impl AckCondition {
    fn parse(value: &str) -> AckCondition {
        match value.trim().to_ascii_uppercase().as_str() {
            "NE" => AckCondition::Never,
            "ER" => AckCondition::OnError,
            "SU" => AckCondition::OnSuccess,
            _ => AckCondition::Always,
        }
    }

    fn wants(self, outcome: Outcome) -> bool {
        match self {
            AckCondition::Always => true,
            AckCondition::Never => false,
            AckCondition::OnError => outcome != Outcome::Accepted,
            AckCondition::OnSuccess => outcome == Outcome::Accepted,
        }
    }
}

/// Original or enhanced acknowledgement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// MSH-15 and MSH-16 both empty: one AA/AE/AR reply.
    Original,
    /// Either valued: a commit ack (CA/CE/CR) per MSH-15, then an application ack per MSH-16.
    Enhanced {
        /// MSH-15.
        accept: AckCondition,
        /// MSH-16.
        application: AckCondition,
    },
}

impl AckMode {
    /// The mode a message asks for.
    pub fn of(message: &Message) -> AckMode {
        let Some(h) = message.header() else { return AckMode::Original };
        let (accept, app) = (h.accept_ack_type(), h.application_ack_type());
        if accept.is_empty() && app.is_empty() {
            AckMode::Original
        } else {
            AckMode::Enhanced { accept: AckCondition::parse(accept), application: AckCondition::parse(app) }
        }
    }
}

/// Values the receiver supplies for the ACK's own header (clock and ids are injected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckContext {
    /// MSH-10 of the ACK itself.
    pub control_id: String,
    /// MSH-7 of the ACK, a v2 TS such as `20240101120000+0000`.
    pub timestamp: String,
}

/// The acknowledgement to send back on the same connection right after the message has been
/// stored durably (original mode: AA/AE/AR; enhanced mode: CA/CE/CR if MSH-15 asks for one).
pub fn response_ack(
    original: &Message,
    outcome: Outcome,
    issues: &[Issue],
    ctx: &AckContext,
) -> Option<Message> {
    match AckMode::of(original) {
        AckMode::Original => Some(build_ack(original, outcome.code(false), issues, ctx)),
        AckMode::Enhanced { accept, .. } => {
            accept.wants(outcome).then(|| build_ack(original, outcome.code(true), issues, ctx))
        }
    }
}

/// The application acknowledgement of enhanced mode, sent after processing if MSH-16 asks for
/// it. In original mode the response ack already was the application ack, so this is `None`.
pub fn application_ack(
    original: &Message,
    outcome: Outcome,
    issues: &[Issue],
    ctx: &AckContext,
) -> Option<Message> {
    match AckMode::of(original) {
        AckMode::Original => None,
        AckMode::Enhanced { application, .. } => {
            application.wants(outcome).then(|| build_ack(original, outcome.code(false), issues, ctx))
        }
    }
}

fn comps(values: &[&str]) -> Field {
    Field { repetitions: vec![Repetition::from_components(values.iter().copied())] }
}

fn copy_field(seg: Option<&Segment>, n: usize) -> Field {
    seg.and_then(|s| s.field(n)).cloned().unwrap_or_else(|| Field::new(""))
}

/// Build an ACK for `original` with the given code. Sending and receiving application and
/// facility are swapped, the version, processing id and character set mirrored, MSA-2 echoes
/// MSH-10, and each issue (up to 20) becomes an ERR segment in the form the version expects.
pub fn build_ack(original: &Message, code: AckCode, issues: &[Issue], ctx: &AckContext) -> Message {
    let msh = original.msh();
    let h = original.header();
    let version = h.map_or("", |h| h.version());
    let modern = version.is_empty() || version_tuple(version) >= (2, 5, 0);
    let trigger = h.map_or("", |h| h.trigger_event());
    let message_type = if version_tuple(version) >= (2, 3, 1) || version.is_empty() {
        comps(&["ACK", trigger, "ACK"])
    } else {
        comps(&["ACK", trigger])
    };
    let mut version_field = copy_field(msh, 12);
    if version_field.is_empty() {
        version_field = Field::new("2.5.1");
    }
    let mut processing = copy_field(msh, 11);
    if processing.is_empty() {
        processing = Field::new("P");
    }
    let d = original.delimiters;
    let mut header = vec![
        Field::new(d.field.to_string()),
        Field::new(d.encoding_characters()),
        copy_field(msh, 5),
        copy_field(msh, 6),
        copy_field(msh, 3),
        copy_field(msh, 4),
        Field::new(ctx.timestamp.clone()),
        Field::new(""),
        message_type,
        Field::new(ctx.control_id.clone()),
        processing,
        version_field,
    ];
    let charset = copy_field(msh, 18);
    if !charset.is_empty() {
        header.extend((13..18).map(|_| Field::new("")));
        header.push(charset);
    }
    let mut segments = vec![Segment { name: "MSH".into(), fields: header }];

    let mut msa = vec![Field::new(code.as_str()), Field::new(h.map_or("", |h| h.control_id()))];
    let first_error = issues.iter().find(|i| i.severity == Severity::Error);
    if version_tuple(version) < (2, 7, 0) && !matches!(code, AckCode::AA | AckCode::CA) {
        if let Some(e) = first_error {
            msa.push(Field::new(truncate(&e.message, 80)));
        }
    }
    segments.push(Segment { name: "MSA".into(), fields: msa });
    segments.extend(issues.iter().take(20).map(|i| err_segment(i, modern)));
    Message { delimiters: d, segments }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn err_segment(issue: &Issue, modern: bool) -> Segment {
    let loc = issue.location.clone().unwrap_or_default();
    let num = |n: usize| if n == 0 { String::new() } else { n.to_string() };
    let code = issue.code;
    if modern {
        let erl = comps(&[
            &loc.segment,
            &num(loc.sequence),
            &num(loc.field),
            &num(loc.repetition),
            &num(loc.component),
        ]);
        let erl = if loc.segment.is_empty() { Field::new("") } else { erl };
        let fields = vec![
            Field::new(""),
            erl,
            comps(&[code.code(), code.text(), "HL70357"]),
            Field::new(issue.severity.code()),
            Field::new(""),
            Field::new(""),
            Field::new(""),
            Field::new(truncate(&issue.message, 250)),
        ];
        Segment { name: "ERR".into(), fields }
    } else {
        // ELD: segment ^ sequence ^ field ^ code&text&table (CE as sub-components).
        let eld = Repetition {
            components: vec![
                Component::new(loc.segment.clone()),
                Component::new(num(loc.sequence)),
                Component::new(num(loc.field)),
                Component {
                    subcomponents: vec![code.code().into(), truncate(&issue.message, 80), "HL70357".into()],
                },
            ],
        };
        Segment { name: "ERR".into(), fields: vec![Field { repetitions: vec![eld] }] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::Location;
    use crate::parse;

    fn ctx() -> AckContext {
        AckContext { control_id: "ACK1".into(), timestamp: "20240101120000+0000".into() }
    }

    #[test]
    fn original_mode_aa_swaps_and_echoes() {
        let (m, _) = parse(b"MSH|^~\\&|SAPP|SFAC^1.2^ISO|RAPP|RFAC|20240101||ADT^A01^ADT_A01|MSG1|P|2.5.1");
        let ack = response_ack(&m, Outcome::Accepted, &[], &ctx()).unwrap();
        assert_eq!(
            ack.encode(),
            "MSH|^~\\&|RAPP|RFAC|SAPP|SFAC^1.2^ISO|20240101120000+0000||ACK^A01^ACK|ACK1|P|2.5.1\rMSA|AA|MSG1\r"
        );
        assert_eq!(application_ack(&m, Outcome::Accepted, &[], &ctx()), None);
    }

    #[test]
    fn v25_error_uses_err_2_3_4_8() {
        let (m, _) = parse(b"MSH|^~\\&|S|SF|R|RF|20240101||ADT^A01|MSG2|P|2.6");
        let issue = Issue::error(ErrorCode::RequiredFieldMissing, "PID segment missing")
            .at(Location::field("PID", 2, 3));
        let ack =
            response_ack(&m, Outcome::from_issues(std::slice::from_ref(&issue)), &[issue], &ctx()).unwrap();
        let text = ack.encode();
        assert!(text.contains("MSA|AE|MSG2|PID segment missing\r"), "{text}");
        assert!(
            text.contains("ERR||PID^2^3^^|101^Required field missing^HL70357|E||||PID segment missing\r"),
            "{text}"
        );
    }

    #[test]
    fn v23_error_uses_err_1() {
        let (m, _) = parse(b"MSH|^~\\&|S|SF|R|RF|20240101||ZZZ^Z01|MSG3|P|2.3");
        let issue = Issue::error(ErrorCode::UnsupportedMessageType, "ZZZ not supported")
            .at(Location::field("MSH", 1, 9));
        assert_eq!(Outcome::from_issues(std::slice::from_ref(&issue)), Outcome::Rejected);
        let ack = build_ack(&m, AckCode::AR, &[issue], &ctx());
        let text = ack.encode();
        assert!(text.starts_with("MSH|^~\\&|R|RF|S|SF|20240101120000+0000||ACK^Z01|ACK1|P|2.3\r"), "{text}");
        assert!(text.contains("ERR|MSH^1^9^200&ZZZ not supported&HL70357\r"), "{text}");
        assert!(text.contains("|2.3\r"));
    }

    #[test]
    fn enhanced_mode_follows_msh15_16() {
        let (m, _) = parse(b"MSH|^~\\&|S|SF|R|RF|20240101||ORU^R01|MSG5|P|2.5.1|||AL|ER");
        let commit = response_ack(&m, Outcome::Accepted, &[], &ctx()).unwrap();
        assert!(commit.encode().contains("MSA|CA|MSG5"));
        assert!(application_ack(&m, Outcome::Accepted, &[], &ctx()).is_none());
        let app = application_ack(&m, Outcome::Error, &[], &ctx()).unwrap();
        assert!(app.encode().contains("MSA|AE|MSG5"));

        let (m, _) = parse(b"MSH|^~\\&|S|SF|R|RF|20240101||ORU^R01|MSG6|P|2.5.1|||NE|AL");
        assert!(response_ack(&m, Outcome::Accepted, &[], &ctx()).is_none());
        assert!(application_ack(&m, Outcome::Accepted, &[], &ctx()).is_some());
    }

    #[test]
    fn ack_for_garbage_still_builds() {
        let (m, issues) = parse(b"not hl7 at all");
        let ack = response_ack(&m, Outcome::from_issues(&issues), &issues, &ctx()).unwrap();
        assert!(ack.encode().contains("MSA|AR|"));
    }
}
