//! Turning FHIR values into the words and dates a clinician reads: names, NHS numbers in
//! 3-3-4 form, coded concepts, dates in "3 Nov 2026 14:02" form, and where an item came from.
use serde_json::Value;

pub(crate) const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ORG_TAG: &str = "https://lantern.health/organisation";
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Array(a) => a.first()?.get(p)?,
            _ => cur.get(p)?,
        };
    }
    cur.as_str()
}

/// A CodeableConcept's words: its text, else the first coding's display, else its code.
pub(crate) fn concept(v: Option<&Value>) -> String {
    let Some(v) = v else { return String::new() };
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return t.to_string();
    }
    let codings = v.get("coding").and_then(Value::as_array);
    codings
        .and_then(|cs| cs.iter().find_map(|c| c.get("display").and_then(Value::as_str)))
        .or_else(|| codings.and_then(|cs| cs.iter().find_map(|c| c.get("code").and_then(Value::as_str))))
        .unwrap_or("")
        .to_string()
}

/// The first coding of a concept as `system|code`, for grouping the same thing from two sources.
pub(crate) fn concept_key(v: Option<&Value>) -> Option<String> {
    let c = v?.get("coding")?.as_array()?.first()?;
    Some(format!("{}|{}", c.get("system")?.as_str()?, c.get("code")?.as_str()?))
}

/// "Given FAMILY" from the official name (else the first), as UK records show it.
pub(crate) fn person_name(p: &Value) -> String {
    let names = p.get("name").and_then(Value::as_array);
    let Some(n) = names.and_then(|ns| {
        ns.iter().find(|n| n.get("use").and_then(Value::as_str) == Some("official")).or_else(|| ns.first())
    }) else {
        return "(no name recorded)".into();
    };
    if let Some(t) = n.get("text").and_then(Value::as_str) {
        return t.to_string();
    }
    let given: Vec<&str> = n
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let family = n.get("family").and_then(Value::as_str).unwrap_or("").to_uppercase();
    let mut s = given.join(" ");
    if !family.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&family);
    }
    if s.is_empty() {
        "(no name recorded)".into()
    } else {
        s
    }
}

pub(crate) fn identifier(p: &Value, system: &str) -> Option<String> {
    p.get("identifier")?.as_array()?.iter().find_map(|i| {
        (i.get("system").and_then(Value::as_str) == Some(system))
            .then(|| i.get("value")?.as_str().map(str::to_string))?
    })
}

/// An NHS number in the 3-3-4 groups it is read aloud in.
pub(crate) fn nhs(n: &str) -> String {
    let d: String = n.chars().filter(char::is_ascii_digit).collect();
    if d.len() == 10 {
        format!("{} {} {}", &d[..3], &d[3..6], &d[6..])
    } else {
        n.to_string()
    }
}

/// "3 Nov 2026" (or "Nov 2026", "2026" for partial dates) from a FHIR date or dateTime.
pub(crate) fn date(s: &str) -> String {
    let parts: Vec<&str> = s.get(..10.min(s.len())).unwrap_or("").split('-').collect();
    match parts.as_slice() {
        [y, m, d] => match (m.parse::<usize>(), d.parse::<u32>()) {
            (Ok(m @ 1..=12), Ok(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
            _ => s.to_string(),
        },
        [y, m] => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=12).contains(m))
            .map_or(s.to_string(), |m| format!("{} {y}", MONTHS[m - 1])),
        _ => s.to_string(),
    }
}

/// "3 Nov 2026 14:02" from a FHIR dateTime or instant (the time as written, which is local
/// time for the feeds Lantern maps).
pub(crate) fn date_time(s: &str) -> String {
    match s.get(11..16) {
        Some(hm) if s.as_bytes().get(10) == Some(&b'T') => format!("{} {hm}", date(s)),
        _ => date(s),
    }
}

/// Whole years between a birth date and today's date (both `YYYY-MM-DD`).
pub(crate) fn age(birth: &str, today: &str) -> Option<i64> {
    let p = |s: &str| -> Option<(i64, i64, i64)> {
        Some((s.get(0..4)?.parse().ok()?, s.get(5..7)?.parse().ok()?, s.get(8..10)?.parse().ok()?))
    };
    let (by, bm, bd) = p(birth)?;
    let (ty, tm, td) = p(today)?;
    Some(ty - by - i64::from((tm, td) < (bm, bd)))
}

/// Today's date (`YYYY-MM-DD`, UTC) for a clock reading in microseconds.
pub(crate) fn today(now_micros: i64) -> String {
    lantern_store::clock::format_instant(now_micros).get(..10).unwrap_or("").to_string()
}

/// The organisation that holds a resource (its data controller), from Lantern's tag.
pub(crate) fn holder(r: &Value) -> Option<&str> {
    r.get("meta")?.get("tag")?.as_array()?.iter().find_map(|t| {
        (t.get("system").and_then(Value::as_str) == Some(ORG_TAG)).then(|| t.get("code")?.as_str())?
    })
}

/// The feed a resource arrived by, from `meta.source` (`.../feed/ID#control-id`).
pub(crate) fn feed(r: &Value) -> Option<String> {
    let s = r.get("meta")?.get("source")?.as_str()?;
    let s = s.split('#').next().unwrap_or(s);
    Some(s.rsplit('/').next().unwrap_or(s).to_string())
}

pub(crate) fn updated(r: &Value) -> Option<&str> {
    r.get("meta")?.get("lastUpdated")?.as_str()
}

/// The first instant an item is "about": its period start, start, effective or onset time.
pub(crate) fn when(r: &Value) -> Option<&str> {
    for path in [
        &["period", "start"][..],
        &["start"],
        &["effectiveDateTime"],
        &["effectivePeriod", "start"],
        &["occurrenceDateTime"],
        &["onsetDateTime"],
        &["authoredOn"],
        &["recordedDate"],
        &["issued"],
        &["date"],
    ] {
        if let Some(s) = str_at(r, path) {
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_numbers_and_dates() {
        let p = json!({"name": [{"use": "usual", "given": ["Jim"]}, {"use": "official", "family": "Smith", "given": ["James", "Paul"]}],
                       "identifier": [{"system": NHS_SYSTEM, "value": "9990000018"}]});
        assert_eq!(person_name(&p), "James Paul SMITH");
        assert_eq!(nhs(&identifier(&p, NHS_SYSTEM).unwrap()), "999 000 0018");
        assert_eq!(date("2026-11-03"), "3 Nov 2026");
        assert_eq!(date("2026-11"), "Nov 2026");
        assert_eq!(date_time("2026-11-03T14:02:00+00:00"), "3 Nov 2026 14:02");
        assert_eq!(date_time("2026-11-03"), "3 Nov 2026");
        assert_eq!(age("1950-12-06", "2026-12-05"), Some(75));
        assert_eq!(age("1950-12-05", "2026-12-05"), Some(76));
        assert_eq!(person_name(&json!({})), "(no name recorded)");
    }

    #[test]
    fn concepts_and_provenance() {
        let c = json!({"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]});
        assert_eq!(concept(Some(&c)), "Hypertension");
        assert_eq!(concept_key(Some(&c)).as_deref(), Some("http://snomed.info/sct|38341003"));
        let r = json!({"meta": {"source": "https://lantern.health/feed/nbt-pas#C1",
                                "tag": [{"system": ORG_TAG, "code": "RVJ"}]}});
        assert_eq!(holder(&r), Some("RVJ"));
        assert_eq!(feed(&r).as_deref(), Some("nbt-pas"));
    }
}
