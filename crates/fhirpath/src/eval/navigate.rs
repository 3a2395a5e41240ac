//! Path navigation over FHIR JSON (FHIRPath N1 §3 "Path selection"; FHIR R4 JSON format
//! §"Primitive types" for `_name` siblings and §"Choice elements" for `value[x]`; fhirpath.html
//! "Polymorphism in FHIR"). `Observation.value` finds `valueQuantity` and types it as Quantity;
//! `given.extension` reads the `_given` sibling; arrays are flattened.

use crate::ast::Name;
use crate::item::{Item, Node};
use crate::model::{choice_suffix_type, ChildType, Model};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Appends the children called `name` of `item` to `out`.
pub(crate) fn member<'a>(model: &dyn Model, item: &Item<'a>, name: &Name, out: &mut Vec<Item<'a>>) {
    match item {
        Item::Node(node) => {
            if let Some(Value::Object(obj)) = node.value {
                object_member(model, node, obj, name, out);
            } else if let Some(Value::Object(ext)) = node.ext {
                // A primitive: only `id` and `extension` live in its `_name` sibling.
                if let Some(v) = ext.get(&name.name) {
                    let path = if name.name == "extension" { "Extension" } else { "" };
                    let ty = if name.name == "extension" {
                        "Extension"
                    } else {
                        "http://hl7.org/fhirpath/System.String"
                    };
                    push(v, None, ChildType { ty, path, choice_of: None }, out);
                }
            }
        }
        Item::Quantity(q) => match name.name.as_str() {
            "value" => out.push(Item::Decimal(q.value)),
            "unit" | "code" => out.push(Item::String(q.unit.clone())),
            _ => {}
        },
        Item::Type(t) => match name.name.as_str() {
            "name" => out.push(Item::String(t.name.clone())),
            "namespace" => out.push(Item::String(Cow::Borrowed(t.namespace))),
            _ => {}
        },
        _ => {}
    }
}

fn object_member<'a>(
    model: &dyn Model,
    node: &Node<'a>,
    obj: &'a Map<String, Value>,
    name: &Name,
    out: &mut Vec<Item<'a>>,
) {
    let key = name.name.as_str();
    let known = model.child(node.path, key);
    let value = obj.get(key);
    let ext = obj.get(&name.underscored);
    if value.is_some() || ext.is_some() {
        push(value.unwrap_or(&Value::Null), ext, known.unwrap_or(UNKNOWN), out);
        return;
    }
    if known.is_some() {
        return; // a known, non-choice element that is absent: no `name[x]` variants to look for
    }
    // A choice element: `value` -> `valueQuantity`, `valueString`, or only `_valueString`.
    for (k, v) in obj {
        let (bare, is_ext) = match k.strip_prefix('_') {
            Some(b) => (b, true),
            None => (k.as_str(), false),
        };
        let Some(suffix) = bare.strip_prefix(key) else { continue };
        if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        if is_ext && obj.contains_key(bare) {
            continue; // handled with its value
        }
        let ct = if model.knows(node.path) {
            match model.child(node.path, bare) {
                Some(ct) if ct.choice_of == Some(key) => ct,
                _ => continue,
            }
        } else {
            match choice_suffix_type(suffix) {
                Some(ty) => ChildType { ty, path: ty, choice_of: None },
                None => continue,
            }
        };
        if is_ext {
            push(&Value::Null, Some(v), ct, out);
        } else {
            let underscored = format!("_{bare}");
            push(v, obj.get(&underscored), ct, out);
        }
    }
}

const UNKNOWN: ChildType = ChildType { ty: "", path: "", choice_of: None };

fn node_of<'a>(value: Option<&'a Value>, ext: Option<&'a Value>, ct: ChildType) -> Node<'a> {
    let mut node = Node { value, ext, ty: ct.ty, path: ct.path };
    if let Some(Value::Object(o)) = value {
        // Contained and bundled resources carry their own type.
        if ct.ty.is_empty() || ct.ty == "Resource" || ct.ty == "DomainResource" {
            if let Some(rt) = o.get("resourceType").and_then(Value::as_str) {
                node.ty = rt;
                node.path = rt;
            }
        }
    }
    node
}

fn push<'a>(value: &'a Value, ext: Option<&'a Value>, ct: ChildType, out: &mut Vec<Item<'a>>) {
    match value {
        Value::Array(items) => {
            let exts = ext.and_then(Value::as_array);
            for (i, v) in items.iter().enumerate() {
                let e = exts.and_then(|a| a.get(i)).filter(|e| !e.is_null());
                let v = (!v.is_null()).then_some(v);
                if v.is_some() || e.is_some() {
                    out.push(Item::Node(node_of(v, e, ct)));
                }
            }
            // `_given` longer than `given`: extensions of value-less primitives.
            if let Some(exts) = exts {
                for e in exts.iter().skip(items.len()).filter(|e| !e.is_null()) {
                    out.push(Item::Node(node_of(None, Some(e), ct)));
                }
            }
        }
        Value::Null => {
            if let Some(e) = ext {
                match e {
                    Value::Array(es) => {
                        for e in es.iter().filter(|e| !e.is_null()) {
                            out.push(Item::Node(node_of(None, Some(e), ct)));
                        }
                    }
                    e => out.push(Item::Node(node_of(None, Some(e), ct))),
                }
            }
        }
        v => out.push(Item::Node(node_of(Some(v), ext.filter(|e| !e.is_null()), ct))),
    }
}

/// All direct children of `item` (N1 §5.8.1 `children()`), in document order.
pub(crate) fn children<'a>(model: &dyn Model, item: &Item<'a>, out: &mut Vec<Item<'a>>) {
    let Item::Node(node) = item else { return };
    match node.value {
        Some(Value::Object(obj)) => {
            for (k, v) in obj {
                if k == "resourceType" {
                    continue;
                }
                if let Some(bare) = k.strip_prefix('_') {
                    if !obj.contains_key(bare) {
                        let ct = model.child(node.path, bare).unwrap_or(UNKNOWN);
                        push(&Value::Null, Some(v), ct, out);
                    }
                    continue;
                }
                let ct = model.child(node.path, k).unwrap_or(UNKNOWN);
                let underscored = format!("_{k}");
                push(v, obj.get(&underscored), ct, out);
            }
        }
        _ => {
            if let Some(Value::Object(ext)) = node.ext {
                for (k, v) in ext {
                    let ct = if k == "extension" {
                        ChildType { ty: "Extension", path: "Extension", choice_of: None }
                    } else {
                        ChildType { ty: "http://hl7.org/fhirpath/System.String", path: "", choice_of: None }
                    };
                    push(v, None, ct, out);
                }
            }
        }
    }
}
