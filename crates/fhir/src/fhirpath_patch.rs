//! FHIRPath Patch (R4 §3.1.0.4.4 and "FHIRPath Patch", fhirpatch.html): a `Parameters`
//! resource whose `operation` parameters add, insert, delete, replace or move elements named
//! by FHIRPath expressions. The other patch format Lantern takes, JSON Patch, names elements
//! by JSON pointer; this one by FHIRPath, so a client can say "the official name's second
//! given name" without knowing array positions.
//!
//! How an element is found: the path is evaluated by the FHIRPath engine, whose results borrow
//! the resource's own JSON nodes, so each result is located in the resource by identity (the
//! address of the node it borrows) and the change is made there. A primitive's `_name` sibling
//! (its id and extensions) moves with it: deleting the second `given` also deletes the second
//! entry of `_given`.
//!
//! Every operation is parsed before any is applied, so a malformed patch changes nothing
//! ([`PatchError::Invalid`], 400); an operation that does not fit this resource (no element
//! at the path, several where one is needed, a value of the wrong type, an index out of
//! range) is [`PatchError::Unprocessable`] (422). The caller validates the result like any
//! update.
use lantern_fhirpath::{Expr, Item};
use lantern_r4::elements::{child, children, ChildInfo};
use lantern_r4::types::{type_kind, TypeKind};
use serde_json::{Map, Value};

/// Why a patch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The `Parameters` are not a well-formed FHIRPath Patch.
    Invalid(String),
    /// The patch is well formed but cannot be applied to this resource.
    Unprocessable(String),
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatchError::Invalid(m) | PatchError::Unprocessable(m) => f.write_str(m),
        }
    }
}

/// Whether a PATCH body is a FHIRPath Patch (a `Parameters` resource) rather than a JSON Patch
/// (an array of operations).
pub fn is_fhirpath_patch(body: &Value) -> bool {
    body.get("resourceType").and_then(Value::as_str) == Some("Parameters")
}

/// A parsed FHIRPath Patch: every operation checked for form and its path compiled.
pub struct FhirPathPatch {
    ops: Vec<Op>,
}

impl FhirPathPatch {
    /// Parses a `Parameters` resource; [`PatchError::Invalid`] names the first bad operation.
    pub fn parse(patch: &Value) -> Result<FhirPathPatch, PatchError> {
        Ok(FhirPathPatch { ops: parse(patch)? })
    }

    /// Applies the operations in order. On an error the resource may be part-changed: patch a
    /// copy and keep it only on success.
    pub fn apply(&self, resource: &mut Value) -> Result<(), PatchError> {
        for (n, op) in self.ops.iter().enumerate() {
            apply_one(resource, op).map_err(|e| match e {
                PatchError::Unprocessable(m) => PatchError::Unprocessable(format!(
                    "operation {} ({} {}): {m}",
                    n + 1,
                    op.kind.name(),
                    op.path_text
                )),
                other => other,
            })?;
        }
        Ok(())
    }
}

/// Parses and applies `patch` to `resource` (see [`FhirPathPatch`]).
pub fn apply(resource: &mut Value, patch: &Value) -> Result<(), PatchError> {
    FhirPathPatch::parse(patch)?.apply(resource)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Insert,
    Delete,
    Replace,
    Move,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Insert => "insert",
            Kind::Delete => "delete",
            Kind::Replace => "replace",
            Kind::Move => "move",
        }
    }
}

/// A value to put into the resource: a typed `value[x]` (or a `resource`), or, for elements
/// with no type of their own (backbone elements such as `Patient.contact`), named parts.
#[derive(Debug)]
enum NewValue {
    Typed { type_name: String, json: Value },
    Parts(Vec<(String, NewValue)>),
}

struct Op {
    kind: Kind,
    path: Expr,
    path_text: String,
    name: Option<String>,
    value: Option<NewValue>,
    index: Option<usize>,
    source: Option<usize>,
    destination: Option<usize>,
}

fn invalid(m: impl Into<String>) -> PatchError {
    PatchError::Invalid(m.into())
}

