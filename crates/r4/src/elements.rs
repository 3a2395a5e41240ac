//! FHIR R4 element definitions and JSON property resolution (R4 §2.6.0 "JSON representation",
//! §2.24.0.1 "Choice of datatypes" (`[x]`), §2.4 "Extensibility" / JSON primitive `_name`
//! siblings, and `ElementDefinition.contentReference`).
//!
//! The table holds only the elements a type defines itself (from its snapshot, skipping those
//! whose `base.path` names an ancestor); inherited ones (`id`, `meta`, `extension`,
//! `modifierExtension`, ...) are merged in once, when the table is first used, by walking the
//! base-type chain. A backbone element's path (`Patient.contact`) is a parent just like a type
//! name, with `BackboneElement` (or `Element`) as its base.
use std::sync::LazyLock;

use crate::hash::FxHashMap;
use crate::tsv;
use crate::types::{type_def, TypeKind};

/// One allowed type of an element (`ElementDefinition.type`).
#[derive(Debug)]
pub struct TypeRef {
    /// The type's name: `string`, `Quantity`, `Reference`, `BackboneElement`, `Resource`, or for
    /// the value of a primitive a FHIRPath system type such as `System.String`.
    pub code: &'static str,
    /// A core profile the value must conform to, e.g. `SimpleQuantity` (for `Quantity`).
    pub profile: Option<&'static str>,
    /// For `Reference` and `canonical`: the resource types (core profile names) the element may
    /// point at (`targetProfile`); empty means any.
    pub targets: Box<[&'static str]>,
    /// The kind of `code` (`None` for the `System.*` types of primitive values).
    pub kind: Option<TypeKind>,
}

/// One element of a type, as the specification defines it.
#[derive(Debug)]
pub struct ElementDef {
    /// The defining path, e.g. `Patient.name`, `Resource.id`, `Observation.value[x]`.
    pub path: &'static str,
    /// The last path segment, e.g. `name`, `value[x]`.
    pub name: &'static str,
    pub min: u32,
    /// Maximum cardinality; `None` is `*`.
    pub max: Option<u32>,
    /// Allowed types; several only for choice (`[x]`) elements; empty with `content_reference`.
    pub types: Box<[TypeRef]>,
    /// For elements defined by reference to another element (`Questionnaire.item.item` ->
    /// `Questionnaire.item`), the referenced element's path.
    pub content_reference: Option<&'static str>,
    /// The value set URL (without version) of a `required` binding.
    pub required_binding: Option<&'static str>,
    pub is_summary: bool,
    pub is_modifier: bool,
    base_name: &'static str,
}

impl ElementDef {
    /// Whether this is a choice element (`value[x]`).
    pub fn is_choice(&self) -> bool {
        self.name.ends_with("[x]")
    }

    /// Whether the element repeats (max cardinality above 1), so that JSON holds an array.
    pub fn is_array(&self) -> bool {
        !matches!(self.max, Some(0 | 1))
    }

    /// The name without `[x]` (`value` for `value[x]`).
    pub fn base_name(&self) -> &'static str {
        self.base_name
    }
}

/// What a JSON property name stands for under a type or backbone element, see [`child`].
#[derive(Debug, Clone, Copy)]
pub struct ChildInfo {
    pub element: &'static ElementDef,
    /// The element's defining path (`Observation.value[x]`, `Resource.id` for an inherited one).
    pub path: &'static str,
    /// The FHIR type of the value: `Quantity` for `valueQuantity`, `date` for `birthDate`; for an
    /// inline backbone element (`Patient.contact`) or a content reference, the element path to
    /// resolve its children with (`Patient.contact`, `Questionnaire.item`).
    pub type_name: &'static str,
    /// The matched `ElementDefinition.type` (for a content reference, the referenced element's).
    pub type_ref: Option<&'static TypeRef>,
    pub min: u32,
    /// `None` is `*`.
    pub max: Option<u32>,
    pub is_choice: bool,
    kind: Option<TypeKind>,
    /// True for the `_name` sibling of a primitive, which holds the primitive's `id` and
    /// `extension` (an `Element`) rather than its value.
    pub is_primitive_extension: bool,
    /// The value set URL (without version) of a `required` binding.
    pub required_binding: Option<&'static str>,
}

