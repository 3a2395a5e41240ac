//! Times as the feeds write them. Everything is kept as Unix seconds (UTC) and formatted at the
//! edge: HL7 v2 `YYYYMMDDHHMMSS+0000`, FHIR `dateTime` with `Z`, FHIR `date`.
use time::{Date, OffsetDateTime};

pub(crate) const DAY: i64 = 86_400;

fn at(ts: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ts).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// HL7 v2 DTM with an explicit offset, so no feed time zone is assumed.
pub(crate) fn v2(ts: i64) -> String {
    let t = at(ts);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// FHIR `dateTime` (UTC).
pub(crate) fn fhir(ts: i64) -> String {
    let t = at(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// FHIR `date`.
pub(crate) fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// HL7 v2 DT.
pub(crate) fn v2_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Whole years from `birth` to the instant `now`.
pub(crate) fn age(birth: Date, now: i64) -> i32 {
    let n = at(now).date();
    let mut a = n.year() - birth.year();
    if (u8::from(n.month()), n.day()) < (u8::from(birth.month()), birth.day()) {
        a -= 1;
    }
    a
}

/// Rounds to a plausible clinic time: between 08:00 and 18:00, on the quarter hour.
pub(crate) fn office_hours(ts: i64, slot: u64) -> i64 {
    let day = ts.div_euclid(DAY) * DAY;
    day + 8 * 3600 + (slot % 40) as i64 * 900
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(v2(0), "19700101000000+0000");
        assert_eq!(fhir(86_400 + 61), "1970-01-02T00:01:01Z");
        let d = Date::from_calendar_date(2000, time::Month::February, 29).unwrap();
        assert_eq!((iso_date(d), v2_date(d)), ("2000-02-29".into(), "20000229".into()));
        assert_eq!(age(d, 951_782_400 + 365 * DAY), 0); // 2001-02-28: not yet one
    }
}
