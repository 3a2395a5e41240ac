//! The JSON form written as FHIR XML (see the module docs for the rules).
use super::{FHIR_NS, MAX_DEPTH, XHTML_NS};
use lantern_r4::{ChildInfo, TypeKind};
use serde_json::{Map, Value};

/// Writes a resource in FHIR XML; `None` if `resource` is not an object with a
/// `resourceType` (the caller then keeps its JSON). `pretty` indents by two spaces.
pub fn write(resource: &Value, pretty: bool) -> Option<String> {
    let mut out = String::with_capacity(1024);
    write_to(&mut out, resource, pretty).then_some(out)
}

/// As [`write()`], appending to `out`; false (and nothing written) if `resource` is not one.
pub fn write_to(out: &mut String, resource: &Value, pretty: bool) -> bool {
    let Some(obj) = resource.as_object().filter(|o| o.get("resourceType").is_some_and(Value::is_string))
    else {
        return false;
    };
    Writer { out, pretty }.resource(obj, 0, true);
    if pretty {
        out.push('\n');
    }
    true
}

struct Writer<'a> {
    out: &'a mut String,
    pretty: bool,
}

/// Where a member goes among its siblings: the base types' elements first (`Resource` and
/// `Element` before `DomainResource` and `BackboneElement`), then the type's own, each group in
/// definition order; members R4 does not define last, as they came.
fn rank(children: &[&lantern_r4::ElementDef], info: Option<&ChildInfo>, position: usize) -> (u8, usize) {
    let Some(info) = info else { return (3, position) };
    let group = match info.path.rsplit_once('.').map_or("", |(p, _)| p) {
        "Resource" | "Element" => 0,
        "DomainResource" | "BackboneElement" => 1,
        _ => 2,
    };
    let index = children.iter().position(|e| std::ptr::eq(*e, info.element)).unwrap_or(usize::MAX);
    (group, index)
}

/// Whether a member is written as an attribute of its element (`Element.id`, `Extension.url`).
fn is_attribute(info: &ChildInfo) -> bool {
    matches!(info.path, "Element.id" | "Extension.url")
}

fn is_resource(info: &ChildInfo) -> bool {
    info.type_name == "Resource" || info.kind() == Some(TypeKind::Resource)
}