impl ChildInfo {
    /// Whether JSON holds an array for this property.
    pub fn is_array(&self) -> bool {
        self.element.is_array()
    }

    /// Whether `type_name` is a backbone element path rather than a type name.
    pub fn is_backbone(&self) -> bool {
        self.type_name.contains('.')
    }

    /// The kind of `type_name` (backbone elements are [`TypeKind::Complex`]); `None` for the
    /// system types of primitive values.
    pub fn kind(&self) -> Option<TypeKind> {
        self.kind
    }

    /// For `Reference`/`canonical`: the allowed target types (empty = any).
    pub fn target_types(&self) -> &'static [&'static str] {
        self.type_ref.map_or(&[], |t| &t.targets)
    }
}

struct Node {
    /// Own and inherited children, own first, in definition order.
    children: Vec<&'static ElementDef>,
    /// The choice elements among them.
    choices: Vec<&'static ElementDef>,
    /// Those with min cardinality above zero.
    required: Vec<&'static ElementDef>,
}

struct Elements {
    nodes: FxHashMap<&'static str, Node>,
    /// (parent, element name) for every non-choice child, inherited ones included.
    by_name: FxHashMap<(&'static str, &'static str), &'static ElementDef>,
    /// Element path -> definition (own elements only).
    by_path: FxHashMap<&'static str, &'static ElementDef>,
}

fn parse_type(entry: &'static str, line: &str) -> TypeRef {
    let (head, targets) = match entry.find('(') {
        Some(i) => {
            let inner = entry[i + 1..]
                .strip_suffix(')')
                .unwrap_or_else(|| panic!("lantern-r4: bad type {entry} in {line}"));
            (&entry[..i], inner.split(',').collect())
        }
        None => (entry, Box::<[&'static str]>::from([])),
    };
    let (code, profile) = match head.split_once('@') {
        Some((c, p)) => (c, Some(p)),
        None => (head, None),
    };
    TypeRef { code, profile, targets, kind: type_def(code).map(|d| d.kind) }
}

static DEFS: LazyLock<Vec<ElementDef>> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(5000);
    for line in tsv::records(include_str!("../data/elements.tsv")) {
        let mut f = line.split('\t');
        let path = tsv::next(&mut f, line);
        let min = tsv::next(&mut f, line).parse().expect("min");
        let max = match tsv::next(&mut f, line) {
            "*" => None,
            m => Some(m.parse().expect("max")),
        };
        let types = tsv::next(&mut f, line).split(' ').filter(|t| !t.is_empty());
        let types = types.map(|t| parse_type(t, line)).collect();
        let flags = tsv::next(&mut f, line);
        let required_binding = tsv::opt(tsv::next(&mut f, line));
        let content_reference = tsv::opt(tsv::next(&mut f, line));
        let name = path.rsplit_once('.').map_or(path, |(_, n)| n);
        out.push(ElementDef {
            path,
            name,
            min,
            max,
            types,
            content_reference,
            required_binding,
            is_summary: flags.contains('S'),
            is_modifier: flags.contains('M'),
            base_name: name.strip_suffix("[x]").unwrap_or(name),
        });
    }
    out
});

/// The base of a parent: a type's base type, or for a backbone path its declared type.
fn parent_base(parent: &str, by_path: &FxHashMap<&'static str, &'static ElementDef>) -> Option<&'static str> {
    match type_def(parent) {
        Some(t) => t.base,
        None => by_path.get(parent).and_then(|e| e.types.first()).map(|t| t.code),
    }
}

