//! The acute trust's PAS and its departmental systems, as HL7 v2 messages (v2.4 ADT, SIU; v2.5.1
//! ORU, RDE): registrations and outpatient attendances (A04 then A03), admissions (A01 with AL1
//! allergies and DG1 diagnoses, A03 discharge), demographic updates (A08), clinic bookings
//! (SIU S12), laboratory results (ORU R01) and discharge medicines (RDE O11) — the statin the
//! GP already prescribes among them, so the merged medication list has work to do.
//!
//! Every message is built from the segments Lantern's v2 maps read (`lantern_hl7v2::map`), and
//! the tests map every one of them with no error.
use crate::clock::{v2, v2_date, DAY};
use crate::codes::*;
use crate::orgs::Kind;
use crate::orgs::Org;
use crate::people::{Demographics, Person, Restricted, SourceRecord};
use crate::story::{within, Profile, HISTORY_DAYS};
use lantern_identity::gen::Rng;

const CONSULTANTS: &[(&str, &str, &str)] = &[
    ("C4821733", "OKONKWO", "ADA"),
    ("C3377120", "HARGREAVES", "TOM"),
    ("C5190044", "SINGH", "PRIYA"),
    ("C2678815", "MORGAN", "RHYS"),
    ("C6012398", "FLETCHER", "ELEANOR"),
];

const WARDS: &[&str] = &["WD10", "WD11", "AMU", "WD14", "CCU"];

/// HL7 v2 escaping of the delimiters (v2 §2.7).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\E\\"),
            '|' => o.push_str("\\F\\"),
            '^' => o.push_str("\\S\\"),
            '&' => o.push_str("\\T\\"),
            '~' => o.push_str("\\R\\"),
            _ => o.push(c),
        }
    }
    o
}

/// A segment with fields at their positions (1-based); the rest empty.
fn seg(name: &str, fields: &[(usize, String)]) -> String {
    let n = fields.iter().map(|f| f.0).max().unwrap_or(0);
    let mut v = vec![String::new(); n];
    for (i, f) in fields {
        v[i - 1] = f.clone();
    }
    format!("{name}|{}", v.join("|"))
}

struct Msgs<'a> {
    org: &'a Org,
    gp: &'a Org,
    rec: &'a SourceRecord,
    n: usize,
    out: Vec<String>,
}

impl Msgs<'_> {
    fn msh(&mut self, at: i64, kind: &str, structure: &str, version: &str) -> String {
        self.n += 1;
        format!(
            "MSH|^~\\&|PAS|{}|LANTERN|SEVERN|{}||{kind}^{structure}|{}-{}|P|{version}",
            self.org.ods,
            v2(at),
            self.rec.local_id,
            self.n
        )
    }

    fn pid(&self, d: &Demographics) -> String {
        let mut ids = format!("{}^^^{}^MR", self.rec.local_id, self.org.ods);
        if let Some(n) = &d.nhs_number {
            ids += &format!("~{n}^^^NHS^NH");
        }
        let name = format!(
            "{}^{}^{}^^{}^^L",
            esc(&d.family.to_uppercase()),
            esc(&d.given.to_uppercase()),
            esc(&d.middle.clone().unwrap_or_default().to_uppercase()),
            if d.female { "MS" } else { "MR" }
        );
        let addr = d
            .address
            .as_ref()
            .map(|a| format!("{}^^{}^^{}^GB^H", esc(&a.line), esc(&a.town), esc(&a.postcode)))
            .unwrap_or_default();
        let phone = d.phone.as_ref().map(|p| format!("{p}^PRN^CP")).unwrap_or_default();
        seg(
            "PID",
            &[
                (1, "1".into()),
                (3, ids),
                (5, name),
                (7, v2_date(d.birth_date)),
                (8, if d.female { "F" } else { "M" }.into()),
                (11, addr),
                (13, phone),
            ],
        )
    }

    fn pd1(&self) -> String {
        seg("PD1", &[(3, format!("{}^^{}", esc(self.gp.name), self.gp.ods))])
    }

    fn push(&mut self, segments: Vec<String>) {
        self.out.push(segments.join("\r"));
    }

    /// An ADT message: MSH, EVN, PID, PD1, PV1, then `extra` (AL1, DG1).
    fn adt(&mut self, at: i64, event: &str, d: &Demographics, v: &Visit, extra: Vec<String>) {
        let structure = if event == "A03" { "ADT_A03" } else { "ADT_A01" };
        let msh = self.msh(at, &format!("ADT^{event}"), structure, "2.4");
        let mut segs = vec![msh, format!("EVN|{event}|{}", v2(at)), self.pid(d), self.pd1(), pv1(v)];
        segs.extend(extra);
        self.push(segs);
    }
}

