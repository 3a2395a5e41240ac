//! Structural validation of a resource in FHIR R4 JSON against the core StructureDefinitions
//! (FHIR R4 §2.6 "JSON representation of resources", §2.24 "Datatypes", §2.4 "Extensibility",
//! §1.11.0 "Resource and element cardinality"), using the tables in `lantern-r4`.
//!
//! Checked: `resourceType` present and known; every property is an element of its type
//! (unknown elements are errors, in nested datatypes, backbone elements, contained and bundled
//! resources and extension values alike); arrays exactly where max cardinality is above one;
//! required elements (min cardinality) at every level; at most one choice (`value[x]`) variant;
//! no empty objects, arrays or strings and no stray `null`s (§2.6.2); primitive JSON types and
//! lexical forms ([`primitives`]); primitive `_name` siblings and their alignment with the
//! value array; required bindings ([`bindings`]); references ([`references`]); extension
//! rule ext-1 (a value or nested extensions, not both); contained resources do not nest (dom-2).
//!
//! Not checked here: profiles other than the core, FHIRPath invariants beyond those named above,
//! and whether referenced resources exist (the store's job).
//!
//! Every issue's `expression` is a FHIRPath location with indexes (`Patient.name[0].given[1]`,
//! choice elements as `Observation.value.ofType(Quantity)`).
//!
//! Speed: one pass over the JSON; each property costs one hash probe in `lantern-r4`; the path
//! is one reused `String`, and strings are only allocated for issues.
pub(crate) mod bindings;
pub(crate) mod primitives;
pub(crate) mod references;
#[cfg(test)]
mod tests;

use lantern_r4::{child, is_resource_type, required_children, ChildInfo, ElementDef, TypeKind};
use serde_json::{Map, Value};

use crate::Issue;

type Object = Map<String, Value>;

/// Validates `resource` (the JSON form of one resource) and returns every problem found, in
/// document order; an empty list means the resource is structurally valid.
pub fn validate(resource: &Value) -> Vec<Issue> {
    let mut w = Walker { issues: Vec::new(), path: String::with_capacity(128), contained: Vec::new() };
    w.resource(resource, Nesting::Root);
    w.issues
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    /// The resource given to [`validate`].
    Root,
    /// A resource inside another (Bundle entry, Parameters): references resolve in its own scope.
    Independent,
    /// A contained resource: shares the container's scope.
    Contained,
}

struct Walker<'v> {
    issues: Vec<Issue>,
    /// FHIRPath of the current position, reused as the walk descends and returns.
    path: String,
    /// (id, resourceType) of the contained resources in the current resource's scope.
    contained: Vec<(&'v str, &'v str)>,
}

impl<'v> Walker<'v> {
    fn issue(&mut self, code: &'static str, diagnostics: String) {
        // Before the resource type is known there is no path to name.
        let expression = (!self.path.is_empty()).then(|| self.path.clone());
        self.issues.push(Issue::error(code, expression, diagnostics));
    }