fn unprocessable(m: impl Into<String>) -> PatchError {
    PatchError::Unprocessable(m.into())
}

fn parse(patch: &Value) -> Result<Vec<Op>, PatchError> {
    let params = patch.get("parameter").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if params.is_empty() {
        return Err(invalid("the FHIRPath Patch has no `operation` parameters"));
    }
    params
        .iter()
        .enumerate()
        .map(|(n, p)| parse_op(p).map_err(|m| invalid(format!("parameter {}: {m}", n + 1))))
        .collect()
}

fn parse_op(p: &Value) -> Result<Op, String> {
    if p.get("name").and_then(Value::as_str) != Some("operation") {
        return Err("every parameter of a FHIRPath Patch is named `operation`".into());
    }
    let parts = p.get("part").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let part = |name: &str| parts.iter().find(|x| x.get("name").and_then(Value::as_str) == Some(name));
    let text = |name: &str, key: &str| -> Result<Option<String>, String> {
        match part(name) {
            None => Ok(None),
            Some(x) => x
                .get(key)
                .and_then(Value::as_str)
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| format!("the `{name}` part needs a {key}")),
        }
    };
    let int = |name: &str| -> Result<Option<usize>, String> {
        match part(name) {
            None => Ok(None),
            Some(x) => x
                .get("valueInteger")
                .and_then(Value::as_u64)
                .map(|i| Some(i as usize))
                .ok_or_else(|| format!("the `{name}` part needs a valueInteger of 0 or more")),
        }
    };
    for x in parts {
        let name = x.get("name").and_then(Value::as_str).unwrap_or("");
        if !matches!(name, "type" | "path" | "name" | "value" | "index" | "source" | "destination") {
            return Err(format!("unknown part `{name}`"));
        }
    }
    let kind = match text("type", "valueCode")?.as_deref() {
        Some("add") => Kind::Add,
        Some("insert") => Kind::Insert,
        Some("delete") => Kind::Delete,
        Some("replace") => Kind::Replace,
        Some("move") => Kind::Move,
        Some(other) => {
            return Err(format!("`{other}` is not an operation (add, insert, delete, replace, move)"))
        }
        None => return Err("no `type` part (add, insert, delete, replace or move)".into()),
    };
    let path_text = text("path", "valueString")?.ok_or("no `path` part")?;
    let path = lantern_fhirpath::parse(&path_text)
        .map_err(|e| format!("the path `{path_text}` is not FHIRPath: {e}"))?;
    let value = part("value").map(parse_value).transpose()?;
    let op = Op {
        kind,
        path,
        path_text,
        name: text("name", "valueString")?,
        value,
        index: int("index")?,
        source: int("source")?,
        destination: int("destination")?,
    };
    let need =
        |ok: bool, what: &str| if ok { Ok(()) } else { Err(format!("`{}` needs {what}", kind.name())) };
    match kind {
        Kind::Add => need(op.name.is_some() && op.value.is_some(), "a `name` and a `value`")?,
        Kind::Insert => need(op.index.is_some() && op.value.is_some(), "an `index` and a `value`")?,
        Kind::Replace => need(op.value.is_some(), "a `value`")?,
        Kind::Move => {
            need(op.source.is_some() && op.destination.is_some(), "a `source` and a `destination`")?
        }
        Kind::Delete => {}
    }
    Ok(op)
}

/// A `value` part: `value[x]`, a `resource`, or nested parts each naming an element.
fn parse_value(part: &Value) -> Result<NewValue, String> {
    let Some(obj) = part.as_object() else { return Err("a part is not an object".into()) };
    if let Some(r) = obj.get("resource") {
        let t =
            r.get("resourceType").and_then(Value::as_str).ok_or("a `resource` part has no resourceType")?;
        return Ok(NewValue::Typed { type_name: t.to_string(), json: r.clone() });
    }
    for (k, v) in obj {
        let Some(suffix) =
            k.strip_prefix("value").filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
        else {
            continue;
        };
        let type_name =
            value_type(suffix).ok_or_else(|| format!("`{k}`: `{suffix}` is not an R4 data type"))?;
        return Ok(NewValue::Typed { type_name, json: v.clone() });
    }
    let sub =
        obj.get("part").and_then(Value::as_array).ok_or("a `value` part has no value[x] and no parts")?;
    let mut out = Vec::new();
    for s in sub {
        let name = s.get("name").and_then(Value::as_str).ok_or("a part of a value has no name")?;
        out.push((name.to_string(), parse_value(s)?));
    }
    Ok(NewValue::Parts(out))
}

