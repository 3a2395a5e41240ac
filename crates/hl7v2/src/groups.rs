// Segment groups — HL7 v2 chapter 2.5.2 (segment groups in abstract message syntax), e.g. the
// ORU_R01 OBSERVATION group (OBR with its NTE/OBX), the RDE_O11 ORDER group (ORC/RXE/RXR/RXC),
// the SIU RESOURCES groups. Repeated single segments (AL1, DG1, NK1) need no group: iterate
// `segments_named`.

use crate::message::{Message, Segment};

/// A head segment and the segments that belong to it.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The segment that opens the group (e.g. OBR).
    pub head: &'a Segment,
    /// 1-based position of the head among all segments of the message.
    pub position: usize,
    /// The member segments, in order (e.g. its OBX and NTE).
    pub members: Vec<&'a Segment>,
}

impl<'a> Group<'a> {
    /// Members with the given id.
    pub fn all<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'a Segment> + 'b {
        self.members.iter().copied().filter(move |s| s.name == name)
    }

    /// The first member with the given id.
    pub fn first(&self, name: &str) -> Option<&'a Segment> {
        self.members.iter().copied().find(|s| s.name == name)
    }
}

impl Message {
    /// Split the message into groups opened by `head`, each collecting the following segments
    /// whose id is in `members` until the next head or the first segment that is neither.
    /// Z-segments inside a group are kept as members if listed (e.g. `"ZDS"`).
    pub fn groups(&self, head: &str, members: &[&str]) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut open = false;
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.name == head {
                groups.push(Group { head: seg, position: i + 1, members: Vec::new() });
                open = true;
            } else if open && members.contains(&seg.name.as_str()) {
                if let Some(g) = groups.last_mut() {
                    g.members.push(seg);
                }
            } else {
                open = false;
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn obr_groups_collect_their_obx() {
        let (m, _) = parse(b"MSH|^~\\&|A\rPID|1\rOBR|1\rOBX|1\rNTE|1\rOBX|2\rOBR|2\rOBX|1\rPV1|1\rOBX|9");
        let groups = m.groups("OBR", &["OBX", "NTE"]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].all("OBX").count(), 2);
        assert_eq!(groups[0].first("NTE").map(|s| s.value(1)), Some("1"));
        assert_eq!(groups[1].members.len(), 1);
        assert_eq!(groups[1].position, 7);
    }
}
