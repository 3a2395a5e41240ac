//! FHIR XML into the JSON form (see the module docs for the rules).
use super::{XmlError, FHIR_NS, MAX_DEPTH, XHTML_NS};
use lantern_r4::{ChildInfo, TypeKind};
use roxmltree::{Document, Node, NodeType, ParsingOptions};
use serde_json::{Map, Number, Value};

/// Most XML nodes a document may have: several times what the largest body Lantern accepts
/// (64 MiB) holds as real FHIR, and a bound on the memory a body of empty elements could take.
const MAX_NODES: u32 = 16_000_000;

/// Reads a FHIR resource in XML into its JSON form. Refuses, with the place and the reason,
/// anything that is not well-formed, not in the FHIR namespace, an element R4 does not define
/// where it stands, text where FHIR puts values in attributes, a value its type cannot hold
/// (`<active value="yes"/>`), or a non-repeating element given twice. A byte-order mark is
/// allowed. Whether the resource is valid beyond that is validation's business.
pub fn parse(text: &str) -> Result<Value, XmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| error(None, format!("the body is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    resource(root, root.tag_name().name(), 0)
}

fn error(path: Option<&str>, message: impl Into<String>) -> XmlError {
    XmlError { path: path.map(str::to_string), message: message.into() }
}

fn resource(el: Node<'_, '_>, path: &str, depth: usize) -> Result<Value, XmlError> {
    let name = el.tag_name().name();
    if el.tag_name().namespace() != Some(FHIR_NS) {
        let ns = el.tag_name().namespace().unwrap_or("no namespace");
        return Err(error(Some(path), format!("<{name}> is in {ns}, not the FHIR namespace {FHIR_NS}")));
    }
    if !lantern_r4::is_resource_type(name) {
        return Err(error(Some(path), format!("'{name}' is not an R4 resource type")));
    }
    let mut obj = Map::new();
    obj.insert("resourceType".into(), Value::String(name.into()));
    if let Some(a) = el.attributes().find(|a| a.namespace().is_none()) {
        return Err(error(
            Some(path),
            format!("a resource's element has no attributes, but <{name}> has '{}'", a.name()),
        ));
    }
    members(name, el, &mut obj, path, depth + 1)?;
    Ok(Value::Object(obj))
}

/// One element's occurrences under a parent, in document order: (value, `_name` object).
type Occurrences = Vec<(Option<Value>, Option<Value>)>;

/// Reads the child elements of `el` (of the type or backbone path `parent`) into `obj`.
fn members(
    parent: &str,
    el: Node<'_, '_>,
    obj: &mut Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), XmlError> {
    if depth > MAX_DEPTH {
        return Err(error(Some(path), format!("elements are nested more than {MAX_DEPTH} deep")));
    }
    // Collected first so that a repeating primitive's values and `_name` objects can be laid
    // out side by side (with nulls) once all are known.
    let mut found: Vec<(&str, ChildInfo, Occurrences)> = Vec::new();
    for child in el.children() {
        match child.node_type() {
            NodeType::Element => {}
            NodeType::Text if child.text().is_some_and(|t| !t.trim().is_empty()) => {
                let t = child.text().unwrap_or("").trim();
                let shown: String = t.chars().take(40).collect();
                return Err(error(
                    Some(path),
                    format!("text ('{shown}') is not allowed here: FHIR XML puts values in value attributes"),
                ));
            }
            _ => continue, // whitespace, comments, processing instructions
        }
        let name = child.tag_name().name();
        let at = found.iter().find(|(n, ..)| *n == name).map_or(0, |(.., o)| o.len());
        let cpath = format!("{path}.{name}");
        let info = match lantern_r4::child(parent, name) {
            Some(i) if !i.is_primitive_extension => i,
            _ => return Err(error(Some(&cpath), format!("unknown element '{name}'"))),
        };
        let cpath = if info.is_array() { format!("{cpath}[{at}]") } else { cpath };
        let occurrence = element(&info, child, &cpath, depth)?;
        match found.iter_mut().find(|(n, ..)| *n == name) {
            Some((.., o)) if info.is_array() => o.push(occurrence),
            Some(_) => {
                return Err(error(Some(&cpath), format!("'{name}' is given more than once; it allows one")));
            }
            None => found.push((name, info, vec![occurrence])),
        }
    }
    for (name, info, occurrences) in found {
        if obj.contains_key(name) {
            return Err(error(Some(&format!("{path}.{name}")), format!("'{name}' is given twice")));
        }
        let (values, extras): (Vec<_>, Vec<_>) = occurrences.into_iter().unzip();
        let (value, extra) = if info.is_array() {
            let list = |v: Vec<Option<Value>>| {
                v.iter()
                    .any(Option::is_some)
                    .then(|| Value::Array(v.into_iter().map(Option::unwrap_or_default).collect()))
            };
            (list(values), list(extras))
        } else {
            (values.into_iter().next().flatten(), extras.into_iter().next().flatten())
        };
        if let Some(v) = value {
            obj.insert(name.to_string(), v);
        }
        if let Some(x) = extra {
            obj.insert(format!("_{name}"), x);
        }
    }
    Ok(())
}

/// One occurrence of an element: its JSON value, and for a primitive its `_name` object.
fn element(
    info: &ChildInfo,
    el: Node<'_, '_>,
    path: &str,
    depth: usize,
) -> Result<(Option<Value>, Option<Value>), XmlError> {
    let ns = el.tag_name().namespace();
    if info.type_name == "xhtml" {
        if ns != Some(XHTML_NS) {
            return Err(error(Some(path), format!("the narrative's div must be XHTML ({XHTML_NS})")));
        }
        // The JSON form of the narrative is its XHTML as written.
        let source = &el.document().input_text()[el.range()];
        return Ok((Some(Value::String(source.to_string())), None));
    }
    if ns != Some(FHIR_NS) {
        let ns = ns.unwrap_or("no namespace");
        return Err(error(Some(path), format!("the element is in {ns}, not the FHIR namespace")));
    }
    if info.type_name == "Resource" || info.kind() == Some(TypeKind::Resource) {
        no_attributes(el, path, &[])?;
        let mut inner = el.children().filter(Node::is_element);
        let (Some(r), None) = (inner.next(), inner.next()) else {
            return Err(error(Some(path), "must hold exactly one resource"));
        };
        if el.children().any(|c| c.is_text() && c.text().is_some_and(|t| !t.trim().is_empty())) {
            return Err(error(Some(path), "text is not allowed around a resource"));
        }
        return Ok((Some(resource(r, path, depth + 1)?), None));
    }
    if info.kind() == Some(TypeKind::Primitive) {
        no_attributes(el, path, &["value", "id"])?;
        let value = el.attribute("value").map(|v| primitive(info.type_name, v, path)).transpose()?;
        let mut extra = Map::new();
        if let Some(id) = el.attribute("id") {
            extra.insert("id".into(), Value::String(id.into()));
        }
        // A primitive's children are its extensions (an `Element`'s).
        members("Element", el, &mut extra, path, depth + 1)?;
        if value.is_none() && extra.is_empty() {
            return Err(error(Some(path), "the element has neither a value nor extensions"));
        }
        return Ok((value, (!extra.is_empty()).then_some(Value::Object(extra))));
    }
    // A datatype or backbone element: `id` (and an extension's `url`) as attributes.
    let mut obj = Map::new();
    for a in el.attributes().filter(|a| a.namespace().is_none()) {
        match lantern_r4::child(info.type_name, a.name()) {
            Some(c) if matches!(c.path, "Element.id" | "Extension.url") => {
                obj.insert(a.name().to_string(), primitive(c.type_name, a.value(), path)?);
            }
            _ => {
                return Err(error(Some(path), format!("unknown attribute '{}'", a.name())));
            }
        }
    }
    members(info.type_name, el, &mut obj, path, depth + 1)?;
    if obj.is_empty() {
        return Err(error(Some(path), "the element is empty"));
    }
    Ok((Some(Value::Object(obj)), None))
}

/// Refuses attributes (outside other namespaces, such as `xsi:`) other than `allowed`.
fn no_attributes(el: Node<'_, '_>, path: &str, allowed: &[&str]) -> Result<(), XmlError> {
    match el.attributes().find(|a| a.namespace().is_none() && !allowed.contains(&a.name())) {
        Some(a) => Err(error(Some(path), format!("unknown attribute '{}'", a.name()))),
        None => Ok(()),
    }
}

/// A `value` attribute as the JSON value its type calls for: booleans and numbers as such
/// (a decimal keeps the digits it was written with), everything else a string.
fn primitive(type_name: &str, v: &str, path: &str) -> Result<Value, XmlError> {
    let bad = |what: &str| error(Some(path), format!("'{v}' is not a valid {what}"));
    Ok(match type_name {
        "boolean" => match v {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("boolean (true or false)")),
        },
        "integer" | "positiveInt" | "unsignedInt" | "integer64" => {
            Value::Number(v.parse::<i64>().map_err(|_| bad(type_name))?.into())
        }
        "decimal" => {
            let ok = !v.is_empty() && !v.starts_with('+') && !v.starts_with('.') && !v.ends_with('.');
            let n = v.parse::<Number>().ok().filter(|_| ok).ok_or_else(|| bad("decimal"))?;
            Value::Number(n)
        }
        _ => Value::String(v.to_string()),
    })
}
