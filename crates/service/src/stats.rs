//! `Observation/$stats` (R4 OperationDefinition Observation-stats): statistics — average,
//! minimum, maximum, median, quartiles, ... — of a patient's measurements of a code over a
//! period, say the mean and spread of a year's home blood pressure readings.
//!
//! The Observations are found by ordinary searches (so through the index and under the
//! caller's access filter): the code in `code` and, separately, in `component-code` (a
//! systolic reading inside a blood pressure panel counts), of the `subject`, `entered-in-error`
//! left out, within `period` or the last `duration` hours. Each code gives one Observation
//! whose components are the statistics asked for (codes of
//! `http://hl7.org/fhir/observation-statistics`). Values are the `valueQuantity` of the
//! Observation (or of its component with the code); those in a unit other than the first
//! value's, or with none, are not counted (`total-count` counts them). Percentiles interpolate
//! linearly between the ordered values; `std-dev` and `variance` are the sample's.
use crate::{Ctx, Error, Fhir};
use lantern_fhir::search::TotalMode;
use lantern_store::clock::format_instant;
use lantern_store::Stored;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most Observations one `$stats` reads across its codes; more is refused with the reason.
const MAX_READ: usize = 20_000;

/// Observations read per page of the underlying searches.
const PAGE: usize = 1000;

const STATISTICS: &str = "http://hl7.org/fhir/observation-statistics";

/// The longest `duration` taken, in hours (200 years).
const MAX_HOURS: f64 = 200.0 * 366.0 * 24.0;

/// The statistics R4 defines that are computed here (the code and its display).
const KNOWN: &[(&str, &str)] = &[
    ("average", "Average"),
    ("maximum", "Maximum"),
    ("minimum", "Minimum"),
    ("count", "Count"),
    ("total-count", "Total Count"),
    ("median", "Median"),
    ("std-dev", "Standard Deviation"),
    ("sum", "Sum"),
    ("variance", "Variance"),
    ("20-percent", "20th Percentile"),
    ("80-percent", "80th Percentile"),
    ("4-lower", "Lower Quartile"),
    ("4-upper", "Upper Quartile"),
    ("4-dev", "Quartile Deviation"),
    ("5-1", "1st Quintile"),
    ("5-2", "2nd Quintile"),
    ("5-3", "3rd Quintile"),
    ("5-4", "4th Quintile"),
];

