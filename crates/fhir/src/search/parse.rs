//! From query-string pairs to a [`SearchRequest`] (R4 §3.1.1: parameters, modifiers, chains,
//! `_has`, result parameters). Unknown parameters follow `Prefer: handling` (§3.1.1.1.1): strict
//! refuses the search, lenient ignores them and says so.
use super::value::parse_value;
use super::*;
use crate::Issue;
use lantern_r4::{search_param, SearchParamDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    Strict,
    #[default]
    Lenient,
}

/// Result and control parameters that are not search criteria.
const CONTROL: &[&str] = &[
    "_format",
    "_pretty",
    "_summary",
    "_elements",
    "_count",
    "_total",
    "_sort",
    "_include",
    "_revinclude",
    "_page",
    "_contained",
    "_containedType",
];

/// Parses the query of a search on `rtype` (None: system search). `pairs` are URL-decoded.
pub fn parse(
    rtype: Option<&str>,
    pairs: &[(String, String)],
    handling: Handling,
) -> Result<SearchRequest, Vec<Issue>> {
    // `_filter` (see `filter`): a conjunction becomes ordinary parameters; `or` and `not` become
    // groups of criteria. Refused whatever the handling when it cannot be taken, since ignoring
    // it would return what it excludes.
    let expanded: Vec<(String, String)>;
    let mut groups: Vec<Criterion> = Vec::new();
    let mut group_used: Vec<(String, String)> = Vec::new();
    let pairs = if pairs.iter().any(|(k, _)| k == "_filter") {
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if k != "_filter" {
                out.push((k.clone(), v.clone()));
                continue;
            }
            let refuse = |e: String| {
                let code = if e.contains("not supported") { "not-supported" } else { "invalid" };
                vec![Issue::error(code, Some("_filter".to_string()), e)]
            };
            let f = super::filter::read(rtype, v).map_err(refuse)?;
            match super::filter::as_parameters(&f) {
                Some(params) => out.extend(params),
                None => {
                    let Some(t) = rtype else {
                        return Err(refuse("_filter's 'or' and 'not' need a resource type to search".into()));
                    };
                    groups.extend(filter_criteria(t, &f)?);
                    group_used.push((k.clone(), v.clone()));
                }
            }
        }
        expanded = out;
        &expanded[..]
    } else {
        pairs
    };
    let mut req =
        SearchRequest { rtype: rtype.map(str::to_string), count: DEFAULT_COUNT, ..Default::default() };
    let mut issues = Vec::new();
    let system_types: Vec<&str> = if rtype.is_none() {
        pairs
            .iter()
            .filter(|(k, _)| k == "_type")
            .flat_map(|(_, v)| v.split(','))
            .filter(|t| lantern_r4::is_resource_type(t))
            .collect()
    } else {
        Vec::new()
    };
    for (key, raw) in pairs {
        // "Empty parameters are not an error - they are just ignored by the server" (R4
        // §3.1.1.1): a form with a field left blank. Conditional operations, where a dropped
        // criterion would widen the match, check that some criterion is left.
        if raw.trim().is_empty() {
            continue;
        }
        let (name, modifier_text) = match key.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (key.as_str(), None),
        };
        let r = match name {
            "_count" => parse_count(raw).map(|c| {
                req.count = c;
                // R4 §3.1.1.5.6: `_count=0` is treated as `_summary=count` (the total, no entries).
                if c == 0 {
                    req.summary = Some(Summary::Count);
                }
            }),
            "_total" => match raw.as_str() {
                "none" => {
                    req.total = TotalMode::None;
                    Ok(())
                }
                "estimate" => {
                    req.total = TotalMode::Estimate;
                    Ok(())
                }
                "accurate" => {
                    req.total = TotalMode::Accurate;
                    Ok(())
                }
                _ => Err(invalid(key, format!("_total must be none, estimate or accurate, not '{raw}'"))),
            },
            "_summary" => match raw.as_str() {
                "true" => {
                    req.summary = Some(Summary::True);
                    Ok(())
                }
                "text" => {
                    req.summary = Some(Summary::Text);
                    Ok(())
                }
                "data" => {
                    req.summary = Some(Summary::Data);
                    Ok(())
                }
                "count" => {
                    req.summary = Some(Summary::Count);
                    Ok(())
                }
                "false" => {
                    req.summary = Some(Summary::False);
                    Ok(())
                }
                _ => Err(invalid(
                    key,
                    format!("_summary must be true, text, data, count or false, not '{raw}'"),
                )),
            },
            "_elements" => {
                req.elements.extend(raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
                Ok(())
            }
            "_sort" => parse_sort(rtype, raw).map(|s| req.sort.extend(s)),
            "_include" | "_revinclude" => {
                let iterate = matches!(modifier_text, Some("iterate") | Some("recurse"));
                parse_include(raw, iterate).map(|inc| {
                    if name == "_include" {
                        req.include.push(inc)
                    } else {
                        req.revinclude.push(inc)
                    }
                })
            }
            "_page" => {
                req.cursor = Some(raw.clone());
                Ok(())
            }
            "_linked" => match raw.as_str() {
                "true" => {
                    req.linked = true;
                    Ok(())
                }
                "false" => Ok(()),
                _ => Err(invalid(key, format!("_linked must be true or false, not '{raw}'"))),
            },
            "_type" if rtype.is_none() => {
                for t in raw.split(',') {
                    if lantern_r4::is_resource_type(t) {
                        req.types.push(t.to_string());
                    } else {
                        issues.push(invalid(key, format!("_type: '{t}' is not a resource type")));
                    }
                }
                continue;
            }
            n if CONTROL.contains(&n) => Ok(()),
            _ => {
                // A system search names its types with `_type` (anywhere in the query); its
                // criteria are those parameters the types define, not only Resource's.
                let mut bases: Vec<&str> = match rtype {
                    Some(t) => vec![t],
                    None => system_types.clone(),
                };
                bases.push("Resource");
                // The first type that knows the parameter decides; a real error (a bad value)
                // is kept rather than replaced by a later type's "unknown parameter".
                let mut parsed = parse_criterion(bases[0], key, raw);
                for b in &bases[1..] {
                    match &parsed {
                        Err(e) if e.code == "not-supported" => {
                            if let Ok(c) = parse_criterion(b, key, raw) {
                                parsed = Ok(c);
                            }
                        }
                        _ => break,
                    }
                }
                match parsed {
                    Ok(c) => {
                        req.criteria.push(c);
                        req.used.push((key.clone(), raw.clone()));
                        continue;
                    }
                    Err(e) if e.code == "not-supported" && handling == Handling::Lenient => {
                        req.ignored.push(key.clone());
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok(()) => {
                if name != "_page" && name != "_format" && name != "_pretty" {
                    req.used.push((key.clone(), raw.clone()));
                }
            }
            Err(e) => issues.push(e),
        }
    }
    if issues.is_empty() {
        req.criteria.extend(groups);
        req.used.extend(group_used);
        Ok(req)
    } else {
        Err(issues)
    }
}

/// The criteria of a `_filter` with groups: each comparison parsed as the parameter it stands
/// for (strictly: an unknown one is an error), `or` and `not` as groups of them.
fn filter_criteria(rtype: &str, f: &super::filter::Filter) -> Result<Vec<Criterion>, Vec<Issue>> {
    use super::filter::Filter;
    Ok(match f {
        Filter::Param(k, v) => {
            let one = parse(Some(rtype), &[(k.clone(), v.clone())], Handling::Strict)?;
            if one.criteria.len() != 1 {
                return Err(vec![invalid("_filter", format!("'{k}' is not a search criterion"))]);
            }
            one.criteria
        }
        Filter::And(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(filter_criteria(rtype, p)?);
            }
            all
        }
        Filter::Or(parts) => {
            vec![Criterion::Any(parts.iter().map(|p| filter_criteria(rtype, p)).collect::<Result<_, _>>()?)]
        }
        Filter::Not(inner) => vec![Criterion::Not(filter_criteria(rtype, inner)?)],
    })
}

fn invalid(key: &str, msg: String) -> Issue {
    Issue::error("invalid", Some(key.to_string()), msg)
}

fn parse_count(raw: &str) -> Result<usize, Issue> {
    raw.parse::<usize>()
        .map(|c| c.min(MAX_COUNT))
        .map_err(|_| invalid("_count", format!("_count must be a whole number, not '{raw}'")))
}

fn parse_sort(rtype: Option<&str>, raw: &str) -> Result<Vec<SortKey>, Issue> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (descending, code) = match part.strip_prefix('-') {
            Some(c) => (true, c),
            None => (false, part),
        };
        let known = matches!(code, "_id" | "_lastUpdated")
            || rtype.and_then(|t| search_param(t, code)).is_some_and(supported)
            || search_param("Resource", code).is_some_and(supported);
        if !known {
            return Err(Issue::error(
                "not-supported",
                Some("_sort".into()),
                format!(
                    "cannot sort by '{code}': it is not a search parameter of {}",
                    rtype.unwrap_or("the system")
                ),
            ));
        }
        out.push(SortKey { code: code.to_string(), descending });
    }
    Ok(out)
}