/// The data type a `value[x]` suffix names: `CodeableConcept`, or for primitives the suffix
/// with a lower-case first letter (`DateTime` -> `dateTime`).
fn value_type(suffix: &str) -> Option<String> {
    if type_kind(suffix).is_some_and(|k| k != TypeKind::Primitive) {
        return Some(suffix.to_string());
    }
    let mut chars = suffix.chars();
    let lower: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect();
    (type_kind(&lower) == Some(TypeKind::Primitive)).then_some(lower)
}

/// `dateTime` -> `DateTime`: a choice element's property suffix.
fn capitalised(type_name: &str) -> String {
    let mut chars = type_name.chars();
    chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect()
}

/// One step from a JSON node to a child.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Where an element sits: the object holding it, its property name (never the `_name` form)
/// and, for a repeating element, its position.
#[derive(Debug)]
struct Place {
    parent: Vec<Seg>,
    key: String,
    index: Option<usize>,
}

fn apply_one(doc: &mut Value, op: &Op) -> Result<(), PatchError> {
    let found = locate_all(doc, &op.path)?;
    match op.kind {
        Kind::Add => {
            let container = single(found, "the element to add to")?;
            let name = op.name.as_deref().unwrap_or_default();
            let model = model_path(doc, &container)
                .ok_or_else(|| unprocessable("the path does not select an element that can hold others"))?;
            if !value_at(doc, &container).is_some_and(Value::is_object) {
                return Err(unprocessable(
                    "the path selects a primitive value, which has no elements to add to",
                ));
            }
            let (key, json, repeats) = materialise(&model, name, op.value.as_ref())?;
            let obj = object_at(doc, &container)?;
            if repeats {
                match obj.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(a) => a.push(json),
                    _ => return Err(unprocessable(format!("`{name}` is not held as a list"))),
                }
            } else if obj.contains_key(&key) {
                return Err(unprocessable(format!(
                    "`{name}` already has a value and does not repeat: use replace"
                )));
            } else {
                obj.insert(key, json);
            }
            Ok(())
        }
        Kind::Replace => {
            let place = element_place(single(found, "the element to replace")?)?;
            let model = model_path(doc, &place.parent)
                .ok_or_else(|| unprocessable("cannot tell the element's type"))?;
            let info = child(&model, &place.key)
                .ok_or_else(|| unprocessable(format!("`{}` is not an element here", place.key)))?;
            let (key, json, _) = materialise(&model, info.element.base_name(), op.value.as_ref())?;
            let obj = object_at(doc, &place.parent)?;
            match place.index {
                Some(i) => match obj.get_mut(&place.key) {
                    Some(Value::Array(a)) if i < a.len() => a[i] = json,
                    _ => return Err(unprocessable("the element moved while it was being replaced")),
                },
                None => {
                    if key != place.key {
                        // A choice element given another type: `valueQuantity` becomes `valueString`.
                        obj.remove(&place.key);
                        obj.remove(&format!("_{}", place.key));
                    }
                    obj.insert(key, json);
                }
            }
            Ok(())
        }
        Kind::Delete => {
            if found.is_empty() {
                return Ok(()); // "Path of the element to delete (if found)".
            }
            let place = element_place(single(found, "the element to delete")?)?;
            let obj = object_at(doc, &place.parent)?;
            match place.index {
                Some(i) => {
                    for k in [place.key.clone(), format!("_{}", place.key)] {
                        if let Some(Value::Array(a)) = obj.get_mut(&k) {
                            if i < a.len() {
                                a.remove(i);
                            }
                            // An `_name` list left with nothing but nulls says nothing.
                            if a.is_empty() || (k.starts_with('_') && a.iter().all(Value::is_null)) {
                                obj.remove(&k);
                            }
                        }
                    }
                }
                None => {
                    obj.remove(&place.key);
                    obj.remove(&format!("_{}", place.key));
                }
            }
            Ok(())
        }
        Kind::Insert => {
            let (parent, key) = list_place(doc, op, found)?;
            let model =
                model_path(doc, &parent).ok_or_else(|| unprocessable("cannot tell the list's type"))?;
            let info = child(&model, &key)
                .ok_or_else(|| unprocessable(format!("`{key}` is not an element here")))?;
            if !info.is_array() {
                return Err(unprocessable(format!("`{key}` does not repeat: insert needs a list")));
            }
            let (_, json, _) = materialise(&model, info.element.base_name(), op.value.as_ref())?;
            let index = op.index.unwrap_or_default();
            let obj = object_at(doc, &parent)?;
            let len = obj.get(&key).and_then(Value::as_array).map_or(0, Vec::len);
            if index > len {
                return Err(unprocessable(format!(
                    "index {index} is past the end of the list ({len} elements)"
                )));
            }
            match obj.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(a) => a.insert(index, json),
                _ => return Err(unprocessable(format!("`{key}` is not held as a list"))),
            }
            if let Some(Value::Array(ext)) = obj.get_mut(&format!("_{key}")) {
                ext.insert(index.min(ext.len()), Value::Null);
            }
            Ok(())
        }
        Kind::Move => {
            let (parent, key) = list_place(doc, op, found)?;
            let (from, to) = (op.source.unwrap_or_default(), op.destination.unwrap_or_default());
            let obj = object_at(doc, &parent)?;
            for k in [key.clone(), format!("_{key}")] {
                let Some(Value::Array(a)) = obj.get_mut(&k) else { continue };
                if from >= a.len() || to >= a.len() {
                    return Err(unprocessable(format!(
                        "source {from} and destination {to} must both be below the list's length ({})",
                        a.len()
                    )));
                }
                let v = a.remove(from);
                a.insert(to, v);
            }
            Ok(())
        }
    }
}