impl Fhir {
    /// `GET Observation/$stats?subject=Patient/1&system=http://loinc.org&code=8480-6&duration=8760&statistic=average,maximum`:
    /// a Parameters with one `statistics` Observation per code (and the `source` Observations
    /// with `include=true`).
    pub async fn stats(&self, ctx: &Ctx, pairs: &[(String, String)]) -> Result<String, Error> {
        let bad = |p: &str, m: String| Error::bad("invalid", Some(p), m);
        fn all<'a>(pairs: &'a [(String, String)], k: &'a str) -> impl Iterator<Item = &'a str> {
            pairs.iter().filter(move |(n, _)| n == k).map(|(_, v)| v.as_str())
        }
        let get = |k: &'static str| all(pairs, k);
        let subject = get("subject").next().ok_or_else(|| {
            Error::bad("required", Some("subject"), "Observation/$stats needs a subject (e.g. Patient/123)")
        })?;
        let system = get("system").next();
        let mut codes: Vec<(Option<String>, String)> = Vec::new();
        for c in get("code").flat_map(|v| v.split(',')) {
            codes.push((system.map(str::to_string), c.to_string()));
        }
        for c in get("coding").flat_map(|v| v.split(',')) {
            match c.split_once('|') {
                Some((s, code)) => {
                    codes.push((Some(s.to_string()).filter(|s| !s.is_empty()), code.to_string()))
                }
                None => codes.push((None, c.to_string())),
            }
        }
        if codes.is_empty() {
            return Err(Error::bad(
                "required",
                Some("code"),
                "Observation/$stats needs a code (with system) or a coding",
            ));
        }
        let mut statistics: Vec<&'static (&'static str, &'static str)> = Vec::new();
        for s in get("statistic").flat_map(|v| v.split(',')) {
            let known = KNOWN.iter().find(|(c, _)| *c == s).ok_or_else(|| {
                Error::bad(
                    "not-supported",
                    Some("statistic"),
                    format!("statistic '{s}' is not one computed here"),
                )
            })?;
            statistics.push(known);
        }
        if statistics.is_empty() {
            return Err(Error::bad(
                "required",
                Some("statistic"),
                "Observation/$stats needs a statistic (average, maximum, ...)",
            ));
        }
        let now = self.store.now_micros();
        let (start, end) = match (get("duration").next(), get("period").next()) {
            (Some(h), _) => {
                // Up to a lifetime and more (200 years): past that the start would fall before
                // any date a record holds (and outside what an instant can say).
                let hours: f64 =
                    h.parse().ok().filter(|h: &f64| *h > 0.0 && *h <= MAX_HOURS).ok_or_else(|| {
                        bad("duration", format!("duration is a number of hours up to {MAX_HOURS}, not '{h}'"))
                    })?;
                (Some(format_instant(now - (hours * 3_600_000_000.0) as i64)), Some(format_instant(now)))
            }
            (None, Some(p)) => {
                // `period` by GET: `start/end` (either may be empty).
                let (s, e) = p
                    .split_once('/')
                    .ok_or_else(|| bad("period", format!("period is start/end, not '{p}'")))?;
                (Some(s.to_string()).filter(|s| !s.is_empty()), Some(e.to_string()).filter(|e| !e.is_empty()))
            }
            (None, None) => (None, None),
        };
        let include = get("include").next() == Some("true");
        let limit: usize = match get("limit").next() {
            Some(l) => l
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("limit", format!("limit is a positive number, not '{l}'")))?,
            None => usize::MAX,
        };
        let mut parameter = Vec::new();
        let mut sources: Vec<Stored> = Vec::new();
        let mut read_total = 0;
        for (system, code) in &codes {
            let token = match system {
                Some(s) => format!("{s}|{code}"),
                None => code.clone(),
            };
            let mut found: BTreeMap<String, Stored> = BTreeMap::new();
            for param in ["code", "component-code"] {
                let mut q: Vec<(String, String)> = vec![
                    ("subject".into(), subject.to_string()),
                    (param.into(), token.clone()),
                    ("status:not".into(), "entered-in-error".into()),
                    ("_count".into(), PAGE.to_string()),
                ];
                if let Some(s) = &start {
                    q.push(("date".into(), format!("ge{s}")));
                }
                if let Some(e) = &end {
                    q.push(("date".into(), format!("le{e}")));
                }
                let mut req = self.parse_search(ctx, Some("Observation"), &q)?;
                req.total = TotalMode::None;
                loop {
                    let page = self.store.search(req.clone(), ctx.access.clone()).await?;
                    read_total += page.matches.len();
                    for s in page.matches {
                        found.insert(s.id.clone(), s);
                    }
                    if read_total > MAX_READ {
                        return Err(Error::Store(lantern_store::StoreError::invalid(
                            "too-costly",
                            None,
                            format!(
                                "Observation/$stats reads at most {MAX_READ} Observations; narrow the period"
                            ),
                        )));
                    }
                    match page.next {
                        Some(cursor) => req.cursor = Some(cursor),
                        None => break,
                    }
                }
            }
            let observations: Vec<Stored> = found.into_values().collect();
            let bodies: Vec<Value> = observations.iter().map(body_of).collect();
            let (values, unit, total) = measurements(&bodies, system.as_deref(), code);
            let mut components = Vec::new();
            for (stat, display) in statistics.iter().copied() {
                let value = match *stat {
                    "count" => Some(json!({"valueInteger": values.len()})),
                    "total-count" => Some(json!({"valueInteger": total})),
                    s => statistic(s, &values).map(|v| json!({"valueQuantity": quantity(v, &unit)})),
                };
                let Some(value) = value else { continue };
                let mut c =
                    json!({"code": {"coding": [{"system": STATISTICS, "code": stat, "display": display}]}});
                if let (Some(c), Some(v)) = (c.as_object_mut(), value.as_object()) {
                    c.extend(v.clone());
                }
                components.push(c);
            }
            let mut coding = json!({"code": code});
            if let Some(s) = system {
                coding["system"] = json!(s);
            }
            let mut period = serde_json::Map::new();
            if let Some(s) = &start {
                period.insert("start".into(), json!(s));
            }
            if let Some(e) = &end {
                period.insert("end".into(), json!(e));
            }
            let mut obs = json!({
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [coding]},
                "subject": {"reference": subject},
                "issued": format_instant(now),
                "component": components,
            });
            if !period.is_empty() {
                obs["effectivePeriod"] = Value::Object(period);
            }
            parameter.push(json!({"name": "statistics", "resource": obs}));
            if include {
                sources.extend(observations);
            }
        }
        sources.truncate(limit);
        ctx.saw(sources.iter());
        for s in &sources {
            parameter.push(json!({"name": "source", "resource": body_of(s)}));
        }
        Ok(json!({"resourceType": "Parameters", "parameter": parameter}).to_string())
    }
}

fn body_of(s: &Stored) -> Value {
    s.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default()
}