fn parse_include(raw: &str, iterate: bool) -> Result<Include, Issue> {
    if raw == "*" {
        return Ok(Include { source_type: "*".into(), param: None, target_type: None, iterate });
    }
    let parts: Vec<&str> = raw.split(':').collect();
    let (src, param, target) = match parts.as_slice() {
        [s, p] => (*s, *p, None),
        [s, p, t] => (*s, *p, Some(*t)),
        _ => {
            return Err(invalid(
                "_include",
                format!("'{raw}' is not of the form Type:parameter[:TargetType]"),
            ))
        }
    };
    if !lantern_r4::is_resource_type(src) {
        return Err(invalid("_include", format!("'{src}' is not a resource type")));
    }
    if let Some(t) = target {
        if !lantern_r4::is_resource_type(t) {
            return Err(invalid("_include", format!("'{t}' is not a resource type")));
        }
    }
    if param == "*" {
        return Ok(Include {
            source_type: src.into(),
            param: None,
            target_type: target.map(str::to_string),
            iterate,
        });
    }
    match search_param(src, param) {
        Some(d) if d.kind == SearchParamType::Reference => Ok(Include {
            source_type: src.into(),
            param: Some(d.code),
            target_type: target.map(str::to_string),
            iterate,
        }),
        Some(_) => Err(invalid("_include", format!("{src}:{param} is not a reference parameter"))),
        None => Err(Issue::error(
            "not-supported",
            Some("_include".into()),
            format!("{src} has no search parameter '{param}'"),
        )),
    }
}

