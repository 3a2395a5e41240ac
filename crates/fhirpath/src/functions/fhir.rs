//! The FHIR-specific functions (FHIR R4 fhirpath.html §"Additional functions"): extension(url)
//! (and `hasExtension(url)`, which R4's own SearchParameters use),
//! hasValue(), getValue(), resolve(), memberOf(), htmlChecks(), conformsTo(); subsumes,
//! subsumedBy, elementDefinition, slice and checkModifiers are accepted and answer what can be
//! answered without a terminology server or profiles (empty, or the input unchanged).

use super::{boolean, Call, Func};
use crate::ast::Name;
use crate::error::{eval_err, Result};
use crate::eval::navigate::member;
use crate::eval::singleton;
use crate::eval::values::to_system;
use crate::item::{Collection, Item, Node};
use crate::resolver::Resolved;
use serde_json::Value;

const SD_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/";

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Extension | Func::HasExtension => {
            let Some(url) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            let name = Name::new("extension".to_string());
            let mut exts = Vec::new();
            for item in &input {
                member(cx.ev.model(), item, &name, &mut exts);
            }
            let matching = exts.into_iter().filter(|e| {
                e.json().and_then(|j| j.get("url")).and_then(Value::as_str) == Some(url.as_ref())
            });
            if func == Func::HasExtension {
                // Used by R4's own SearchParameters (not in FHIRPath N1): extension(url).exists().
                let found = matching.count() > 0;
                return boolean(found);
            }
            Ok(matching.collect())
        }
        Func::HasValue => boolean(match input.as_slice() {
            [Item::Node(n)] => n.value.is_some_and(|v| !v.is_object() && !v.is_array()),
            [Item::Type(_)] => false,
            [_] => true,
            _ => false,
        }),
        Func::GetValue => Ok(match input.as_slice() {
            [item @ Item::Node(n)] if n.value.is_some_and(|v| !v.is_object() && !v.is_array()) => {
                to_system(item).into_iter().collect()
            }
            _ => Vec::new(),
        }),
        Func::Resolve => {
            let root = cx.ev.env.root.as_ref().and_then(Item::json);
            let mut out = Vec::new();
            for item in &input {
                let reference = match item {
                    Item::String(s) => match s {
                        std::borrow::Cow::Borrowed(b) => Some(*b),
                        std::borrow::Cow::Owned(_) => None,
                    },
                    Item::Node(n) => match n.value {
                        Some(Value::String(s)) => Some(s.as_str()),
                        Some(Value::Object(o)) => o.get("reference").and_then(Value::as_str),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(reference) = reference else { continue };
                match cx.ev.env.resolver.resolve(reference, root) {
                    Some(Resolved::Resource(v)) => out.push(Item::Node(Node::resource(v))),
                    Some(Resolved::Stub(ty)) => {
                        out.push(Item::Node(Node { value: None, ext: None, ty, path: ty }))
                    }
                    None => {}
                }
            }
            Ok(out)
        }
        Func::MemberOf => {
            let Some(item) = singleton(&input, "memberOf")? else { return Ok(Vec::new()) };
            let Some(vs) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            let r = cx.ev.env.terminology.and_then(|t| t.member_of(item, &vs));
            Ok(r.map(Item::Boolean).into_iter().collect())
        }
        Func::HtmlChecks => {
            boolean(input.iter().all(|i| i.as_str().is_some_and(|s| s.trim_start().starts_with('<'))))
        }
        Func::ConformsTo => {
            let Some(url) = cx.arg_string(0)? else { return Ok(Vec::new()) };
            let Some(ty) = url.strip_prefix(SD_PREFIX).filter(|t| cx.ev.model().is_type(t)) else {
                return eval_err(format!("unknown profile {url}"));
            };
            let Some(item) = singleton(&input, "conformsTo")? else { return Ok(Vec::new()) };
            let actual = match item {
                Item::Node(n) => n.fhir_type(),
                _ => "",
            };
            boolean(!actual.is_empty() && cx.ev.model().is_subtype(actual, ty))
        }
        Func::Slice | Func::CheckModifiers => Ok(input),
        _ => Ok(Vec::new()),
    }
}
