//! The specification's own examples, stored and found again by every search parameter they
//! carry a value for, on both backends: what a new user loading real data would try first.
//!
//! Each example in `hl7.fhir.r4.examples@4.0.1` (`$LANTERN_R4_PACKAGE`, else
//! `target/r4pkg/package`, where `.ci/run` unpacks it) is stored with its own id; then, for the
//! first few examples of each type that have a value for a parameter, the indexer's values for
//! that parameter are turned back into a query, as a client would write it (`system|code`,
//! `ge`/`le` around a date's range, `:exact`, `:contains`, `:text`, `:identifier`,
//! `:missing`...), and the search must find the example (and `:not` with its own code must
//! not); sorted by the parameter both ways, it must still be there; where it refers to another
//! example, a chain through the reference, `_include` and `_has` must reach across. This checks
//! the whole chain for every parameter of every type the examples reach: the query parser, the
//! value escaping, the SQL for each parameter type, and that what indexing stored is what a
//! search for it asks. Skipped cleanly when the package is not there.
use lantern_fhir::index::{extract, IndexEntry, IndexValue, Indexer};
use lantern_service::Fhir;
use lantern_testkit::client::{ids_with_mode, put, search_bundle_with};
use lantern_testkit::{backend_tests, ctx, parse};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Examples of each type checked per parameter: enough to meet each parameter's value shapes
/// (a Period and a dateTime, a coded and a text-only concept), few enough to stay quick.
const PER_PARAM: usize = 3;

fn package() -> Option<PathBuf> {
    let dir = std::env::var_os("LANTERN_R4_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/r4pkg/package"));
    dir.is_dir().then_some(dir)
}

/// Examples stored per type. The package is mostly definitions (1,400 SearchParameters, 1,316
/// ValueSets...): a few dozen of each type meet every parameter they give values for, and keep
/// the test to seconds on each backend.
const PER_TYPE: usize = 40;

/// Examples of at most this size: the largest files are Bundles of whole definition sets.
const MAX_BYTES: u64 = 1 << 20;

/// The first [`PER_TYPE`] examples of each type, by file name.
fn examples(dir: &PathBuf) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable package")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.metadata().is_ok_and(|m| m.len() <= MAX_BYTES))
        .collect();
    files.sort();
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    files
        .iter()
        .filter_map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).ok()?).ok())
        .filter(|v| v["resourceType"].is_string() && v["id"].is_string())
        .filter(|v| {
            let n = per_type.entry(v["resourceType"].as_str().unwrap_or_default().to_string()).or_default();
            *n += 1;
            *n <= PER_TYPE
        })
        .collect()
}

/// FHIR search escaping of `\ , $ |` inside a value (R4 §3.1.1.1.6 "Escaping Search Parameters").
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '$' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An instant in microseconds as a FHIR instant at full precision.
fn instant(micros: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
    if !(1..=9999).contains(&t.year()) {
        return None; // an open end of a period
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    ))
}