/// The one result a path must have.
fn single(mut found: Vec<Vec<Seg>>, what: &str) -> Result<Vec<Seg>, PatchError> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(unprocessable(format!("the path selects nothing: it must select {what}"))),
        n => Err(unprocessable(format!("the path selects {n} elements: it must select only {what}"))),
    }
}

/// Where each result of `path` sits in `doc`.
fn locate_all(doc: &Value, path: &Expr) -> Result<Vec<Vec<Seg>>, PatchError> {
    let items =
        path.evaluate(doc).map_err(|e| unprocessable(format!("the path cannot be evaluated: {e}")))?;
    let mut out = Vec::new();
    for item in &items {
        let Item::Node(node) = item else {
            return Err(unprocessable("the path yields a computed value, not an element of the resource"));
        };
        let Some(target) = node.json().or(node.primitive_extension()) else {
            return Err(unprocessable("the path yields an element with no JSON form"));
        };
        let mut segs = Vec::new();
        if !find(doc, target, &mut segs) {
            // resolve() into another resource, or a value the engine made.
            return Err(unprocessable("the path selects something outside the resource being patched"));
        }
        out.push(segs);
    }
    Ok(out)
}

/// Depth-first search for the node at `target`'s address, recording the way there.
fn find(at: &Value, target: &Value, segs: &mut Vec<Seg>) -> bool {
    if std::ptr::eq(at, target) {
        return true;
    }
    match at {
        Value::Object(m) => {
            for (k, v) in m {
                segs.push(Seg::Key(k.clone()));
                if find(v, target, segs) {
                    return true;
                }
                segs.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                segs.push(Seg::Index(i));
                if find(v, target, segs) {
                    return true;
                }
                segs.pop();
            }
        }
        _ => {}
    }
    false
}