    fn resource(&mut self, v: &'v Value, nesting: Nesting) {
        let Value::Object(obj) = v else {
            return self.issue("structure", "A resource must be a JSON object".into());
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return self.issue("value", "resourceType must be a string".into()),
            None => {
                return self.issue("required", "The resource has no resourceType".into());
            }
        };
        if !is_resource_type(rt) {
            let msg = format!("'{rt}' is not a FHIR R4 resource type");
            return self.issue("invalid", msg);
        }
        if nesting == Nesting::Root {
            self.path.push_str(rt);
        }
        if nesting == Nesting::Contained && obj.contains_key("contained") {
            self.issue("structure", "A contained resource must not contain resources itself (dom-2)".into());
        }
        let saved = if nesting == Nesting::Contained {
            None
        } else {
            let scope = obj
                .get("contained")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c.get("id")?.as_str()?, c.get("resourceType")?.as_str()?)))
                .collect();
            Some(std::mem::replace(&mut self.contained, scope))
        };
        self.object(obj, rt, true);
        if let Some(saved) = saved {
            self.contained = saved;
        }
    }

    /// Walks the properties of `obj`, an instance of the type or backbone element `parent`.
    fn object(&mut self, obj: &'v Object, parent: &str, is_resource: bool) {
        if obj.is_empty() || (is_resource && obj.len() == 1) {
            let what = if is_resource { "A resource" } else { "An element" };
            self.issue("structure", format!("{what} must not be empty (an empty object is not allowed)"));
            return;
        }
        let mut choices_seen: Vec<&'static ElementDef> = Vec::new();
        for (key, val) in obj {
            if is_resource && key == "resourceType" {
                continue;
            }
            let mark = self.path.len();
            let Some(info) = child(parent, key) else {
                self.path.push('.');
                self.path.push_str(key);
                self.issue("structure", format!("Unknown element '{key}' in {}", type_label(parent)));
                self.path.truncate(mark);
                continue;
            };
            self.path.push('.');
            self.path.push_str(info.element.base_name());
            if info.is_choice {
                self.path.push_str(".ofType(");
                self.path.push_str(info.type_name);
                self.path.push(')');
                if !info.is_primitive_extension {
                    if choices_seen.iter().any(|e| std::ptr::eq(*e, info.element)) {
                        let name = info.element.name;
                        self.issue("structure", format!("Only one type of {name} is allowed, found several"));
                    }
                    choices_seen.push(info.element);
                }
            }
            if info.is_primitive_extension {
                self.primitive_extension(obj, key, val, &info);
            } else {
                self.property(obj, key, val, &info);
            }
            self.path.truncate(mark);
        }
        self.required(obj, parent);
        if parent == "Extension" {
            let has_value = obj.keys().any(|k| k.starts_with("value") || k.starts_with("_value"));
            if has_value == obj.contains_key("extension") {
                self.issue(
                    "structure",
                    "An extension must have either a value or nested extensions, not both or neither (ext-1)"
                        .into(),
                );
            }
        }
    }

    /// Required elements (min cardinality above zero) of `parent` that `obj` lacks.
    fn required(&mut self, obj: &'v Object, parent: &str) {
        for e in required_children(parent) {
            let count = if e.is_choice() {
                let n = obj
                    .keys()
                    .filter(|k| child(parent, k).is_some_and(|c| std::ptr::eq(c.element, *e)))
                    .count();
                usize::from(n > 0)
            } else {
                match (obj.get(e.name), primitive_sibling(obj, e.name)) {
                    (Some(Value::Array(a)), _) => a.len(),
                    (Some(_), _) | (None, Some(_)) => 1,
                    (None, None) => 0,
                }
            };
            if count < e.min as usize {
                let mark = self.path.len();
                self.path.push('.');
                self.path.push_str(e.base_name());
                let msg = if count == 0 {
                    format!("Required element '{}' is missing", e.name)
                } else {
                    format!("'{}' needs at least {} items, found {count}", e.name, e.min)
                };
                self.issue("required", msg);
                self.path.truncate(mark);
            }
        }
    }

    /// A property holding values (not a `_name` sibling).
    fn property(&mut self, obj: &'v Object, key: &str, val: &'v Value, info: &ChildInfo) {
        let name = info.element.name;
        match val {
            Value::Array(items) => {
                if !info.is_array() {
                    return self.issue("structure", format!("'{name}' must be a single value, not an array"));
                }
                if items.is_empty() {
                    return self.issue("structure", format!("'{name}' must not be an empty array (omit it)"));
                }
                if let Some(max) = info.max {
                    if items.len() > max as usize {
                        self.issue(
                            "structure",
                            format!("'{name}' allows at most {max} items, found {}", items.len()),
                        );
                    }
                }
                let siblings = primitive_sibling(obj, key).and_then(Value::as_array);
                let mark = self.path.len();
                for (i, item) in items.iter().enumerate() {
                    push_index(&mut self.path, i);
                    if item.is_null() {
                        if siblings.and_then(|s| s.get(i)).is_none_or(Value::is_null) {
                            self.issue(
                                "structure",
                                format!("'{name}' has a null item without a matching extension in '_{key}'"),
                            );
                        }
                    } else {
                        self.value(item, info);
                    }
                    self.path.truncate(mark);
                }
            }
            Value::Null => self.issue("structure", format!("'{name}' must not be null (omit it)")),
            _ => {
                if info.is_array() {
                    self.issue("structure", format!("'{name}' must be an array (it can repeat)"));
                }
                self.value(val, info);
            }
        }
    }

    /// One value of an element, by its type.
    fn value(&mut self, v: &'v Value, info: &ChildInfo) {
        match info.kind() {
            Some(TypeKind::Primitive) => self.primitive(v, info),
            Some(TypeKind::Complex) => {
                let Value::Object(o) = v else {
                    let msg = format!(
                        "'{}' must be a JSON object ({})",
                        info.element.name,
                        type_label(info.type_name)
                    );
                    return self.issue("structure", msg);
                };
                self.object(o, info.type_name, false);
                self.complex_rules(o, info);
            }
            Some(TypeKind::Resource) => {
                let nesting = if info.path == "DomainResource.contained" {
                    Nesting::Contained
                } else {
                    Nesting::Independent
                };
                let mark = self.issues.len();
                self.resource(v, nesting);
                let rt = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
                if self.issues.len() == mark && !lantern_r4::is_a(rt, info.type_name) {
                    self.issue(
                        "invalid",
                        format!("A {} is not allowed here (expected {})", rt, info.type_name),
                    );
                }
            }
            // System types only occur as the value of a primitive, never as a JSON property.
            None => {}
        }
    }

    fn primitive(&mut self, v: &'v Value, info: &ChildInfo) {
        if let Err(p) = primitives::check(info.type_name, v) {
            return self.issue(p.code, format!("The value of '{}' {}", info.element.name, p.message));
        }
        if let (Some(url), Value::String(code)) = (info.required_binding, v) {
            if let Err(msg) = bindings::check_code(url, code) {
                self.issue("code-invalid", msg);
            }
        }
    }

    /// Rules that belong to particular datatypes.
    fn complex_rules(&mut self, o: &'v Object, info: &ChildInfo) {
        match info.type_name {
            "Reference" => self.reference(o, info),
            "CodeableConcept" => {
                if let Some(url) = info.required_binding {
                    if let Err(msg) = bindings::check_codeable_concept(url, o) {
                        self.issue("code-invalid", msg);
                    }
                }
            }
            "Quantity"
                if info.type_ref.and_then(|t| t.profile) == Some("SimpleQuantity")
                    && o.contains_key("comparator") =>
            {
                self.issue("structure", "A SimpleQuantity must not have a comparator".into());
            }
            _ => {}
        }
    }

    /// A `Reference`: literal reference format, contained targets, allowed target types.
    fn reference(&mut self, o: &'v Object, info: &ChildInfo) {
        let targets = info.target_types();
        let declared = o.get("type").and_then(Value::as_str);
        let mark = self.path.len();
        let mut literal_type = None;
        if let Some(Value::String(r)) = o.get("reference") {
            self.path.push_str(".reference");
            match references::parse(r) {
                Err(msg) => self.issue("value", format!("The reference {msg}")),
                Ok(references::Literal::Typed(t)) => literal_type = Some(t),
                Ok(references::Literal::Contained("")) | Ok(references::Literal::Untyped) => {}
                Ok(references::Literal::Contained(id)) => {
                    match self.contained.iter().find(|(cid, _)| *cid == id) {
                        Some(&(_, t)) => literal_type = Some(t),
                        None => self.issue(
                            "invalid",
                            format!("There is no contained resource with id '{id}' (ref-1)"),
                        ),
                    }
                }
            }
            if let Some(t) = literal_type {
                if !references::target_allowed(targets, t) {
                    self.issue(
                        "invalid",
                        format!("A reference to {t} is not allowed here (allowed: {})", targets.join(", ")),
                    );
                }
            }
            self.path.truncate(mark);
        }
        if let Some(t) = declared {
            self.path.push_str(".type");
            if is_resource_type(t) {
                if !references::target_allowed(targets, t) {
                    self.issue(
                        "invalid",
                        format!("A reference to {t} is not allowed here (allowed: {})", targets.join(", ")),
                    );
                } else if literal_type.is_some_and(|l| l != t) {
                    self.issue("invalid", format!("The type {t} does not match the reference's type"));
                }
            } else if !t.contains(':') {
                self.issue("value", format!("'{t}' is not a FHIR R4 resource type"));
            }
            self.path.truncate(mark);
        }
    }

    /// A primitive's `_name` sibling: its `id` and `extension`, one per value when it repeats.
    fn primitive_extension(&mut self, obj: &'v Object, key: &str, val: &'v Value, info: &ChildInfo) {
        let name = info.element.name;
        let values = obj.get(&key[1..]);
        match val {
            Value::Array(items) if info.is_array() => {
                if items.is_empty() {
                    return self.issue("structure", format!("'{key}' must not be an empty array (omit it)"));
                }
                if let Some(Value::Array(vals)) = values {
                    if vals.len() != items.len() {
                        self.issue(
                            "structure",
                            format!(
                                "'{key}' has {} items but '{name}' has {}: they must align",
                                items.len(),
                                vals.len()
                            ),
                        );
                    }
                }
                let mark = self.path.len();
                for (i, item) in items.iter().enumerate() {
                    push_index(&mut self.path, i);
                    match item {
                        Value::Null => {
                            let has_value = values.and_then(|v| v.get(i)).is_some_and(|v| !v.is_null());
                            if !has_value {
                                self.issue(
                                    "structure",
                                    format!("'{key}' has a null item and '{name}' has no value there"),
                                );
                            }
                        }
                        Value::Object(o) => self.object(o, "Element", false),
                        _ => self.issue("structure", format!("'{key}' items must be JSON objects or null")),
                    }
                    self.path.truncate(mark);
                }
            }
            Value::Object(o) if !info.is_array() => self.object(o, "Element", false),
            Value::Null => self.issue("structure", format!("'{key}' must not be null (omit it)")),
            _ if info.is_array() => {
                self.issue("structure", format!("'{key}' must be an array (its element repeats)"))
            }
            _ => self.issue("structure", format!("'{key}' must be a JSON object holding id and extension")),
        }
    }
}

/// The value of the `_name` sibling of `name` in `obj`, without allocating for short names.
fn primitive_sibling<'v>(obj: &'v Object, name: &str) -> Option<&'v Value> {
    let mut buf = [0u8; 64];
    if name.len() < buf.len() {
        buf[0] = b'_';
        buf[1..=name.len()].copy_from_slice(name.as_bytes());
        let key = std::str::from_utf8(&buf[..=name.len()]).ok()?;
        obj.get(key)
    } else {
        obj.get(&format!("_{name}"))
    }
}

fn push_index(path: &mut String, i: usize) {
    use std::fmt::Write;
    let _ = write!(path, "[{i}]");
}

/// How to name a parent in messages: a type name, or a backbone element's path.
fn type_label(parent: &str) -> String {
    if parent.contains('.') {
        format!("{parent} (a backbone element)")
    } else {
        parent.to_string()
    }
}