impl Writer<'_> {
    fn indent(&mut self, depth: usize) {
        if self.pretty {
            if !self.out.is_empty() {
                self.out.push('\n');
            }
            self.out.extend(std::iter::repeat_n("  ", depth));
        }
    }

    fn resource(&mut self, obj: &Map<String, Value>, depth: usize, root: bool) {
        let rtype = obj.get("resourceType").and_then(Value::as_str).unwrap_or("");
        self.indent(depth);
        self.out.push('<');
        self.out.push_str(rtype);
        if root {
            self.out.push_str(" xmlns=\"");
            self.out.push_str(FHIR_NS);
            self.out.push('"');
        }
        self.out.push('>');
        self.members(rtype, obj, depth + 1);
        self.indent(depth);
        self.close(rtype);
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// The members of `obj` (of the type or backbone path `parent`) as child elements, in
    /// XML's order; attributes and `_name` siblings are written by the caller and with their
    /// values respectively.
    fn members(&mut self, parent: &str, obj: &Map<String, Value>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let children = lantern_r4::children(parent).unwrap_or(&[]);
        let mut order: Vec<((u8, usize), &str, Option<ChildInfo>)> = Vec::with_capacity(obj.len());
        for (i, key) in obj.keys().enumerate() {
            let base = key.strip_prefix('_').unwrap_or(key);
            let info = lantern_r4::child(parent, base).filter(|c| !c.is_primitive_extension);
            // A resource's type is its element's name (but `ExampleScenario.instance` has an
            // element called `resourceType`).
            let resource_type = key == "resourceType" && info.is_none();
            if resource_type || (base.len() < key.len() && obj.contains_key(base)) {
                continue;
            }
            if info.as_ref().is_some_and(is_attribute) {
                continue;
            }
            order.push((rank(children, info.as_ref(), i), base, info));
        }
        order.sort_by_key(|(r, ..)| *r);
        for (_, name, info) in order {
            let value = obj.get(name).unwrap_or(&Value::Null);
            // Only a primitive (or a member R4 does not define) can have a `_name` sibling.
            let extra = match &info {
                Some(i) if i.kind() != Some(TypeKind::Primitive) => &Value::Null,
                _ => obj.get(&format!("_{name}")).unwrap_or(&Value::Null),
            };
            match info {
                Some(i) if i.type_name == "xhtml" => each(value).for_each(|v| self.xhtml(v, depth)),
                Some(i) if i.kind() == Some(TypeKind::Primitive) => {
                    let (values, extras) = (list(value), list(extra));
                    for at in 0..values.len().max(extras.len()) {
                        let v = values.get(at).copied().filter(|v| !v.is_null());
                        let x = extras.get(at).and_then(|x| x.as_object());
                        self.primitive(name, v, x, depth);
                    }
                }
                Some(i) if is_resource(&i) => {
                    for v in each(value) {
                        self.indent(depth);
                        self.out.push('<');
                        self.out.push_str(name);
                        self.out.push('>');
                        match v.as_object().filter(|o| o.get("resourceType").is_some_and(Value::is_string)) {
                            Some(r) => self.resource(r, depth + 1, false),
                            None => self.unknown("resource", v, depth + 1),
                        }
                        self.indent(depth);
                        self.close(name);
                    }
                }
                Some(i) => {
                    for v in each(value) {
                        match v.as_object() {
                            Some(o) => self.complex(name, i.type_name, o, depth),
                            None => self.unknown(name, v, depth),
                        }
                    }
                }
                None => {
                    self.unknown(name, value, depth);
                    if extra.is_object() || extra.is_array() {
                        self.unknown(&format!("_{name}"), extra, depth);
                    }
                }
            }
        }
    }

    /// `<name id=".." value="..">` with the `_name` object's extensions inside.
    fn primitive(
        &mut self,
        name: &str,
        value: Option<&Value>,
        extra: Option<&Map<String, Value>>,
        depth: usize,
    ) {
        if value.is_none_or(|v| v.is_object() || v.is_array()) && extra.is_none() {
            if let Some(v) = value {
                self.unknown(name, v, depth);
            }
            return;
        }
        self.indent(depth);
        self.out.push('<');
        self.out.push_str(name);
        if let Some(id) = extra.and_then(|x| x.get("id")) {
            self.attribute("id", id);
        }
        if let Some(v) = value.filter(|v| !v.is_object() && !v.is_array()) {
            self.attribute("value", v);
        }
        match extra.filter(|x| x.keys().any(|k| k != "id")) {
            Some(x) => {
                self.out.push('>');
                self.members("Element", x, depth + 1);
                self.indent(depth);
                self.close(name);
            }
            None => self.out.push_str("/>"),
        }
    }

    /// A datatype or backbone element: `id` and an extension's `url` as attributes.
    fn complex(&mut self, name: &str, type_name: &str, obj: &Map<String, Value>, depth: usize) {
        self.indent(depth);
        self.out.push('<');
        self.out.push_str(name);
        // Only `id` and an extension's `url` can be attributes.
        let mut attributes = 0;
        for key in ["id", "url"] {
            let Some(v) = obj.get(key).filter(|v| !v.is_object() && !v.is_array()) else { continue };
            if lantern_r4::child(type_name, key).is_some_and(|c| is_attribute(&c)) {
                self.attribute(key, v);
                attributes += 1;
            }
        }
        if obj.len() == attributes {
            self.out.push_str("/>");
            return;
        }
        self.out.push('>');
        self.members(type_name, obj, depth + 1);
        self.indent(depth);
        self.close(name);
    }

    /// The narrative's XHTML as it is, if it is a well-formed `div` (given the XHTML namespace
    /// when it lacks one); else its text, escaped, in a `div` of its own.
    fn xhtml(&mut self, v: &Value, depth: usize) {
        let text = v.as_str().unwrap_or("");
        let trimmed = text.trim();
        let doc = roxmltree::Document::parse(trimmed).ok();
        let root = doc.as_ref().map(|d| d.root_element()).filter(|r| r.tag_name().name() == "div");
        self.indent(depth);
        match root {
            Some(r) if r.tag_name().namespace() == Some(XHTML_NS) => self.out.push_str(trimmed),
            Some(r) if r.tag_name().namespace().is_none() && trimmed.starts_with("<div") => {
                self.out.push_str("<div xmlns=\"");
                self.out.push_str(XHTML_NS);
                self.out.push('"');
                self.out.push_str(&trimmed[4..]);
            }
            _ => {
                self.out.push_str("<div xmlns=\"");
                self.out.push_str(XHTML_NS);
                self.out.push_str("\">");
                escape(self.out, text);
                self.out.push_str("</div>");
            }
        }
    }

    /// A member R4 does not define there (never in a stored resource, which validation has
    /// passed): written as its JSON shape suggests, so that nothing is dropped, when its name
    /// can be an XML element's.
    fn unknown(&mut self, name: &str, v: &Value, depth: usize) {
        if depth > MAX_DEPTH || !is_xml_name(name) {
            return;
        }
        match v {
            Value::Null => {}
            Value::Array(items) => items.iter().for_each(|i| self.unknown(name, i, depth)),
            Value::Object(o) => {
                self.indent(depth);
                self.out.push('<');
                self.out.push_str(name);
                self.out.push('>');
                for (k, x) in o {
                    self.unknown(k, x, depth + 1);
                }
                self.indent(depth);
                self.close(name);
            }
            _ => {
                self.indent(depth);
                self.out.push('<');
                self.out.push_str(name);
                self.attribute("value", v);
                self.out.push_str("/>");
            }
        }
    }

    fn attribute(&mut self, name: &str, v: &Value) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        match v {
            Value::String(s) => escape(self.out, s),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => self.out.push_str(&n.to_string()),
            other => escape(self.out, &other.to_string()),
        }
        self.out.push('"');
    }
}

/// A JSON value as the list of its occurrences (an array's items, or the value itself).
fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    }
}

fn each(v: &Value) -> impl Iterator<Item = &Value> {
    list(v).into_iter().filter(|v| !v.is_null())
}

/// Escapes text for an attribute value or element content. Tabs and line breaks are written
/// as character references so that attribute-value normalisation keeps them; the characters
/// XML 1.0 cannot carry at all (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
fn escape(out: &mut String, s: &str) {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\u{FFFE}' | '\u{FFFF}') || (c as u32) < 0x20;
    if !s.contains(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if special(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A name an XML element may have (ASCII subset: FHIR's names are ASCII).
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