/// The place of an element found at `segs` (its property, and its position if it repeats).
fn element_place(mut segs: Vec<Seg>) -> Result<Place, PatchError> {
    let index = match segs.last() {
        Some(Seg::Index(i)) => {
            let i = *i;
            segs.pop();
            Some(i)
        }
        _ => None,
    };
    match segs.pop() {
        Some(Seg::Key(k)) => {
            let key = k.strip_prefix('_').map(str::to_string).unwrap_or(k);
            Ok(Place { parent: segs, key, index })
        }
        _ => Err(unprocessable("the path selects the resource itself, not an element of it")),
    }
}

/// The list an insert or move works on: where the path's results sit (all in one list), or,
/// when the list is empty, the parent the path names before its last step (`Patient.identifier`
/// on a patient with none: `Patient`, `identifier`).
fn list_place(doc: &Value, op: &Op, found: Vec<Vec<Seg>>) -> Result<(Vec<Seg>, String), PatchError> {
    let mut places = found.into_iter().map(element_place);
    if let Some(first) = places.next() {
        let first = first?;
        for p in places {
            let p = p?;
            if p.parent != first.parent || p.key != first.key {
                return Err(unprocessable("the path selects elements of more than one list"));
            }
        }
        if first.index.is_none() {
            return Err(unprocessable(format!("`{}` is not a list", first.key)));
        }
        return Ok((first.parent, first.key));
    }
    let (parent_expr, name) = op
        .path_text
        .rsplit_once('.')
        .filter(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| unprocessable("the path selects nothing, and does not end in an element name"))?;
    let parent = lantern_fhirpath::parse(parent_expr)
        .map_err(|e| unprocessable(format!("the path before `.{name}` is not FHIRPath: {e}")))?;
    let parent = single(locate_all(doc, &parent)?, "the element holding the list")?;
    Ok((parent, name.to_string()))
}

fn value_at<'a>(doc: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(doc, |v, s| match s {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

fn object_at<'a>(doc: &'a mut Value, segs: &[Seg]) -> Result<&'a mut Map<String, Value>, PatchError> {
    let mut v = doc;
    for s in segs {
        v = match s {
            Seg::Key(k) => v.get_mut(k.as_str()),
            Seg::Index(i) => v.get_mut(*i),
        }
        .ok_or_else(|| unprocessable("the element moved while it was being changed"))?;
    }
    v.as_object_mut()
        .ok_or_else(|| unprocessable("the path selects a primitive value, not an element holding others"))
}

/// The model path (type name or backbone path, as `lantern_r4::elements::child` takes) of the
/// object at `segs`: a contained or nested resource is typed by its own `resourceType`.
fn model_path(doc: &Value, segs: &[Seg]) -> Option<String> {
    let mut model = doc.get("resourceType")?.as_str()?.to_string();
    let mut v = doc;
    for s in segs {
        match s {
            Seg::Index(i) => v = v.get(*i)?,
            Seg::Key(k) => {
                v = v.get(k.as_str())?;
                let info = child(&model, k)?;
                model = info.type_name.to_string();
            }
        }
        if let Some(t) = v.get("resourceType").and_then(Value::as_str) {
            model = t.to_string();
        }
    }
    Some(model)
}

/// The JSON property, value and repetition of element `name` of `model` set to `value`. For a
/// choice element (`deceased`), the property follows the value's type (`deceasedBoolean`).
fn materialise(
    model: &str,
    name: &str,
    value: Option<&NewValue>,
) -> Result<(String, Value, bool), PatchError> {
    let value = value.ok_or_else(|| invalid("no value"))?;
    let choice = children(model).and_then(|cs| cs.iter().find(|e| e.is_choice() && e.base_name() == name));
    let (key, info) = match (choice, value) {
        (Some(_), NewValue::Typed { type_name, .. }) => {
            let key = format!("{name}{}", capitalised(type_name));
            let info = child(model, &key)
                .ok_or_else(|| unprocessable(format!("`{name}` cannot be of type {type_name}")))?;
            (key, info)
        }
        (Some(_), NewValue::Parts(_)) => {
            return Err(unprocessable(format!("`{name}[x]` takes a typed value, not parts")))
        }
        (None, _) => {
            let info = child(model, name)
                .filter(|i| !i.is_primitive_extension)
                .ok_or_else(|| unprocessable(format!("`{name}` is not an element of {model}")))?;
            (name.to_string(), info)
        }
    };
    Ok((key, to_json(&info, name, value)?, info.is_array()))
}

