//! Hooks to the world outside one resource (FHIR R4 fhirpath.html §"Additional functions":
//! `resolve()`, `memberOf()`). The engine itself needs no database: the default resolver finds
//! `#id` in `contained` and entries of a Bundle, and otherwise yields a typed stub taken from the
//! reference text (`Patient/123` → an element of type Patient) so `resolve() is Patient` works.

use serde_json::Value;

/// What a reference resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// The referenced resource, borrowed.
    Resource(&'a Value),
    /// Only the type is known (from the reference text).
    Stub(&'a str),
}

/// Resolves references for `resolve()`. Implement it over anything that outlives the
/// evaluation (e.g. resources preloaded for a batch) to return whole resources.
pub trait Resolver<'a> {
    /// Resolves `reference` (a `Reference.reference` or canonical string); `root` is the
    /// resource the expression was evaluated on.
    fn resolve(&self, reference: &'a str, root: Option<&'a Value>) -> Option<Resolved<'a>>;
}

/// `#id` in `contained`, then Bundle entries (by `fullUrl` or `Type/id`), then a stub typed
/// from a relative or absolute `Type/id[/_history/v]` reference.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultResolver;

impl<'a> Resolver<'a> for DefaultResolver {
    fn resolve(&self, reference: &'a str, root: Option<&'a Value>) -> Option<Resolved<'a>> {
        if let Some(id) = reference.strip_prefix('#') {
            let contained = root?.get("contained")?.as_array()?;
            return contained
                .iter()
                .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
                .map(Resolved::Resource);
        }
        if let Some(entries) = root.and_then(|r| r.get("entry")).and_then(Value::as_array) {
            for e in entries {
                let full = e.get("fullUrl").and_then(Value::as_str);
                let res = e.get("resource");
                let rel = res.and_then(|r| Some((r.get("resourceType")?.as_str()?, r.get("id")?.as_str()?)));
                let matches_rel = rel.is_some_and(|(t, id)| {
                    reference.strip_prefix(t).and_then(|r| r.strip_prefix('/')) == Some(id)
                        || reference.ends_with(&format!("/{t}/{id}"))
                });
                if full == Some(reference) || matches_rel {
                    return res.map(Resolved::Resource);
                }
            }
        }
        reference_type(reference).map(Resolved::Stub)
    }
}

/// The resource type named in a `Type/id` reference (relative, absolute or versioned).
pub fn reference_type(reference: &str) -> Option<&str> {
    let path = reference.split(['?', '#']).next()?;
    let parts: Vec<&str> = path.split('/').collect();
    let n = parts.len();
    let type_at = if n >= 4 && parts[n - 2] == "_history" { n.checked_sub(4)? } else { n.checked_sub(2)? };
    let ty = parts[type_at];
    (ty.starts_with(|c: char| c.is_ascii_uppercase()) && ty.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(ty)
}

/// Terminology for `memberOf()`, `subsumes()` and `subsumedBy()`.
pub trait Terminology {
    /// Whether the code, Coding or CodeableConcept (as JSON or a string) is in the value set.
    /// `None`: unknown.
    fn member_of(&self, code: &crate::Item<'_>, value_set: &str) -> Option<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_types() {
        assert_eq!(reference_type("Patient/123"), Some("Patient"));
        assert_eq!(reference_type("http://x.org/fhir/Observation/1/_history/2"), Some("Observation"));
        assert_eq!(reference_type("urn:uuid:1234"), None);
    }
}