struct Visit {
    number: String,
    class: &'static str,
    location: String,
    consultant: (&'static str, &'static str, &'static str),
    service: &'static str,
    start: i64,
    end: Option<i64>,
}

fn pv1(v: &Visit) -> String {
    let (gmc, fam, giv) = v.consultant;
    let mut f = vec![
        (1, "1".to_string()),
        (2, v.class.to_string()),
        (3, v.location.clone()),
        (7, format!("{gmc}^{fam}^{giv}^^^DR^^^GMC")),
        (10, v.service.to_string()),
        (19, format!("{}^^^RSV^VN", v.number)),
        (44, v2(v.start)),
    ];
    if let Some(e) = v.end {
        f.push((36, "01^Home".into()));
        f.push((45, v2(e)));
    }
    seg("PV1", &f)
}

/// The messages for one hospital record (in the order the PAS sends them).
#[allow(clippy::too_many_arguments)]
pub(crate) fn messages(
    rng: &mut Rng,
    p: &Person,
    rec: &SourceRecord,
    org: &Org,
    gp: &Org,
    prof: &Profile,
    now: i64,
    force_admission: bool,
) -> Vec<String> {
    let mut m = Msgs { org, gp, rec, n: 0, out: Vec::new() };
    let d = &rec.demographics;
    let consultant = |rng: &mut Rng| CONSULTANTS[rng.below(CONSULTANTS.len())];
    if rec.duplicate {
        // A hurried A&E registration: a new MRN, no NHS number, seen and sent home.
        let start = within(rng, now, HISTORY_DAYS);
        let v = Visit {
            number: format!("{}E", rec.local_id),
            class: "E",
            location: "ED^MAJORS^^RSV01".into(),
            consultant: consultant(rng),
            service: "AE",
            start,
            end: Some(start + (2 + rng.below(5) as i64) * 3600),
        };
        attendance(&mut m, d, &v);
        return m.out;
    }
    let admitted = force_admission || rng.chance(0.45);
    let outpatient = !admitted || rng.chance(0.5);
    if outpatient {
        let (clinic, name) = CLINICS[rng.below(CLINICS.len())];
        let start = crate::clock::office_hours(within(rng, now, HISTORY_DAYS), rng.next_u64());
        let v = Visit {
            number: format!("{}O1", rec.local_id),
            class: "O",
            location: format!("{clinic}^CLINIC^^RSV01"),
            consultant: consultant(rng),
            service: clinic,
            start,
            end: Some(start + 1800),
        };
        if rng.chance(0.3) {
            booking(&mut m, d, &v, name, "Complete", start - 30 * DAY);
        }
        attendance(&mut m, d, &v);
    }
    if admitted {
        let start = within(rng, now - 12 * DAY, HISTORY_DAYS - 12);
        let stay = (1 + rng.below(9) as i64) * DAY + rng.below(40_000) as i64;
        let (reason, reason_name) = ADMISSION_REASONS[rng.below(ADMISSION_REASONS.len())];
        let ward = WARDS[rng.below(WARDS.len())];
        let mut v = Visit {
            number: format!("{}I1", rec.local_id),
            class: "I",
            location: format!("{ward}^BAY{}^BED{}^RSV01", 1 + rng.below(6), 1 + rng.below(8)),
            consultant: consultant(rng),
            service: "MED",
            start,
            end: None,
        };
        let mut segs = Vec::new();
        if let Some(a) = prof.allergy {
            let (code, name, reaction) = ALLERGIES[a];
            segs.push(seg(
                "AL1",
                &[
                    (1, "1".into()),
                    (2, "DA".into()),
                    (3, format!("{code}^{name}^SCT")),
                    (4, "MO".into()),
                    (5, reaction.into()),
                ],
            ));
        }
        segs.push(seg(
            "DG1",
            &[(1, "1".into()), (3, format!("{reason}^{reason_name}^SCT")), (5, v2(start)), (6, "A".into())],
        ));
        m.adt(start, "A01", d, &v, segs);
        results(&mut m, rng, d, &v, start + 5 * 3600);
        let end = start + stay;
        discharge_medicines(&mut m, rng, d, &v, prof, end - 3600);
        v.end = Some(end);
        m.adt(end, "A03", d, &v, Vec::new());
        if rng.chance(0.15) {
            // The patient tells the ward clerk their current details: an A08 puts them right.
            let truth = Demographics { nhs_number: d.nhs_number.clone(), ..p.truth() };
            m.adt(end + 600, "A08", &truth, &v, Vec::new());
        }
    }
    if let Some((Restricted::Termination, Kind::Acute)) = p.traits.restricted {
        let start = crate::clock::office_hours(within(rng, now, 400), rng.next_u64());
        let v = Visit {
            number: format!("{}D1", rec.local_id),
            class: "O",
            location: "GYN^DAYCASE^^RSV01".into(),
            consultant: consultant(rng),
            service: "GYN",
            start,
            end: Some(start + 5 * 3600),
        };
        let (code, name) = TERMINATION;
        let dg1 = seg(
            "DG1",
            &[(1, "1".into()), (3, format!("{code}^{name}^SCT")), (5, v2(start)), (6, "F".into())],
        );
        m.adt(start, "A04", d, &Visit { end: None, ..clone_visit(&v) }, vec![dg1]);
        m.adt(v.end.unwrap_or(start), "A03", d, &v, Vec::new());
    }
    if rng.chance(0.4) {
        let (clinic, name) = CLINICS[rng.below(CLINICS.len())];
        let start = crate::clock::office_hours(now + (3 + rng.below(90) as i64) * DAY, rng.next_u64());
        let v = Visit {
            number: format!("{}F1", rec.local_id),
            class: "O",
            location: format!("{clinic}^CLINIC^^RSV01"),
            consultant: consultant(rng),
            service: clinic,
            start,
            end: None,
        };
        booking(&mut m, d, &v, name, "Booked", now - rng.below(20) as i64 * DAY - 3600);
    }
    m.out
}

fn clone_visit(v: &Visit) -> Visit {
    Visit {
        number: v.number.clone(),
        class: v.class,
        location: v.location.clone(),
        consultant: v.consultant,
        service: v.service,
        start: v.start,
        end: v.end,
    }
}

/// An attendance: A04 on arrival, A03 when it ends.
fn attendance(m: &mut Msgs<'_>, d: &Demographics, v: &Visit) {
    m.adt(v.start, "A04", d, &Visit { end: None, ..clone_visit(v) }, Vec::new());
    m.adt(v.end.unwrap_or(v.start), "A03", d, v, Vec::new());
}

/// A clinic booking (SIU S12), sent at `sent`.
fn booking(m: &mut Msgs<'_>, d: &Demographics, v: &Visit, clinic: &str, status: &str, sent: i64) {
    let (gmc, fam, giv) = v.consultant;
    let sch = seg(
        "SCH",
        &[
            (1, format!("{}P^PAS", v.number)),
            (2, format!("{}^PAS", v.number)),
            (7, format!("{}^{}^L", v.service, esc(clinic))),
            (8, "ROUTINE".into()),
            (9, "30".into()),
            (10, "min".into()),
            (11, format!("^^^{}^{}", v2(v.start), v2(v.start + 1800))),
            (25, status.into()),
        ],
    );
    let msh = m.msh(sent, "SIU^S12", "SIU_S12", "2.5");
    let segs = vec![
        msh,
        sch,
        m.pid(d),
        seg("AIL", &[(1, "1".into()), (3, format!("{}^Room {}^^RSV01", v.service, 1 + v.number.len() % 5))]),
        seg(
            "AIP",
            &[(1, "1".into()), (3, format!("{gmc}^{fam}^{giv}^^^DR^^^GMC")), (4, "CONS^Consultant".into())],
        ),
    ];
    m.push(segs);
}

/// Blood results during a stay: a full blood count and renal profile (ORU R01).
fn results(m: &mut Msgs<'_>, rng: &mut Rng, d: &Demographics, v: &Visit, at: i64) {
    let (gmc, fam, giv) = v.consultant;
    let msh = m.msh(at + 3 * 3600, "ORU^R01", "ORU_R01", "2.5.1");
    let mut segs = vec![msh, m.pid(d), pv1(v)];
    for (k, (panel, name, tests)) in
        [("FBC", "Full blood count", BLOOD_COUNT), ("UE", "Urea and electrolytes", RENAL)].iter().enumerate()
    {
        let order = format!("{}L{k}", v.number);
        segs.push(seg(
            "ORC",
            &[(1, "RE".into()), (2, format!("{order}^ICE")), (3, format!("{order}^WINPATH"))],
        ));
        segs.push(seg(
            "OBR",
            &[
                (1, (k + 1).to_string()),
                (2, format!("{order}^ICE")),
                (3, format!("{order}^WINPATH")),
                (4, format!("{panel}^{name}^L")),
                (7, v2(at)),
                (16, format!("{gmc}^{fam}^{giv}")),
                (22, v2(at + 3 * 3600)),
                (25, "F".into()),
            ],
        ));
        for (j, t) in tests.iter().enumerate() {
            let (code, tname, unit, lo, hi, tlo, thi, dec) = *t;
            let val = value(rng.unit(), tlo, thi, dec);
            let x: f64 = val.parse().unwrap_or(lo);
            let flag = if x < lo {
                "L"
            } else if x > hi {
                "H"
            } else {
                "N"
            };
            segs.push(seg(
                "OBX",
                &[
                    (1, (j + 1).to_string()),
                    (2, "NM".into()),
                    (3, format!("{code}^{tname}^LN")),
                    (5, val),
                    (6, unit.into()),
                    (7, format!("{lo}-{hi}")),
                    (8, flag.into()),
                    (11, "F".into()),
                    (14, v2(at)),
                ],
            ));
        }
    }
    m.push(segs);
}

/// Medicines on discharge (RDE O11): a long-term medicine the GP also prescribes, and an acute one.
fn discharge_medicines(
    m: &mut Msgs<'_>,
    rng: &mut Rng,
    d: &Demographics,
    v: &Visit,
    prof: &Profile,
    at: i64,
) {
    let (gmc, fam, giv) = v.consultant;
    let mut meds: Vec<(&str, &str, &str, &str, &str)> =
        prof.medicines.iter().take(2).map(|i| MEDICINES[*i]).collect();
    if rng.chance(0.6) {
        meds.push(HOSPITAL_MEDICINES[rng.below(HOSPITAL_MEDICINES.len())]);
    }
    if meds.is_empty() {
        return;
    }
    let msh = m.msh(at, "RDE^O11", "RDE_O11", "2.5.1");
    let mut segs = vec![msh, m.pid(d), pv1(v)];
    for (k, (code, name, dose, unit, text)) in meds.iter().enumerate() {
        let order = format!("{}R{k}", v.number);
        segs.push(seg(
            "ORC",
            &[
                (1, "NW".into()),
                (2, format!("{order}^EPMA")),
                (9, v2(at)),
                (12, format!("{gmc}^{fam}^{giv}^^^DR^^^GMC")),
            ],
        ));
        segs.push(seg(
            "RXE",
            &[
                (2, format!("{code}^{}^DMD", esc(name))),
                (3, (*dose).into()),
                (5, format!("{unit}^{unit}^UCUM")),
                (7, format!("^{}", esc(text))),
            ],
        ));
        segs.push(seg("RXR", &[(1, "PO^Oral^HL70162".into())]));
    }
    m.push(segs);
}
