//! FHIR R4 types: the resource types, complex and primitive datatypes, and their base types
//! (R4 §2.24 "Datatypes", §2.25 "Resource", each StructureDefinition's `baseDefinition`).
use std::sync::LazyLock;

use crate::hash::FxHashMap;
use crate::tsv;

/// What a FHIR type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeKind {
    /// A primitive datatype such as `string`, `date`, `code`: in JSON a bare value plus an
    /// optional `_name` sibling carrying its id and extensions.
    Primitive,
    /// A complex datatype such as `Quantity`, `HumanName`, `Element`, `BackboneElement`.
    Complex,
    /// A resource type, including the abstract `Resource` and `DomainResource`.
    Resource,
}

/// One type of the specification.
#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    pub kind: TypeKind,
    /// The type this one is derived from (`baseDefinition`), e.g. `Age` -> `Quantity`,
    /// `code` -> `string`, `Patient` -> `DomainResource`; `None` for `Element` and `Resource`.
    pub base: Option<&'static str>,
    /// `Resource`, `DomainResource` and the datatypes `Element`, `BackboneElement`, `Quantity`-like
    /// abstract roots cannot appear as instances.
    pub is_abstract: bool,
    /// For primitives, the specification's regular expression for the JSON lexical form.
    pub regex: Option<&'static str>,
}

pub(crate) struct Types {
    pub(crate) defs: Vec<TypeDef>,
    pub(crate) by_name: FxHashMap<&'static str, usize>,
    pub(crate) resource_types: Vec<&'static str>,
}

pub(crate) static TYPES: LazyLock<Types> = LazyLock::new(|| {
    let mut defs = Vec::new();
    for line in tsv::records(include_str!("../data/types.tsv")) {
        let mut f = line.split('\t');
        let name = tsv::next(&mut f, line);
        let kind = match tsv::next(&mut f, line) {
            "P" => TypeKind::Primitive,
            "C" => TypeKind::Complex,
            "R" => TypeKind::Resource,
            other => panic!("lantern-r4: unknown type kind {other} in {line}"),
        };
        let base = tsv::opt(tsv::next(&mut f, line));
        let is_abstract = tsv::next(&mut f, line) == "true";
        let regex = tsv::opt(tsv::next(&mut f, line));
        defs.push(TypeDef { name, kind, base, is_abstract, regex });
    }
    let by_name = defs.iter().enumerate().map(|(i, d)| (d.name, i)).collect();
    let mut resource_types: Vec<&'static str> = defs
        .iter()
        .filter(|d| d.kind == TypeKind::Resource && !d.is_abstract && d.name != "Resource")
        .map(|d| d.name)
        .collect();
    resource_types.sort_unstable();
    Types { defs, by_name, resource_types }
});

/// The definition of the type `name` (a type name, not an element path).
pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    let t = &*TYPES;
    t.by_name.get(name).map(|&i| &t.defs[i])
}

/// Every concrete resource type (the values `resourceType` may take), sorted; the abstract
/// `Resource` and `DomainResource` are not in the list.
pub fn resource_types() -> &'static [&'static str] {
    &TYPES.resource_types
}

/// Whether `name` is a concrete resource type (one that can appear as `resourceType`).
pub fn is_resource_type(name: &str) -> bool {
    type_def(name).is_some_and(|d| d.kind == TypeKind::Resource && !d.is_abstract && d.name != "Resource")
}

/// Whether `name` is a primitive, complex or resource type; `None` if it is not an R4 type.
pub fn type_kind(name: &str) -> Option<TypeKind> {
    type_def(name).map(|d| d.kind)
}

/// The base type of `name` as the specification's `baseDefinition` chain says:
/// `Patient` -> `DomainResource` -> `Resource` -> `None`; `Age` -> `Quantity` -> `Element`;
/// `code` -> `string` -> `Element`; `SimpleQuantity` -> `Quantity`.
pub fn base_type(name: &str) -> Option<&'static str> {
    type_def(name).and_then(|d| d.base)
}

/// Whether `name` is `ancestor` or derives from it (`is_a("Age", "Quantity")`,
/// `is_a("Patient", "Resource")`, `is_a("code", "string")`).
pub fn is_a(name: &str, ancestor: &str) -> bool {
    let mut cur = type_def(name);
    while let Some(d) = cur {
        if d.name == ancestor {
            return true;
        }
        cur = d.base.and_then(type_def);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_are_all_there() {
        let r = resource_types();
        assert_eq!(r.len(), 146, "R4 4.0.1 has 146 concrete resource types");
        for t in ["Patient", "Observation", "Bundle", "Binary", "Parameters", "Questionnaire"] {
            assert!(is_resource_type(t), "{t}");
        }
        assert!(!is_resource_type("Resource"));
        assert!(!is_resource_type("DomainResource"));
        assert!(!is_resource_type("HumanName"));
        assert!(!is_resource_type("patient"));
    }

    #[test]
    fn kinds_and_bases() {
        assert_eq!(type_kind("string"), Some(TypeKind::Primitive));
        assert_eq!(type_kind("Quantity"), Some(TypeKind::Complex));
        assert_eq!(type_kind("Resource"), Some(TypeKind::Resource));
        assert_eq!(type_kind("Nonsense"), None);
        assert_eq!(base_type("Patient"), Some("DomainResource"));
        assert_eq!(base_type("DomainResource"), Some("Resource"));
        assert_eq!(base_type("Resource"), None);
        assert_eq!(base_type("Bundle"), Some("Resource"));
        assert_eq!(base_type("Age"), Some("Quantity"));
        assert_eq!(base_type("SimpleQuantity"), Some("Quantity"));
        assert_eq!(base_type("code"), Some("string"));
        assert_eq!(base_type("positiveInt"), Some("integer"));
        assert_eq!(base_type("string"), Some("Element"));
        assert_eq!(base_type("Element"), None);
        assert!(is_a("Age", "Quantity"));
        assert!(is_a("Patient", "Resource"));
        assert!(!is_a("Bundle", "DomainResource"));
        assert!(type_def("date").and_then(|d| d.regex).is_some());
    }
}