fn unknown(rtype: &str, code: &str) -> Issue {
    Issue::error("not-supported", Some(code.to_string()), format!("{rtype} has no search parameter '{code}'"))
}

/// The definition of `code` on `rtype`, if Lantern can search by it. The R4 parameters with no
/// expression (`_text`, `_content`, `_query`, Patient `age` and
/// `birthOrderBoolean`) are left to each server; Lantern indexes nothing for them, so it
/// refuses them as unsupported (an error when strict, ignored with a warning when lenient)
/// rather than answering every search by them with nothing.
fn lookup(rtype: &str, code: &str) -> Result<&'static SearchParamDef, Issue> {
    let d = search_param(rtype, code).ok_or_else(|| unknown(rtype, code))?;
    if !supported(d) {
        return Err(Issue::error(
            "not-supported",
            Some(code.to_string()),
            format!("Lantern does not support searching by '{code}' (the specification defines no expression for it)"),
        ));
    }
    Ok(d)
}

fn supported(d: &SearchParamDef) -> bool {
    d.expression.is_some()
}

/// Parses one criterion key (with chains, `_has` and modifiers) and its value list.
fn parse_criterion(rtype: &str, key: &str, raw: &str) -> Result<Criterion, Issue> {
    if let Some(rest) = key.strip_prefix("_has:") {
        // _has:SourceType:refParam:rest
        let mut it = rest.splitn(3, ':');
        let (Some(src), Some(refp), Some(inner)) = (it.next(), it.next(), it.next()) else {
            return Err(invalid(key, "_has must be _has:Type:reference:parameter".into()));
        };
        if !lantern_r4::is_resource_type(src) {
            return Err(invalid(key, format!("_has: '{src}' is not a resource type")));
        }
        let d = lookup(src, refp)?;
        if d.kind != SearchParamType::Reference {
            return Err(invalid(key, format!("_has: {src}.{refp} is not a reference parameter")));
        }
        if !d.targets.is_empty() && rtype != "Resource" && !d.targets.contains(&rtype) {
            return Err(invalid(key, format!("_has: {src}.{refp} cannot refer to {rtype}")));
        }
        let inner = parse_criterion(src, inner, raw)?;
        return Ok(Criterion::Has { source_type: src.into(), ref_code: d.code, inner: Box::new(inner) });
    }
    // A chain: the first dot outside the modifier splits the reference parameter from the rest.
    if let Some(dot) = key.find('.') {
        let (head, rest) = (&key[..dot], &key[dot + 1..]);
        let (code, type_mod) = match head.split_once(':') {
            Some((c, t)) => (c, Some(t)),
            None => (head, None),
        };
        let d = lookup(rtype, code)?;
        if d.kind != SearchParamType::Reference {
            return Err(invalid(
                key,
                format!("'{code}' is not a reference parameter, so it cannot be chained"),
            ));
        }
        let targets: Vec<String> = match type_mod {
            Some(t) => {
                if !lantern_r4::is_resource_type(t) {
                    return Err(invalid(key, format!("'{t}' is not a resource type")));
                }
                vec![t.to_string()]
            }
            None => d.targets.iter().map(|s| s.to_string()).collect(),
        };
        // Each possible target must understand the rest of the chain; keep those that do.
        let mut inner = None;
        let mut kept = Vec::new();
        let mut last_err = None;
        for t in &targets {
            match parse_criterion(t, rest, raw) {
                Ok(c) => {
                    if inner.is_none() {
                        inner = Some(c);
                    }
                    kept.push(t.clone());
                }
                Err(e) => last_err = Some(e),
            }
        }
        return match inner {
            Some(c) => Ok(Criterion::Chain { code: d.code, target_types: kept, inner: Box::new(c) }),
            None => Err(last_err.unwrap_or_else(|| unknown(rtype, rest))),
        };
    }
    let (code, modifier_text) = match key.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (key, None),
    };
    let d = lookup(rtype, code)?;
    let modifier = match modifier_text {
        None => Modifier::None,
        Some("missing") => {
            let missing = match raw {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(key, format!(":missing takes true or false, not '{raw}'"))),
            };
            return Ok(Criterion::Missing { code: d.code, kind: d.kind, missing });
        }
        Some("exact") if d.kind == SearchParamType::String => Modifier::Exact,
        Some("contains") if matches!(d.kind, SearchParamType::String | SearchParamType::Uri) => {
            Modifier::Contains
        }
        Some("not") if d.kind == SearchParamType::Token => Modifier::Not,
        Some("text") if d.kind == SearchParamType::Token => Modifier::Text,
        Some("in") if d.kind == SearchParamType::Token => Modifier::In,
        Some("not-in") if d.kind == SearchParamType::Token => Modifier::NotIn,
        Some("of-type") if d.kind == SearchParamType::Token => Modifier::OfType,
        Some("identifier") if d.kind == SearchParamType::Reference => Modifier::Identifier,
        Some("above") if matches!(d.kind, SearchParamType::Uri | SearchParamType::Token) => Modifier::Above,
        Some("below") if matches!(d.kind, SearchParamType::Uri | SearchParamType::Token) => Modifier::Below,
        Some(t) if d.kind == SearchParamType::Reference && lantern_r4::is_resource_type(t) => {
            Modifier::Type(t.to_string())
        }
        // An error under either handling: "Servers SHALL reject any search request that contains
        // a search parameter with an unsupported modifier" (R4 §3.1.1.4; the specification's
        // own example, OperationOutcome/searchfail, uses code-invalid). Ignoring it would widen
        // the search: `name:of-type=...|MR|123` would list every patient.
        Some(m) => {
            return Err(Issue::error(
                "code-invalid",
                Some(key.to_string()),
                format!("modifier ':{m}' is not supported on {} parameter '{code}'", d.kind.as_str()),
            ))
        }
    };
    let mut values = Vec::new();
    for part in split_keep_escapes(raw) {
        values.push(parse_value(d.kind, &modifier, &part, key)?);
    }
    if values.is_empty() {
        return Err(invalid(key, format!("parameter '{key}' has no value")));
    }
    Ok(Criterion::Param { code: d.code, kind: d.kind, modifier, values })
}