/// `value` as the JSON of the element `info` describes, its type checked.
fn to_json(info: &ChildInfo, name: &str, value: &NewValue) -> Result<Value, PatchError> {
    match value {
        NewValue::Typed { type_name, json } => {
            let allowed: Vec<&str> = info.element.types.iter().map(|t| t.code).collect();
            if !allowed.iter().any(|a| compatible(type_name, a)) {
                let takes = match allowed.as_slice() {
                    [] | ["BackboneElement"] | ["Element"] => "parts naming its elements".to_string(),
                    _ => allowed.join(" or "),
                };
                return Err(unprocessable(format!("`{name}` takes {takes}, not {type_name}")));
            }
            Ok(json.clone())
        }
        NewValue::Parts(parts) => {
            if info.kind() == Some(TypeKind::Primitive) {
                return Err(unprocessable(format!("`{name}` is a primitive: give it a value[x], not parts")));
            }
            let model = info.type_name;
            let mut obj = Map::new();
            for (sub, v) in parts {
                let (key, json, repeats) = materialise(model, sub, Some(v))?;
                if repeats {
                    match obj.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                        Value::Array(a) => a.push(json),
                        _ => return Err(unprocessable(format!("`{sub}` of `{name}` is given twice"))),
                    }
                } else if obj.insert(key, json).is_some() {
                    return Err(unprocessable(format!(
                        "`{sub}` of `{name}` does not repeat but is given twice"
                    )));
                }
            }
            Ok(Value::Object(obj))
        }
    }
}