/// A quantity in the unit found (UCUM when the values said so).
fn quantity(v: f64, unit: &Option<(Option<String>, Option<String>, Option<String>)>) -> Value {
    // Round off binary noise (0.1 + 0.2), keeping ten significant places.
    let rounded = format!("{:.10}", v).trim_end_matches('0').trim_end_matches('.').to_string();
    let mut q = json!({"value": rounded.parse::<serde_json::Number>().unwrap_or_else(|_| 0.into())});
    if let Some((u, s, c)) = unit {
        for (k, x) in [("unit", u), ("system", s), ("code", c)] {
            if let Some(x) = x {
                q[k] = json!(x);
            }
        }
    }
    q
}

type Unit = Option<(Option<String>, Option<String>, Option<String>)>;

/// The values of `code` in the Observations (their own value when their code is it, else the
/// value of their component with it), in the first value's unit; the unit; and how many
/// measurements there were in all, counted or not.
fn measurements(bodies: &[Value], system: Option<&str>, code: &str) -> (Vec<f64>, Unit, usize) {
    let has = |cc: &Value| {
        cc["coding"].as_array().into_iter().flatten().any(|c| {
            c["code"].as_str() == Some(code) && system.is_none_or(|s| c["system"].as_str() == Some(s))
        })
    };
    let mut quantities: Vec<&Value> = Vec::new();
    for b in bodies {
        if has(&b["code"]) {
            quantities.push(&b["valueQuantity"]);
        }
        for c in b["component"].as_array().into_iter().flatten() {
            if has(&c["code"]) {
                quantities.push(&c["valueQuantity"]);
            }
        }
    }
    let total = quantities.len();
    let key = |q: &Value| {
        let s = |k: &str| q[k].as_str().map(str::to_string);
        (s("unit"), s("system"), s("code"))
    };
    let unit = quantities.iter().find(|q| q["value"].is_number()).map(|q| key(q));
    let values =
        quantities.iter().filter(|q| Some(key(q)) == unit).filter_map(|q| q["value"].as_f64()).collect();
    (values, unit, total)
}

/// One statistic of the values; `None` where it has no value (none measured, or a spread of one).
fn statistic(stat: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| {
        let rank = p * (sorted.len() - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
    };
    let variance =
        || (values.len() > 1).then(|| values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0));
    Some(match stat {
        "average" => mean,
        "maximum" => sorted[sorted.len() - 1],
        "minimum" => sorted[0],
        "sum" => sum,
        "median" => at(0.5),
        "variance" => variance()?,
        "std-dev" => variance()?.sqrt(),
        "20-percent" => at(0.2),
        "80-percent" => at(0.8),
        "4-lower" => at(0.25),
        "4-upper" => at(0.75),
        "4-dev" => (at(0.75) - at(0.25)) / 2.0,
        "5-1" => at(0.2),
        "5-2" => at(0.4),
        "5-3" => at(0.6),
        "5-4" => at(0.8),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_known_values() {
        let v = [120.0, 130.0, 125.0, 140.0, 135.0];
        assert_eq!(statistic("average", &v), Some(130.0));
        assert_eq!(statistic("minimum", &v), Some(120.0));
        assert_eq!(statistic("maximum", &v), Some(140.0));
        assert_eq!(statistic("median", &v), Some(130.0));
        assert_eq!(statistic("sum", &v), Some(650.0));
        assert_eq!(statistic("variance", &v), Some(62.5));
        assert_eq!(statistic("4-lower", &v), Some(125.0));
        assert_eq!(statistic("4-upper", &v), Some(135.0));
        assert_eq!(statistic("4-dev", &v), Some(5.0));
        assert_eq!(statistic("20-percent", &v), Some(124.0));
        assert_eq!(statistic("std-dev", &[1.0]), None, "no spread from one value");
        assert_eq!(statistic("average", &[]), None);
        assert_eq!(quantity(0.1 + 0.2, &None)["value"].to_string(), "0.3");
    }

    #[test]
    fn values_come_from_the_code_or_its_component_in_one_unit() {
        let mmhg =
            json!({"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
        let kpa = json!({"value": 16, "unit": "kPa", "system": "http://unitsofmeasure.org", "code": "kPa"});
        let sbp = json!({"coding": [{"system": "http://loinc.org", "code": "8480-6"}]});
        let bodies = [
            json!({"code": sbp, "valueQuantity": mmhg}),
            json!({"code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                   "component": [{"code": sbp, "valueQuantity": {"value": 130, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
            json!({"code": sbp, "valueQuantity": kpa}),
            json!({"code": sbp, "valueString": "high"}),
        ];
        let (values, unit, total) = measurements(&bodies, Some("http://loinc.org"), "8480-6");
        assert_eq!(values, [120.0, 130.0]);
        assert_eq!(unit.unwrap().0.as_deref(), Some("mmHg"));
        assert_eq!(total, 4);
    }
}