/// The queries (each a list of name=value pairs ANDed) a client would write to find a
/// resource carrying `entry`'s value.
fn queries(e: &IndexEntry) -> Vec<Vec<(String, String)>> {
    let p = e.param;
    let one = |name: String, value: String| vec![vec![(name, value)]];
    match &e.value {
        IndexValue::String { exact, norm } => {
            let mut q = one(format!("{p}:exact"), esc(exact));
            q.extend(one(p.to_string(), esc(exact)));
            // A piece from the middle, for `:contains`.
            let middle: String = norm.chars().skip(1).take(4).collect();
            if !middle.trim().is_empty() {
                q.extend(one(format!("{p}:contains"), esc(&middle)));
            }
            q
        }
        IndexValue::Token { system, code } => {
            let mut q = one(p.to_string(), format!("{}|{}", esc(system.as_deref().unwrap_or("")), esc(code)));
            q.extend(one(p.to_string(), esc(code)));
            q
        }
        IndexValue::TokenText { norm } if !norm.is_empty() => one(format!("{p}:text"), esc(norm)),
        IndexValue::TokenText { .. } => Vec::new(),
        IndexValue::Reference { target_type, target_id } if target_type.is_empty() => {
            one(p.to_string(), esc(target_id))
        }
        IndexValue::Reference { target_type, target_id } => {
            let mut q = one(p.to_string(), esc(&format!("{target_type}/{target_id}")));
            q.extend(one(format!("{p}:{target_type}"), esc(target_id)));
            q
        }
        IndexValue::ReferenceIdentifier { system, code } => {
            one(format!("{p}:identifier"), format!("{}|{}", esc(system.as_deref().unwrap_or("")), esc(code)))
        }
        // `:of-type` takes all three parts: only identifiers whose type coding has a system.
        IndexValue::IdentifierOfType { system: Some(system), code } => match code.split_once('|') {
            Some((kind, value)) => {
                one(format!("{p}:of-type"), format!("{}|{}|{}", esc(system), esc(kind), esc(value)))
            }
            None => Vec::new(),
        },
        IndexValue::IdentifierOfType { system: None, .. } => Vec::new(),
        IndexValue::Date { lo, hi } => {
            let mut q = Vec::new();
            if let Some(lo) = instant(*lo) {
                q.push(vec![(p.to_string(), format!("ge{lo}"))]);
            }
            if let Some(hi) = instant(*hi) {
                q.push(vec![(p.to_string(), format!("le{hi}"))]);
            }
            q
        }
        IndexValue::Number { lo, hi } => {
            vec![vec![(p.to_string(), format!("ge{lo}")), (p.to_string(), format!("le{hi}"))]]
        }
        IndexValue::Quantity { system, code, lo, hi } => {
            let unit = format!("{}|{}", esc(system.as_deref().unwrap_or("")), esc(code));
            vec![vec![(p.to_string(), format!("ge{lo}|{unit}")), (p.to_string(), format!("le{hi}|{unit}"))]]
        }
        IndexValue::Uri { value } => one(p.to_string(), esc(value)),
        // The key is the components in query form joined by `$` (each `system|code`, `code`,
        // a string, `Type/id` or a uri); a trailing number or quantity is kept apart, in lo.
        IndexValue::Composite { key, lo, .. } => {
            let key = key.replace('\\', "\\\\").replace(',', "\\,");
            match lo {
                None => one(p.to_string(), key),
                Some(lo) => one(p.to_string(), format!("{key}$ge{lo}")),
            }
        }
    }
}

/// One search of `rtype` narrowed to `_id` (the example's own, or the target's for `_has`),
/// and the id that must (or must not) be among its entries of `mode`.
struct Check {
    rtype: String,
    query: Vec<(String, String)>,
    mode: &'static str,
    want: String,
    present: bool,
}

impl Check {
    fn found(rtype: &str, id: &str, mut query: Vec<(String, String)>) -> Check {
        query.push(("_id".into(), esc(id)));
        Check { rtype: rtype.into(), query, mode: "match", want: id.into(), present: true }
    }

    /// Why it failed, if it did.
    async fn run(&self, fhir: &Fhir) -> Option<String> {
        let shown = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let shown = format!("{}?{shown}", self.rtype);
        match fhir.search(&ctx(), Some(&self.rtype), &self.query).await {
            Err(e) => Some(format!("{shown}: {e:?}")),
            Ok(text) => {
                let got = ids_with_mode(&parse(&text), self.mode).contains(&self.want);
                (got != self.present).then(|| {
                    format!(
                        "{shown}: {} {}found among the {} entries",
                        self.want,
                        if got { "" } else { "not " },
                        self.mode
                    )
                })
            }
        }
    }
}

