// The message header — HL7 v2 chapter 2.14.9 (MSH segment): sending/receiving application and
// facility (MSH-3..6), date/time (MSH-7), message type (MSH-9, MSG), control id (MSH-10),
// processing id (MSH-11), version (MSH-12), accept/application acknowledgement type (MSH-15/16,
// table 0155) and character set (MSH-18).

use crate::message::{Message, Repetition, Segment};

/// Typed read access to a message's MSH segment.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    msh: &'a Segment,
}

impl Message {
    /// The header, if the message has an MSH segment.
    pub fn header(&self) -> Option<Header<'_>> {
        self.msh().map(|msh| Header { msh })
    }
}

impl<'a> Header<'a> {
    /// The MSH segment itself.
    pub fn segment(&self) -> &'a Segment {
        self.msh
    }
    /// MSH-3 sending application (HD, whole).
    pub fn sending_application_hd(&self) -> Option<&'a Repetition> {
        self.msh.rep(3)
    }
    /// MSH-3.1 sending application namespace id.
    pub fn sending_application(&self) -> &'a str {
        self.msh.component(3, 1)
    }
    /// MSH-4 sending facility (HD, whole).
    pub fn sending_facility_hd(&self) -> Option<&'a Repetition> {
        self.msh.rep(4)
    }
    /// MSH-4.1 sending facility namespace id.
    pub fn sending_facility(&self) -> &'a str {
        self.msh.component(4, 1)
    }
    /// MSH-5.1 receiving application.
    pub fn receiving_application(&self) -> &'a str {
        self.msh.component(5, 1)
    }
    /// MSH-6.1 receiving facility.
    pub fn receiving_facility(&self) -> &'a str {
        self.msh.component(6, 1)
    }
    /// MSH-7 date/time of message (raw TS).
    pub fn timestamp(&self) -> &'a str {
        self.msh.component(7, 1)
    }
    /// MSH-9.1 message code, e.g. `ADT`.
    pub fn message_type(&self) -> &'a str {
        self.msh.component(9, 1).trim()
    }
    /// MSH-9.2 trigger event, e.g. `A01`.
    pub fn trigger_event(&self) -> &'a str {
        self.msh.component(9, 2).trim()
    }
    /// MSH-9.3 message structure, e.g. `ADT_A01` (v2.3.1+).
    pub fn message_structure(&self) -> &'a str {
        self.msh.component(9, 3).trim()
    }
    /// MSH-10 message control id.
    pub fn control_id(&self) -> &'a str {
        self.msh.value(10).trim()
    }
    /// MSH-11.1 processing id (P production, T training, D debugging).
    pub fn processing_id(&self) -> &'a str {
        self.msh.component(11, 1)
    }
    /// MSH-12.1 version id, e.g. `2.5.1`.
    pub fn version(&self) -> &'a str {
        self.msh.component(12, 1).trim()
    }
    /// MSH-15 accept acknowledgement type (AL, NE, ER, SU), "" when absent.
    pub fn accept_ack_type(&self) -> &'a str {
        self.msh.value(15).trim()
    }
    /// MSH-16 application acknowledgement type (AL, NE, ER, SU), "" when absent.
    pub fn application_ack_type(&self) -> &'a str {
        self.msh.value(16).trim()
    }
    /// MSH-18.1 character set.
    pub fn character_set(&self) -> &'a str {
        self.msh.value(18)
    }
    /// The version as a comparable tuple.
    pub fn version_tuple(&self) -> (u32, u32, u32) {
        version_tuple(self.version())
    }
}

/// `"2.5.1"` -> `(2, 5, 1)`; unreadable parts are 0.
pub fn version_tuple(version: &str) -> (u32, u32, u32) {
    let mut parts = version.trim().split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().unwrap_or(0)
    });
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn reads_header_fields() {
        let (m, _) = parse(b"MSH|^~\\&|APP|FAC^1.2^ISO|RAPP|RFAC|20240101120000+0100||SIU^S12^SIU_S12|C1|P|2.5.1|||AL|NE||UNICODE UTF-8");
        let h = m.header().unwrap();
        assert_eq!(h.sending_application(), "APP");
        assert_eq!(h.sending_facility(), "FAC");
        assert_eq!(h.sending_facility_hd().unwrap().get(2), "1.2");
        assert_eq!(h.message_type(), "SIU");
        assert_eq!(h.trigger_event(), "S12");
        assert_eq!(h.message_structure(), "SIU_S12");
        assert_eq!(h.control_id(), "C1");
        assert_eq!(h.accept_ack_type(), "AL");
        assert_eq!(h.application_ack_type(), "NE");
        assert_eq!(h.character_set(), "UNICODE UTF-8");
        assert_eq!(h.version_tuple(), (2, 5, 1));
    }

    #[test]
    fn version_tuples_compare() {
        assert!(version_tuple("2.3.1") < version_tuple("2.4"));
        assert!(version_tuple("2.10") > version_tuple("2.8"));
        assert_eq!(version_tuple("junk"), (0, 0, 0));
    }
}