static ELEMENTS: LazyLock<Elements> = LazyLock::new(|| {
    let defs: &'static [ElementDef] = &DEFS;
    let by_path: FxHashMap<&'static str, &'static ElementDef> = defs.iter().map(|e| (e.path, e)).collect();
    let mut own: FxHashMap<&'static str, Vec<&'static ElementDef>> = FxHashMap::default();
    for e in defs {
        let parent = e.path.rsplit_once('.').map_or("", |(p, _)| p);
        own.entry(parent).or_default().push(e);
    }
    // Parents: every type, and every element with children of its own (backbone elements).
    let mut parents: Vec<&'static str> = crate::types::TYPES.defs.iter().map(|t| t.name).collect();
    parents.extend(own.keys().filter(|p| type_def(p).is_none()));
    let mut nodes = FxHashMap::default();
    let mut by_name = FxHashMap::default();
    for parent in parents {
        let mut children: Vec<&'static ElementDef> = Vec::new();
        let mut cur = Some(parent);
        let mut guard = 0;
        while let Some(p) = cur {
            for &e in own.get(p).map_or(&[][..], |v| v.as_slice()) {
                if !children.iter().any(|c| c.name == e.name) {
                    children.push(e);
                }
            }
            cur = parent_base(p, &by_path);
            guard += 1;
            assert!(guard < 16, "lantern-r4: base-type cycle at {parent}");
        }
        let choices = children.iter().copied().filter(|e| e.is_choice()).collect();
        let required = children.iter().copied().filter(|e| e.min > 0).collect();
        for &c in &children {
            if !c.is_choice() {
                by_name.insert((parent, c.name), c);
            }
        }
        nodes.insert(parent, Node { children, choices, required });
    }
    Elements { nodes, by_name, by_path }
});

fn info(e: &'static ElementDef, type_ref: Option<&'static TypeRef>, primitive_ext: bool) -> ChildInfo {
    let (type_name, type_ref, kind) = match (e.content_reference, type_ref) {
        (Some(target), _) => {
            (target, ELEMENTS.by_path.get(target).and_then(|t| t.types.first()), Some(TypeKind::Complex))
        }
        (None, Some(t)) if matches!(t.code, "BackboneElement" | "Element") => {
            (e.path, Some(t), Some(TypeKind::Complex))
        }
        (None, Some(t)) => (t.code, Some(t), t.kind),
        (None, None) => (e.path, None, None),
    };
    ChildInfo {
        element: e,
        path: e.path,
        type_name,
        type_ref,
        min: e.min,
        max: e.max,
        is_choice: e.is_choice(),
        kind,
        is_primitive_extension: primitive_ext,
        required_binding: e.required_binding,
    }
}

/// `name` equals `code` with its first letter in upper case (`Quantity`, `DateTime`).
fn is_type_suffix(name: &str, code: &str) -> bool {
    let (n, c) = (name.as_bytes(), code.as_bytes());
    n.len() == c.len() && !n.is_empty() && n[0] == c[0].to_ascii_uppercase() && n[1..] == c[1..]
}

fn resolve(parent: &str, name: &str) -> Option<(&'static ElementDef, Option<&'static TypeRef>)> {
    let els = &*ELEMENTS;
    if let Some(&e) = els.by_name.get(&(parent, name)) {
        return Some((e, e.types.first()));
    }
    let node = els.nodes.get(parent)?;
    for &c in &node.choices {
        if let Some(rest) = name.strip_prefix(c.base_name()) {
            if let Some(t) = c.types.iter().find(|t| is_type_suffix(rest, t.code)) {
                return Some((c, Some(t)));
            }
        }
    }
    None
}

/// Resolves a JSON property name under a type (`Observation`, `Quantity`) or backbone element
/// path (`Patient.contact`, as found in [`ChildInfo::type_name`]):
///
/// * plain names (`status`), including inherited ones (`id`, `meta`, `extension`);
/// * choice types: `valueQuantity` -> `Observation.value[x]` with type `Quantity`;
/// * content references: `child("Questionnaire.item", "item")` has type_name
///   `Questionnaire.item`;
/// * primitive `_name` siblings: `_birthDate` -> `Patient.birthDate` with
///   `is_primitive_extension` set (only for primitive-typed elements).
///
/// `None` when the property is not allowed there (an unknown element). `resourceType` is not an
/// element and is not resolved.
pub fn child(type_or_path: &str, json_name: &str) -> Option<ChildInfo> {
    if let Some(base) = json_name.strip_prefix('_') {
        let (e, t) = resolve(type_or_path, base)?;
        let t = t?;
        return (t.kind == Some(TypeKind::Primitive)).then(|| info(e, Some(t), true));
    }
    let (e, t) = resolve(type_or_path, json_name)?;
    Some(info(e, t, false))
}

