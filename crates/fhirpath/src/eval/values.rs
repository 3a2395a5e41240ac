//! Mapping FHIR primitives to System values (FHIR R4 fhirpath.html "Primitive types": boolean →
//! Boolean, integer/unsignedInt/positiveInt → Integer, decimal → Decimal, date/dateTime/instant →
//! Date/DateTime, time → Time, the string-like types → String; "Quantity" for the FHIR
//! Quantity → System.Quantity mapping).

use crate::error::{eval_err, Result};
use crate::item::{Item, Node};
use crate::quantity::Quantity;
use crate::temporal::Temporal;
use rust_decimal::Decimal;
use serde_json::Value;
use std::borrow::Cow;
use std::str::FromStr;

const UCUM: &str = "http://unitsofmeasure.org";

/// A JSON number as Integer (no fraction/exponent and in range) or Decimal (scale kept).
pub(crate) fn number<'a>(v: &Value) -> Option<Item<'a>> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return Some(Item::Integer(i));
    }
    let text = n.to_string();
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).ok().map(Item::Decimal)
}

/// The System value of an item: primitives of FHIR nodes become System values; complex nodes
/// stay nodes; a primitive without a value (only extensions) yields `None`.
pub(crate) fn to_system<'a>(item: &Item<'a>) -> Option<Item<'a>> {
    let Item::Node(node) = item else { return Some(item.clone()) };
    let v = node.value?;
    Some(match v {
        Value::Bool(b) => Item::Boolean(*b),
        Value::Number(_) => {
            let n = number(v)?;
            match (node.ty, n) {
                ("decimal", Item::Integer(i)) => Item::Decimal(Decimal::from(i)),
                (_, n) => n,
            }
        }
        Value::String(s) => match node.ty {
            "date" => Temporal::parse_date(s).map(Item::Date).unwrap_or(Item::String(Cow::Borrowed(s))),
            "dateTime" | "instant" => match Temporal::parse_fhir(s) {
                Some(t) if t.kind() == crate::temporal::TemporalKind::Date => Item::DateTime(t.as_datetime()),
                Some(t) => Item::DateTime(t),
                None => Item::String(Cow::Borrowed(s)),
            },
            "time" => Temporal::parse_time(s).map(Item::Time).unwrap_or(Item::String(Cow::Borrowed(s))),
            "integer64" => s.parse().map(Item::Integer).unwrap_or(Item::String(Cow::Borrowed(s))),
            _ => Item::String(Cow::Borrowed(s)),
        },
        _ => item.clone(),
    })
}

/// Whether a node's type is Quantity or one of its profiles.
pub(crate) fn is_quantity_type(ty: &str) -> bool {
    matches!(ty, "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" | "MoneyQuantity")
}

/// The System.Quantity for a Quantity item or a FHIR Quantity element. `Ok(None)` when the
/// element cannot be mapped (no value, or a unit outside UCUM); an error when it has a
/// `comparator`, which a System.Quantity cannot carry.
pub(crate) fn quantity_of<'a>(item: &Item<'a>) -> Result<Option<Quantity<'a>>> {
    match item {
        Item::Quantity(q) => Ok(Some(q.clone())),
        Item::Node(n) => node_quantity(n),
        _ => Ok(None),
    }
}

fn node_quantity<'a>(n: &Node<'a>) -> Result<Option<Quantity<'a>>> {
    let Some(Value::Object(o)) = n.value else { return Ok(None) };
    if !(is_quantity_type(n.ty) || (n.ty.is_empty() && o.contains_key("value"))) {
        return Ok(None);
    }
    let Some(value) = o.get("value").and_then(number) else { return Ok(None) };
    let value = match value {
        Item::Integer(i) => Decimal::from(i),
        Item::Decimal(d) => d,
        _ => return Ok(None),
    };
    if o.contains_key("comparator") {
        return eval_err("a Quantity with a comparator cannot be used as a System.Quantity");
    }
    let system = o.get("system").and_then(Value::as_str);
    let code = o.get("code").and_then(Value::as_str);
    let unit = match (system, code) {
        (Some(UCUM), Some(code)) => code,
        (None, None) => o.get("unit").and_then(Value::as_str).unwrap_or("1"),
        _ => return Ok(None),
    };
    let dual = matches!(unit, "a" | "mo" | "wk" | "d" | "h" | "min" | "s" | "ms");
    Ok(Some(Quantity { value, unit: Cow::Borrowed(unit), dual }))
}