/// Splits on unescaped commas but keeps other escapes for the value parser.
fn split_keep_escapes(raw: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let last = out.last_mut().unwrap();
                match chars.next() {
                    Some(',') => last.push(','),
                    Some(n) => {
                        last.push('\\');
                        last.push(n);
                    }
                    None => last.push('\\'),
                }
            }
            ',' => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_params_modifiers_and_results() {
        let r = parse(
            Some("Observation"),
            &q(&[
                ("code", "http://loinc.org|1,2"),
                ("status:not", "final"),
                ("_count", "5"),
                ("_sort", "-date"),
            ]),
            Handling::Strict,
        )
        .unwrap();
        assert_eq!(r.criteria.len(), 2);
        assert_eq!(r.count, 5);
        assert_eq!(r.sort, vec![SortKey { code: "date".into(), descending: true }]);
        match &r.criteria[0] {
            Criterion::Param { values, .. } => assert_eq!(values.len(), 2),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn chains_and_has() {
        let r =
            parse(Some("Observation"), &q(&[("subject:Patient.name", "smith")]), Handling::Strict).unwrap();
        assert!(
            matches!(&r.criteria[0], Criterion::Chain { code: "subject", target_types, .. } if target_types == &vec!["Patient".to_string()])
        );
        let r = parse(Some("Patient"), &q(&[("_has:Observation:patient:code", "1234")]), Handling::Strict)
            .unwrap();
        assert!(matches!(&r.criteria[0], Criterion::Has { ref_code: "patient", .. }));
        let r =
            parse(Some("Observation"), &q(&[("patient.organization.name", "x")]), Handling::Strict).unwrap();
        assert!(
            matches!(&r.criteria[0], Criterion::Chain { inner, .. } if matches!(**inner, Criterion::Chain { .. }))
        );
    }

    #[test]
    fn system_search_criteria_use_the_listed_types() {
        let r =
            parse(None, &q(&[("name", "x"), ("_type", "Patient,Organization")]), Handling::Strict).unwrap();
        assert_eq!(r.criteria.len(), 1);
        assert!(parse(None, &q(&[("name", "x")]), Handling::Strict).is_err());
    }

    #[test]
    fn parameters_without_an_expression_are_refused_not_answered_empty() {
        for (t, code) in [
            ("Observation", "_text"),
            ("Patient", "_content"),
            ("Patient", "_query"),
            ("Patient", "age"),
            ("Patient", "birthOrderBoolean"),
        ] {
            let e = parse(Some(t), &q(&[(code, "x")]), Handling::Strict).unwrap_err();
            assert_eq!(e[0].code, "not-supported", "{t}?{code}");
            assert!(e[0].diagnostics.contains("does not support"), "{}", e[0].diagnostics);
            let r = parse(Some(t), &q(&[(code, "x")]), Handling::Lenient).unwrap();
            assert_eq!(r.ignored, vec![code.to_string()], "{t}?{code} ignored when lenient");
            assert!(parse(Some(t), &q(&[("_sort", code)]), Handling::Lenient).is_err(), "{t}?_sort={code}");
        }
    }

    #[test]
    fn a_filter_that_cannot_be_taken_is_refused_whatever_the_handling() {
        for h in [Handling::Strict, Handling::Lenient] {
            let e = parse(Some("Patient"), &q(&[("_filter", "x")]), h).unwrap_err();
            assert_eq!((e[0].code, e[0].expression.as_deref()), ("invalid", Some("_filter")));
            let e = parse(Some("Patient"), &q(&[("_filter", "name ew son")]), h).unwrap_err();
            assert_eq!(e[0].code, "not-supported");
            let e = parse(None, &q(&[("_filter", "not (gender eq male)")]), h).unwrap_err();
            assert!(e[0].diagnostics.contains("need a resource type"), "{}", e[0].diagnostics);
        }
        let r = parse(Some("Patient"), &q(&[("_filter", "gender eq male")]), Handling::Strict).unwrap();
        assert_eq!(r.criteria.len(), 1);
        assert_eq!(r.used, q(&[("gender", "male")]), "a conjunction is its parameters");
        let r = parse(Some("Patient"), &q(&[("_filter", "not (gender eq male)")]), Handling::Strict).unwrap();
        assert!(matches!(&r.criteria[..], [Criterion::Not(inner)] if inner.len() == 1));
        assert_eq!(
            r.used,
            q(&[("_filter", "not (gender eq male)")]),
            "a group is kept as written, for links"
        );
    }

    #[test]
    fn empty_parameters_are_ignored() {
        for h in [Handling::Strict, Handling::Lenient] {
            let r =
                parse(Some("Patient"), &q(&[("name", ""), ("gender", "male"), ("_count", " ")]), h).unwrap();
            assert_eq!(r.criteria.len(), 1);
            assert!(r.ignored.is_empty(), "ignored as the specification says, without a warning");
        }
    }

    #[test]
    fn unknown_parameters_follow_handling() {
        assert!(parse(Some("Patient"), &q(&[("nonsense", "1")]), Handling::Strict).is_err());
        let r = parse(Some("Patient"), &q(&[("nonsense", "1")]), Handling::Lenient).unwrap();
        assert_eq!(r.ignored, vec!["nonsense".to_string()]);
        assert!(parse(Some("Patient"), &q(&[("birthdate", "notadate")]), Handling::Lenient).is_err());
        // A known parameter with a modifier Lantern does not support is refused either way.
        for h in [Handling::Strict, Handling::Lenient] {
            assert!(parse(Some("Patient"), &q(&[("name:of-type", "http://x|MR|1")]), h).is_err());
            assert!(parse(Some("Patient"), &q(&[("gender:fuzzy", "male")]), h).is_err());
        }
    }
}
