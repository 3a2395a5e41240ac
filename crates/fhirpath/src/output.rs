//! Results as JSON, in the shape fhirpath.js prints them: FHIR elements as their JSON, System
//! primitives as JSON primitives (decimals keep their scale), dates and times as strings,
//! quantities as `{"value", "unit"}` objects (plus `system`/`code` for UCUM units), types as
//! `{"namespace", "name"}`. A primitive element that has only extensions prints nothing.

use crate::item::Item;
use serde_json::{json, Number, Value};
use std::str::FromStr;

pub(crate) fn decimal_json(d: rust_decimal::Decimal) -> Value {
    Number::from_str(&d.to_string()).map(Value::Number).unwrap_or_else(|_| Value::String(d.to_string()))
}

pub(crate) fn item_to_json(item: &Item<'_>) -> Option<Value> {
    Some(match item {
        Item::Node(n) => n.value?.clone(),
        Item::Boolean(b) => Value::Bool(*b),
        Item::Integer(i) => json!(i),
        Item::Decimal(d) => decimal_json(*d),
        Item::String(s) => Value::String(s.to_string()),
        Item::Date(t) | Item::DateTime(t) | Item::Time(t) => Value::String(t.to_string()),
        Item::Quantity(q) => {
            if q.is_calendar() {
                json!({ "value": decimal_json(q.value()), "unit": q.unit() })
            } else {
                json!({
                    "value": decimal_json(q.value()),
                    "unit": q.unit(),
                    "system": "http://unitsofmeasure.org",
                    "code": q.unit(),
                })
            }
        }
        Item::Type(t) => json!({ "namespace": t.namespace, "name": t.name }),
    })
}

/// A collection as a JSON array.
pub(crate) fn collection_to_json(items: &[Item<'_>]) -> Value {
    Value::Array(items.iter().filter_map(item_to_json).collect())
}