async fn examples_are_found_by_their_parameters(fhir: Fhir) {
    let Some(dir) = package() else {
        eprintln!("skipping: no R4 examples package (set LANTERN_R4_PACKAGE, or run .ci/run once)");
        return;
    };
    // Store every example the server accepts; the refused ones are the validator's business
    // (`lantern-fhir`'s `specification_examples_validate` lists the known-invalid ones).
    let mut stored = Vec::new();
    for v in examples(&dir) {
        let (t, id) = (v["resourceType"].as_str().unwrap(), v["id"].as_str().unwrap());
        if fhir.update(&ctx(), t, id, v.clone(), None).await.is_ok() {
            stored.push(v);
        }
    }
    assert!(stored.len() > 900, "only {} examples stored", stored.len());
    put(&fhir, serde_json::json!({"resourceType": "Basic", "id": "marker", "code": {"text": "x"}})).await;

    let indexer = Indexer::new();
    let held: HashSet<(&str, &str)> =
        stored.iter().map(|v| (v["resourceType"].as_str().unwrap(), v["id"].as_str().unwrap())).collect();
    // (type, parameter) -> examples checked so far.
    let mut seen: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut checks = Vec::new();
    for v in &stored {
        let (t, id) = (v["resourceType"].as_str().unwrap(), v["id"].as_str().unwrap());
        let mut by_param: BTreeMap<&'static str, Vec<IndexEntry>> = BTreeMap::new();
        for e in extract(&indexer, v) {
            by_param.entry(e.param).or_default().push(e);
        }
        for (param, entries) in by_param {
            let n = seen.entry((t.to_string(), param)).or_default();
            if *n >= PER_PARAM {
                continue;
            }
            *n += 1;
            let found = |query: Vec<(String, String)>| Check::found(t, id, query);
            checks.push(found(vec![(format!("{param}:missing"), "false".into())]));
            checks.push(Check { present: false, ..found(vec![(format!("{param}:missing"), "true".into())]) });
            if !entries.iter().all(|e| matches!(e.value, IndexValue::Composite { .. })) {
                checks.push(found(vec![("_sort".into(), param.into())]));
                checks.push(found(vec![("_sort".into(), format!("-{param}"))]));
            }
            // The first value of each kind the parameter indexed for this resource.
            let mut kinds = Vec::new();
            for e in &entries {
                let kind = std::mem::discriminant(&e.value);
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                    checks.extend(queries(e).into_iter().map(found));
                    if let IndexValue::Token { system, code } = &e.value {
                        let value = format!("{}|{}", esc(system.as_deref().unwrap_or("")), esc(code));
                        checks.push(Check { present: false, ..found(vec![(format!("{param}:not"), value)]) });
                    }
                }
            }
            // A reference to an example that is held: chained, included, and reverse-chained.
            let target = entries.iter().find_map(|e| match &e.value {
                IndexValue::Reference { target_type, target_id }
                    if held.contains(&(target_type.as_str(), target_id.as_str())) =>
                {
                    Some((target_type.as_str(), target_id.as_str()))
                }
                _ => None,
            });
            if let Some((tt, tid)) = target {
                checks.push(found(vec![(format!("{param}:{tt}._id"), esc(tid))]));
                // (A resource that refers to itself is a match already, not also an include.)
                checks.extend(((tt, tid) != (t, id)).then(|| Check {
                    mode: "include",
                    want: tid.to_string(),
                    ..found(vec![("_include".into(), format!("{t}:{param}:{tt}"))])
                }));
                checks.push(Check::found(tt, tid, vec![(format!("_has:{t}:{param}:_id"), esc(id))]));
            }
        }
    }
    // Every kind of check must have met something, or a change upstream (the package, the
    // indexer) could leave this test passing on nothing.
    let kinds = |f: &dyn Fn(&Check) -> bool| checks.iter().filter(|c| f(c)).count();
    let key_has = |c: &Check, part: &str| c.query.iter().any(|(k, _)| k.contains(part));
    for (what, n) in [
        ("chains", kinds(&|c| key_has(c, "._id"))),
        ("_has", kinds(&|c| key_has(c, "_has:"))),
        ("_include", kinds(&|c| c.mode == "include")),
        ("_sort", kinds(&|c| key_has(c, "_sort"))),
        (":not", kinds(&|c| key_has(c, ":not"))),
        (":text", kinds(&|c| key_has(c, ":text"))),
        (":identifier", kinds(&|c| key_has(c, ":identifier"))),
        (":of-type", kinds(&|c| key_has(c, ":of-type"))),
        (":contains", kinds(&|c| key_has(c, ":contains"))),
    ] {
        assert!(n > 0, "no {what} checks were made");
    }
    let mut failures = Vec::new();
    for c in &checks {
        if let Some(why) = c.run(&fhir).await {
            failures.push(why);
        }
    }
    // A search that must find nothing, so that a search ignoring its parameters cannot pass.
    let none = search_bundle_with(&fhir, &ctx(), Some("Basic"), "_id=marker&code:text=nothing-like-it").await;
    assert!(ids_with_mode(&none, "match").is_empty());
    eprintln!(
        "{} examples stored; {} searches over {} (type, parameter) pairs; {} failed",
        stored.len(),
        checks.len(),
        seen.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{} searches failed:\n{}", failures.len(), failures.join("\n"));
}

backend_tests!(examples_are_found_by_their_parameters);