/// Whether a value of type `given` may stand where the definition allows `allowed`. The
/// string-like primitives are told apart by format, which validation of the patched resource
/// checks; so are the integers and the dates.
fn compatible(given: &str, allowed: &str) -> bool {
    const FAMILIES: &[&[&str]] = &[
        &["string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary"],
        &["integer", "positiveInt", "unsignedInt"],
        &["date", "dateTime", "instant"],
        &["Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"],
    ];
    given == allowed
        || FAMILIES.iter().any(|f| f.contains(&given) && f.contains(&allowed))
        || (allowed == "Resource" && type_kind(given) == Some(TypeKind::Resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(kind: &str, path: &str, more: Value) -> Value {
        let mut parts =
            vec![json!({"name": "type", "valueCode": kind}), json!({"name": "path", "valueString": path})];
        parts.extend(more.as_array().cloned().unwrap_or_default());
        json!({"name": "operation", "part": parts})
    }

    fn patch(ops: Vec<Value>) -> Value {
        json!({"resourceType": "Parameters", "parameter": ops})
    }

    fn patient() -> Value {
        json!({
            "resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
            "name": [
                {"use": "official", "family": "Chalmers", "given": ["Peter", "James"],
                 "_given": [null, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}]},
                {"use": "usual", "given": ["Jim"]}
            ],
            "gender": "male",
            "deceasedBoolean": false
        })
    }

    fn applied(ops: Vec<Value>) -> Result<Value, PatchError> {
        let mut p = patient();
        apply(&mut p, &patch(ops))?;
        Ok(p)
    }

    #[test]
    fn add_sets_a_single_element_and_appends_to_a_list() {
        let p = applied(vec![
            op("add", "Patient", json!([{"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1974-12-25"}])),
            op("add", "Patient.name.where(use = 'usual')", json!([{"name": "name", "valueString": "given"}, {"name": "value", "valueString": "Jimmy"}])),
            op("add", "Patient", json!([{"name": "name", "valueString": "telecom"}, {"name": "value", "valueContactPoint": {"system": "phone", "value": "0123"}}])),
        ])
        .unwrap();
        assert_eq!(p["birthDate"], "1974-12-25");
        assert_eq!(p["name"][1]["given"], json!(["Jim", "Jimmy"]));
        assert_eq!(p["telecom"], json!([{"system": "phone", "value": "0123"}]));
    }

    #[test]
    fn add_refuses_a_single_element_that_is_already_there() {
        let e = applied(vec![op(
            "add",
            "Patient",
            json!([{"name": "name", "valueString": "gender"}, {"name": "value", "valueCode": "female"}]),
        )]);
        assert!(matches!(e, Err(PatchError::Unprocessable(m)) if m.contains("use replace")));
    }

    #[test]
    fn add_builds_a_backbone_element_from_parts() {
        let p = applied(vec![op(
            "add",
            "Patient",
            json!([{"name": "name", "valueString": "contact"}, {"name": "value", "part": [
                {"name": "name", "valueHumanName": {"text": "Jane Chalmers"}},
                {"name": "relationship", "valueCodeableConcept": {"text": "wife"}},
                {"name": "gender", "valueCode": "female"}
            ]}]),
        )])
        .unwrap();
        assert_eq!(
            p["contact"],
            json!([{"name": {"text": "Jane Chalmers"}, "relationship": [{"text": "wife"}], "gender": "female"}])
        );
    }

    #[test]
    fn replace_keeps_a_primitives_extensions_and_follows_a_choice_type() {
        let p = applied(vec![
            op("replace", "Patient.name[0].given[1]", json!([{"name": "value", "valueString": "Jamie"}])),
            op(
                "replace",
                "Patient.deceased",
                json!([{"name": "value", "valueDateTime": "2015-02-07T13:28:17+00:00"}]),
            ),
            op("replace", "Patient.gender", json!([{"name": "value", "valueCode": "other"}])),
        ])
        .unwrap();
        assert_eq!(p["name"][0]["given"], json!(["Peter", "Jamie"]));
        assert!(p["name"][0]["_given"][1]["extension"].is_array());
        assert_eq!(p["deceasedDateTime"], "2015-02-07T13:28:17+00:00");
        assert!(p.get("deceasedBoolean").is_none());
        assert_eq!(p["gender"], "other");
    }

    #[test]
    fn replace_checks_the_type() {
        let e = applied(vec![op(
            "replace",
            "Patient.gender",
            json!([{"name": "value", "valueCoding": {"code": "x"}}]),
        )]);
        assert!(matches!(e, Err(PatchError::Unprocessable(m)) if m.contains("takes code")));
    }

    #[test]
    fn delete_removes_one_element_with_its_extensions_and_ignores_nothing_found() {
        let p = applied(vec![
            op("delete", "Patient.name[0].given[1]", json!([])),
            op("delete", "Patient.birthDate", json!([])),
            op("delete", "Patient.identifier", json!([])),
        ])
        .unwrap();
        assert_eq!(p["name"][0]["given"], json!(["Peter"]));
        assert!(p["name"][0].get("_given").is_none(), "{p}");
        assert!(p.get("identifier").is_none());
        let e = applied(vec![op("delete", "Patient.name.given", json!([]))]);
        assert!(matches!(e, Err(PatchError::Unprocessable(m)) if m.contains("selects 3 elements")));
    }

    #[test]
    fn insert_and_move_work_on_lists_and_their_extensions() {
        let p = applied(vec![
            op("insert", "Patient.name[0].given", json!([{"name": "value", "valueString": "Pete"}, {"name": "index", "valueInteger": 0}])),
            op("move", "Patient.name[0].given", json!([{"name": "source", "valueInteger": 2}, {"name": "destination", "valueInteger": 0}])),
            op("insert", "Patient.address", json!([{"name": "value", "valueAddress": {"city": "Leeds"}}, {"name": "index", "valueInteger": 0}])),
        ])
        .unwrap();
        assert_eq!(p["name"][0]["given"], json!(["James", "Pete", "Peter"]));
        assert!(p["name"][0]["_given"][0]["extension"].is_array(), "{p}");
        assert_eq!(p["address"], json!([{"city": "Leeds"}]));
        let e = applied(vec![op(
            "insert",
            "Patient.name[0].given",
            json!([{"name": "value", "valueString": "x"}, {"name": "index", "valueInteger": 5}]),
        )]);
        assert!(matches!(e, Err(PatchError::Unprocessable(m)) if m.contains("past the end")));
    }

    #[test]
    fn malformed_patches_are_invalid() {
        for (ops, says) in [
            (vec![], "no `operation`"),
            (vec![op("upsert", "Patient", json!([]))], "not an operation"),
            (vec![op("add", "Patient", json!([{"name": "value", "valueString": "x"}]))], "needs a `name`"),
            (
                vec![op("replace", "Patient.name.(", json!([{"name": "value", "valueString": "x"}]))],
                "not FHIRPath",
            ),
            (
                vec![op("replace", "Patient.gender", json!([{"name": "value", "valueWidget": "x"}]))],
                "not an R4 data type",
            ),
        ] {
            let e = applied(ops);
            assert!(matches!(&e, Err(PatchError::Invalid(m)) if m.contains(says)), "{says}: {e:?}");
        }
    }

    proptest::proptest! {
        // Cheap cases, and the combinations that matter are rare (one kind, path, name and
        // value in thousands): many of them.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Whatever the Parameters hold, a patch is applied or refused, never a panic.
        #[test]
        fn any_patch_is_applied_or_refused(
            ops in proptest::collection::vec((
                proptest::sample::select(vec!["add", "insert", "delete", "replace", "move", "", "é"]),
                proptest::sample::select(vec![
                    "Patient", "Patient.name", "Patient.name[0].given", "Patient.name.given[1]", "Patient.identifier",
                    "Patient.deceased", "Patient.contact", "Patient.name.first().family", "%resource", "1 + 1",
                    "Patient.name.given | Patient.gender", "Patient.name.where(", "Patient._given", "",
                ]),
                proptest::sample::select(vec!["given", "deceased", "contact", "birthDate", "value", "", "_given", "é"]),
                proptest::sample::select(vec![
                    json!({"name": "value", "valueString": "x"}),
                    json!({"name": "value", "valueBoolean": true}),
                    json!({"name": "value", "valueHumanName": {"family": "F"}}),
                    json!({"name": "value", "resource": {"resourceType": ""}}),
                    json!({"name": "value", "resource": {"resourceType": "éé"}}),
                    json!({"name": "value", "valueÉ": 1}),
                    json!({"name": "value", "part": [{"name": "gender", "valueCode": "x"}, {"name": "gender", "valueCode": "y"}]}),
                    json!({"name": "value", "part": [{"name": "name", "part": [{"name": "given", "valueString": "a"}]}]}),
                    json!({"name": "value"}),
                    json!(null),
                ]),
                0u64..4,
                0u64..4,
            ), 0..4)
        ) {
            let params: Vec<Value> = ops
                .into_iter()
                .map(|(kind, path, name, value, a, b)| op(kind, path, json!([
                    {"name": "name", "valueString": name}, value,
                    {"name": "index", "valueInteger": a}, {"name": "source", "valueInteger": a},
                    {"name": "destination", "valueInteger": b},
                ])))
                .collect();
            let mut p = patient();
            let _ = apply(&mut p, &patch(params));
        }
    }

    #[test]
    fn paths_that_do_not_select_an_element_of_the_resource_are_refused() {
        for path in ["'text'", "Patient.name.count()", "Patient"] {
            let e = applied(vec![op("replace", path, json!([{"name": "value", "valueString": "x"}]))]);
            assert!(matches!(e, Err(PatchError::Unprocessable(_))), "{path}: {e:?}");
        }
    }
}
