//! The values a FHIRPath expression yields (FHIRPath N1 §4 "Expressions" — collections of
//! items; §10.2 "Reflection" for type names). A FHIR element is a [`Node`]: a borrowed JSON
//! node plus its FHIR type, never a copy. System values (literals and computed results) are
//! the other [`Item`] variants.

use crate::quantity::Quantity;
use crate::temporal::Temporal;
use rust_decimal::Decimal;
use serde_json::Value;
use std::borrow::Cow;

/// An element of a FHIR resource: where it sits in the JSON and its FHIR type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node<'a> {
    /// The JSON value (`None` for a primitive that only has a `_name` extension sibling).
    pub(crate) value: Option<&'a Value>,
    /// For primitives: the `_name` sibling object holding `id` and `extension`.
    pub(crate) ext: Option<&'a Value>,
    /// FHIR type name, "" if unknown.
    pub(crate) ty: &'a str,
    /// The model path for child lookups (type name or backbone path), "" if unknown.
    pub(crate) path: &'a str,
}

impl<'a> Node<'a> {
    /// A resource (or any JSON object): its type comes from `resourceType`.
    pub(crate) fn resource(v: &'a Value) -> Self {
        let ty = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
        Node { value: Some(v), ext: None, ty, path: ty }
    }

    /// The JSON value, if the element has one.
    pub fn json(&self) -> Option<&'a Value> {
        self.value
    }

    /// The `_name` sibling of a primitive (its `id` and `extension`), if any.
    pub fn primitive_extension(&self) -> Option<&'a Value> {
        self.ext
    }

    /// The FHIR type name, inferred from the JSON when the model does not know it.
    pub fn fhir_type(&self) -> &'a str {
        if !self.ty.is_empty() {
            return self.ty;
        }
        match self.value {
            Some(Value::Bool(_)) => "boolean",
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
            Some(Value::Number(_)) => "decimal",
            Some(Value::String(_)) => "string",
            Some(Value::Object(o)) => o.get("resourceType").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        }
    }
}

/// A type as returned by `type()` (N1 §10.2): namespace `System` or `FHIR` and a name.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeInfo<'a> {
    /// `System` or `FHIR`.
    pub namespace: &'static str,
    /// The type name.
    pub name: Cow<'a, str>,
}

/// One item of a FHIRPath collection.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// A FHIR element from the input (or a variable), borrowed.
    Node(Node<'a>),
    /// `System.Boolean`
    Boolean(bool),
    /// `System.Integer` (kept in 64 bits; see the crate docs on overflow).
    Integer(i64),
    /// `System.Decimal`, scale preserved.
    Decimal(Decimal),
    /// `System.String`
    String(Cow<'a, str>),
    /// `System.Date`
    Date(Temporal),
    /// `System.DateTime`
    DateTime(Temporal),
    /// `System.Time`
    Time(Temporal),
    /// `System.Quantity`
    Quantity(Quantity<'a>),
    /// A type reflection object.
    Type(TypeInfo<'a>),
}

/// A collection: the result of every FHIRPath expression.
pub type Collection<'a> = Vec<Item<'a>>;

impl<'a> Item<'a> {
    /// The FHIR type name for elements (`HumanName`, `string`, `Patient`...) or the System type
    /// name for system values (`Integer`, `String`, `Quantity`...).
    pub fn fhir_type(&self) -> &str {
        match self {
            Item::Node(n) => n.fhir_type(),
            Item::Boolean(_) => "Boolean",
            Item::Integer(_) => "Integer",
            Item::Decimal(_) => "Decimal",
            Item::String(_) => "String",
            Item::Date(_) => "Date",
            Item::DateTime(_) => "DateTime",
            Item::Time(_) => "Time",
            Item::Quantity(_) => "Quantity",
            Item::Type(_) => "TypeInfo",
        }
    }

    /// The JSON node of a FHIR element (`None` for system values and value-less primitives).
    pub fn json(&self) -> Option<&'a Value> {
        match self {
            Item::Node(n) => n.value,
            _ => None,
        }
    }

    /// The element, if this item is one.
    pub fn node(&self) -> Option<&Node<'a>> {
        match self {
            Item::Node(n) => Some(n),
            _ => None,
        }
    }

    /// The string value of a `System.String` or of a FHIR string-like primitive.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Item::String(s) => Some(s),
            Item::Node(n) => n.value.and_then(Value::as_str),
            _ => None,
        }
    }

    /// The boolean value of a `System.Boolean` or a FHIR `boolean`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Item::Boolean(b) => Some(*b),
            Item::Node(n) => n.value.and_then(Value::as_bool),
            _ => None,
        }
    }

    /// The item as JSON, the way fhirpath.js prints results (see [`crate::evaluate_to_json`]).
    pub fn to_json(&self) -> Option<Value> {
        crate::output::item_to_json(self)
    }
}
