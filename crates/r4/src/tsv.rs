//! Reading the generated tab-separated tables in `data/`.
//!
//! Every generated file starts with `#` comment lines (the source and licence, then the column
//! layout); each other line is one record with tab-separated fields, `-` standing for "absent".

/// The record lines of a generated table (comments and blank lines skipped).
pub(crate) fn records(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `None` for the generator's `-` placeholder.
pub(crate) fn opt(field: &'static str) -> Option<&'static str> {
    if field == "-" || field.is_empty() {
        None
    } else {
        Some(field)
    }
}

/// A comma-separated list field (`-` is the empty list).
pub(crate) fn list(field: &'static str) -> Box<[&'static str]> {
    match opt(field) {
        None => Box::new([]),
        Some(f) => f.split(',').collect(),
    }
}

/// The next field of a record, panicking with the record when the generated table is malformed
/// (the tables are built by `gen/generate.py` and covered by the tests, so this is a build bug).
pub(crate) fn next<'a>(fields: &mut impl Iterator<Item = &'a str>, line: &str) -> &'a str {
    match fields.next() {
        Some(f) => f,
        None => panic!("lantern-r4: malformed generated record: {line}"),
    }
}
