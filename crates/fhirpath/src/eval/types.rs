//! Types and reflection (FHIRPath N1 §6.3 `is`/`as`, §5.2.4 `ofType`, §10 "Types and
//! Reflection" `type()`). Unqualified names are looked up in the FHIR model first, then in
//! System; a name found in neither is an error.

use crate::ast::TypeSpec;
use crate::error::{eval_err, Result};
use crate::item::{Item, TypeInfo};
use crate::model::Model;
use std::borrow::Cow;

/// The namespace prefix some R4 definitions use for System types (`Element.id`, `Extension.url`).
pub(crate) const SYSTEM_URL: &str = "http://hl7.org/fhirpath/System.";

const SYSTEM_TYPES: [&str; 10] =
    ["Any", "Boolean", "String", "Integer", "Long", "Decimal", "Date", "DateTime", "Time", "Quantity"];

/// A resolved type specifier (borrowing the compiled expression: no allocation per use).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeRef<'s> {
    fhir: Option<&'s str>,
    system: Option<&'s str>,
}

pub(crate) fn resolve<'s>(model: &dyn Model, spec: &'s TypeSpec) -> Result<TypeRef<'s>> {
    let name = spec.name.as_str();
    let fhir = || model.is_type(name).then_some(name);
    let system = || SYSTEM_TYPES.contains(&name).then_some(name);
    let r = match spec.namespace.as_deref() {
        Some("FHIR") => TypeRef { fhir: fhir(), system: None },
        Some("System") => TypeRef { fhir: None, system: system() },
        Some(ns) => return eval_err(format!("unknown type namespace {ns}")),
        None => TypeRef { fhir: fhir(), system: system() },
    };
    if r.fhir.is_none() && r.system.is_none() {
        return eval_err(format!("unknown type {name}"));
    }
    Ok(r)
}

/// The System type an item is, if it is one: system values, elements the model types as System
/// strings, and JSON primitives no model knows (plain JSON, untyped variables).
fn system_type<'i>(item: &'i Item<'_>) -> Option<&'i str> {
    match item {
        Item::Node(n) if n.ty.is_empty() => match n.value {
            Some(serde_json::Value::String(_)) => Some("String"),
            Some(serde_json::Value::Bool(_)) => Some("Boolean"),
            Some(v @ serde_json::Value::Number(_)) => match crate::eval::values::number(v) {
                Some(Item::Integer(_)) => Some("Integer"),
                _ => Some("Decimal"),
            },
            _ => None,
        },
        Item::Node(n) => n.ty.strip_prefix(SYSTEM_URL),
        Item::Type(_) => None,
        other => Some(other.fhir_type()),
    }
}

pub(crate) fn matches(model: &dyn Model, item: &Item<'_>, ty: &TypeRef<'_>) -> bool {
    if let Some(sys) = ty.system {
        if let Some(s) = system_type(item) {
            if sys == "Any" || s == sys {
                return true;
            }
        }
    }
    if let (Some(fhir), Item::Node(n)) = (ty.fhir, item) {
        if n.ty.starts_with(SYSTEM_URL) {
            return false;
        }
        let actual = n.fhir_type();
        return !actual.is_empty() && model.is_subtype(actual, fhir);
    }
    false
}

/// `type()`: the namespace and name of an item's type.
pub(crate) fn type_of<'a>(item: &Item<'a>) -> TypeInfo<'a> {
    if let Some(s) = system_type(item) {
        return TypeInfo { namespace: "System", name: Cow::Owned(s.to_string()) };
    }
    match item {
        Item::Node(n) => TypeInfo { namespace: "FHIR", name: Cow::Borrowed(n.fhir_type()) },
        _ => TypeInfo { namespace: "System", name: Cow::Borrowed("TypeInfo") },
    }
}