/// Every element allowed under a type or backbone path, own elements first, then inherited
/// ones; choice elements appear once (as `value[x]`). `None` if `type_or_path` is unknown.
pub fn children(type_or_path: &str) -> Option<&'static [&'static ElementDef]> {
    ELEMENTS.nodes.get(type_or_path).map(|n| n.children.as_slice())
}

/// The elements under a type or backbone path with min cardinality above zero (for
/// required-element checks); empty if `type_or_path` is unknown.
pub fn required_children(type_or_path: &str) -> &'static [&'static ElementDef] {
    ELEMENTS.nodes.get(type_or_path).map_or(&[], |n| n.required.as_slice())
}

/// The definition of the element at `path` within `type_name`: `path` may be relative
/// (`contact.name`) or start with the type name (`Patient.contact.name`), and may name choice
/// elements with or without `[x]` (`Observation.value`); inherited elements resolve to their
/// defining element (`element("Patient", "id")` is `Resource.id`).
pub fn element(type_name: &str, path: &str) -> Option<&'static ElementDef> {
    let rel = match path.strip_prefix(type_name) {
        Some("") => return None,
        Some(r) if r.starts_with('.') => &r[1..],
        _ => path,
    };
    let mut parent: &str = type_name;
    let mut found = None;
    for seg in rel.split('.') {
        let seg = seg.strip_suffix("[x]").unwrap_or(seg);
        let els = &*ELEMENTS;
        let e = match els.by_name.get(&(parent, seg)) {
            Some(&e) => e,
            None => *els.nodes.get(parent)?.choices.iter().find(|c| c.base_name() == seg)?,
        };
        found = Some(e);
        parent = info(e, e.types.first(), false).type_name;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_inherited() {
        let c = child("Patient", "birthDate").unwrap();
        assert_eq!(
            (c.path, c.type_name, c.min, c.max, c.is_choice),
            ("Patient.birthDate", "date", 0, Some(1), false)
        );
        let c = child("Patient", "name").unwrap();
        assert_eq!((c.type_name, c.max), ("HumanName", None));
        assert!(c.is_array());
        assert_eq!(child("Patient", "id").unwrap().type_name, "id");
        assert_eq!(child("Patient", "meta").unwrap().type_name, "Meta");
        assert_eq!(child("Patient", "extension").unwrap().type_name, "Extension");
        assert_eq!(child("Bundle", "id").unwrap().path, "Resource.id");
        assert!(child("Bundle", "text").is_none(), "Bundle is not a DomainResource");
        assert!(child("Patient", "nonsense").is_none());
        assert!(child("Patient", "resourceType").is_none());
        assert_eq!(child("HumanName", "given").unwrap().type_name, "string");
        assert_eq!(child("Extension", "url").unwrap().type_name, "uri");
        assert_eq!(child("Extension", "url").unwrap().min, 1);
    }

    #[test]
    fn choices() {
        let c = child("Observation", "valueQuantity").unwrap();
        assert_eq!((c.path, c.type_name, c.is_choice), ("Observation.value[x]", "Quantity", true));
        assert_eq!(child("Observation", "effectiveDateTime").unwrap().type_name, "dateTime");
        assert!(child("Observation", "valueQuantityX").is_none());
        assert!(child("Observation", "value").is_none());
        assert!(child("Observation", "valueMoney").is_none());
        assert!(child("Observation", "value[x]").is_none());
        assert_eq!(child("Extension", "valueBase64Binary").unwrap().type_name, "base64Binary");
        assert_eq!(child("Extension", "valueHumanName").unwrap().type_name, "HumanName");
        let dose = child("Dosage.doseAndRate", "doseQuantity").unwrap();
        assert_eq!(dose.type_ref.unwrap().profile, Some("SimpleQuantity"));
        assert_eq!(child("Patient", "deceasedBoolean").unwrap().type_name, "boolean");
    }

    #[test]
    fn backbone_and_content_reference() {
        let c = child("Patient", "contact").unwrap();
        assert_eq!(c.type_name, "Patient.contact");
        assert!(c.is_backbone());
        assert_eq!(child("Patient.contact", "name").unwrap().type_name, "HumanName");
        assert_eq!(child("Patient.contact", "id").unwrap().type_name, "string");
        assert_eq!(child("Patient.contact", "modifierExtension").unwrap().type_name, "Extension");
        let item = child("Questionnaire", "item").unwrap();
        let sub = child(item.type_name, "item").unwrap();
        assert_eq!(sub.type_name, "Questionnaire.item");
        assert_eq!(sub.path, "Questionnaire.item.item");
        assert_eq!(child(sub.type_name, "linkId").unwrap().min, 1);
        assert_eq!(child("Timing", "repeat").unwrap().type_name, "Timing.repeat");
        assert!(child("Timing.repeat", "modifierExtension").is_none(), "an Element, not a BackboneElement");
    }

    #[test]
    fn primitive_extension_siblings() {
        let c = child("Patient", "_birthDate").unwrap();
        assert!(c.is_primitive_extension);
        assert_eq!(c.type_name, "date");
        assert!(child("HumanName", "_given").unwrap().is_array());
        assert!(child("Observation", "_valueString").unwrap().is_primitive_extension);
        assert!(child("Patient", "_name").is_none(), "HumanName is not primitive");
        assert!(child("Patient", "_contact").is_none());
    }

    #[test]
    fn references_and_bindings() {
        let c = child("Observation", "subject").unwrap();
        assert_eq!(c.type_name, "Reference");
        assert!(c.target_types().contains(&"Patient"));
        assert!(c.target_types().contains(&"Group"));
        let g = child("Patient", "gender").unwrap();
        assert_eq!(g.required_binding, Some("http://hl7.org/fhir/ValueSet/administrative-gender"));
        assert_eq!(child("Observation", "status").unwrap().min, 1);
    }

    #[test]
    fn children_and_elements() {
        let kids = children("Patient").unwrap();
        for n in ["id", "meta", "text", "contained", "extension", "name", "deceased[x]", "link"] {
            assert!(kids.iter().any(|e| e.name == n), "{n}");
        }
        assert!(children("Patient.contact").unwrap().iter().any(|e| e.name == "modifierExtension"));
        assert!(children("Nope").is_none());
        let req: Vec<_> = required_children("Observation").iter().map(|e| e.name).collect();
        assert_eq!(req, ["status", "code"]);
        assert_eq!(child("Observation", "valueQuantity").unwrap().kind(), Some(TypeKind::Complex));
        assert_eq!(child("Patient", "contact").unwrap().kind(), Some(TypeKind::Complex));
        assert_eq!(child("Patient", "contained").unwrap().kind(), Some(TypeKind::Resource));
        assert_eq!(child("Patient", "_gender").unwrap().kind(), Some(TypeKind::Primitive));
        assert_eq!(element("Patient", "Patient.contact.name").unwrap().path, "Patient.contact.name");
        assert_eq!(element("Patient", "contact.name").unwrap().path, "Patient.contact.name");
        assert_eq!(element("Observation", "value").unwrap().path, "Observation.value[x]");
        assert_eq!(element("Observation", "Observation.value[x]").unwrap().path, "Observation.value[x]");
        assert_eq!(element("Patient", "id").unwrap().path, "Resource.id");
        assert_eq!(element("Questionnaire", "item.item.linkId").unwrap().path, "Questionnaire.item.linkId");
        assert!(element("Patient", "nope").is_none());
        // every parent's children resolve back through child()
        for (parent, node) in &ELEMENTS.nodes {
            for e in &node.children {
                if !e.is_choice() {
                    assert!(child(parent, e.name).is_some(), "{parent}.{}", e.name);
                }
            }
        }
    }
}
