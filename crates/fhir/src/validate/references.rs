//! References (FHIR R4 §2.3.0 "Resource References": literal references, §2.3.0.1 contained
//! resources (`#id`, constraint ref-1), §3.1.0.11.3 transaction conditional references
//! (`Type?search`), and each Reference element's `targetProfile` list of allowed types).
//!
//! A literal reference is one of: relative `Type/id` or `Type/id/_history/vid` (the R4
//! literal-reference pattern), an absolute URL (from whose tail `.../Type/id` the type is read
//! when it has that shape), `urn:uuid:` / `urn:oid:` (resolved inside a Bundle), `#id` (a
//! contained resource of the same resource; `#` alone is the container), or `Type?query` (a
//! conditional reference in a transaction).
use lantern_r4::is_resource_type;

use super::primitives::{is_id, is_oid, is_uuid};

/// What a reference string points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal<'a> {
    /// `Type/id[/_history/vid]`, or an absolute URL ending so.
    Typed(&'a str),
    /// `#id` (empty for the container itself).
    Contained(&'a str),
    /// An absolute URL or URN whose type cannot be seen from the string.
    Untyped,
}

/// Parses a `Reference.reference` value, or says what is wrong with it.
pub(crate) fn parse(reference: &str) -> Result<Literal<'_>, &'static str> {
    if reference.bytes().any(|c| c.is_ascii_whitespace()) {
        return Err("is not a valid reference: it contains whitespace");
    }
    if let Some(id) = reference.strip_prefix('#') {
        return if id.is_empty() || is_id(id.as_bytes()) {
            Ok(Literal::Contained(id))
        } else {
            Err("is not a valid reference to a contained resource (expected #id)")
        };
    }
    if reference.starts_with("urn:uuid:") {
        return if is_uuid(reference.as_bytes()) {
            Ok(Literal::Untyped)
        } else {
            Err("is not a valid urn:uuid: reference (expected urn:uuid: and a lower-case UUID)")
        };
    }
    if reference.starts_with("urn:oid:") {
        return if is_oid(reference.as_bytes()) {
            Ok(Literal::Untyped)
        } else {
            Err("is not a valid urn:oid: reference")
        };
    }
    // A conditional reference's criteria may hold URLs (`Patient?identifier=http://x|1`), so
    // it is recognised before the absolute-URL form.
    if let Some((ty, query)) = reference.split_once('?') {
        if is_resource_type(ty) && !query.is_empty() {
            return Ok(Literal::Typed(ty));
        }
    }
    if let Some((scheme, rest)) = reference.split_once("://") {
        if scheme.is_empty()
            || rest.is_empty()
            || !scheme.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+')
        {
            return Err("is not a valid absolute URL");
        }
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        return Ok(typed_tail(path).map_or(Literal::Untyped, Literal::Typed));
    }
    if let Some((ty, query)) = reference.split_once('?') {
        return if is_resource_type(ty) && !query.is_empty() {
            Ok(Literal::Typed(ty))
        } else {
            Err("is not a valid conditional reference (expected ResourceType?search-parameters)")
        };
    }
    let mut parts = reference.split('/');
    let (ty, id) = (parts.next().unwrap_or(""), parts.next());
    let history = (parts.next(), parts.next(), parts.next());
    let shape_ok = match history {
        (None, None, None) => true,
        (Some("_history"), Some(v), None) => is_id(v.as_bytes()),
        _ => false,
    };
    match id {
        Some(id) if shape_ok && is_id(id.as_bytes()) => {
            if is_resource_type(ty) {
                Ok(Literal::Typed(ty))
            } else {
                Err("does not start with a known resource type (expected ResourceType/id)")
            }
        }
        _ => Err("is not a valid reference (expected ResourceType/id, an absolute URL, urn:uuid:, urn:oid: or #id)"),
    }
}

/// The type in a URL path ending `Type/id` or `Type/id/_history/vid`.
fn typed_tail(path: &str) -> Option<&str> {
    let mut segs = path.rsplit('/');
    let last = segs.next()?;
    let prev = segs.next()?;
    let (ty, id) = if prev == "_history" {
        let id = segs.next()?;
        (segs.next()?, id)
    } else {
        (prev, last)
    };
    (is_resource_type(ty) && is_id(id.as_bytes())).then_some(ty)
}

/// Whether a reference to `ty` is allowed by the element's target types (empty or `Resource`
/// means any).
pub(crate) fn target_allowed(targets: &[&str], ty: &str) -> bool {
    targets.is_empty() || targets.iter().any(|t| *t == ty || *t == "Resource" || lantern_r4::is_a(ty, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_forms() {
        assert_eq!(parse("Patient/123"), Ok(Literal::Typed("Patient")));
        assert_eq!(parse("Patient/123/_history/2"), Ok(Literal::Typed("Patient")));
        assert_eq!(parse("http://example.org/fhir/Observation/a.1"), Ok(Literal::Typed("Observation")));
        assert_eq!(parse("https://x.org/fhir/Patient/1/_history/3"), Ok(Literal::Typed("Patient")));
        assert_eq!(parse("http://example.org/some/thing"), Ok(Literal::Untyped));
        assert_eq!(parse("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"), Ok(Literal::Untyped));
        assert_eq!(parse("urn:oid:1.2.3"), Ok(Literal::Untyped));
        assert_eq!(parse("#p1"), Ok(Literal::Contained("p1")));
        assert_eq!(parse("#"), Ok(Literal::Contained("")));
        assert_eq!(parse("Patient?identifier=x|1"), Ok(Literal::Typed("Patient")));
        for bad in [
            "Patient",
            "Patient/",
            "Patient/a_b",
            "Pateint/1",
            "patient/1",
            "Patient/1/2",
            "Patient/1/_history",
            "urn:uuid:nope",
            "Nope?x=1",
            "Patient/1 ",
            "#a b",
            "://x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"),
            Ok(Literal::Typed("Patient"))
        );
    }

    #[test]
    fn targets() {
        assert!(target_allowed(&[], "Patient"));
        assert!(target_allowed(&["Patient", "Group"], "Group"));
        assert!(!target_allowed(&["Patient", "Group"], "Practitioner"));
        assert!(target_allowed(&["Resource"], "Practitioner"));
    }
}
