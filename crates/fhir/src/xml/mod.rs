//! FHIR's XML representation (R4 §2.6.1 "XML Representation of Resources"), read into and
//! written from the JSON form every other part of Lantern works on.
//!
//! # Why here, and why by hand
//!
//! Lantern keeps resources as JSON (see the crate docs), so XML is a format at the edge: a
//! request body in XML is turned into JSON before anything else sees it, and a response is
//! turned into XML on its way out (`lantern-server`'s XML layer). The two forms are not a
//! generic XML↔JSON mapping: which elements repeat (JSON arrays), which values are numbers or
//! booleans, where a primitive's id and extensions go (`_name`), the order XML requires, which
//! elements hold a whole resource, and the XHTML narrative all come from the R4 definitions,
//! which only `lantern-r4` knows. So the XML syntax is `roxmltree`'s (reading: namespaces,
//! entities, attribute normalisation; DTDs refused, so no entity expansion attacks) and the
//! FHIR mapping is ours. Writing needs no parser: escaping is the only XML it involves.
//!
//! # The rules (R4 §2.6.1, §2.6.2)
//!
//! * The root element is the resource type, in the namespace `http://hl7.org/fhir`.
//! * A primitive is `<name value="..."/>`; its `id` attribute and `extension` children are the
//!   JSON `_name` sibling (arrays of them aligned with `null`s, as JSON requires).
//! * `Element.id` and `Extension.url` are attributes; `Resource.id` is an element.
//! * An element of type `Resource` (`contained`, `Bundle.entry.resource`, ...) wraps the
//!   resource's own root element.
//! * `Narrative.div` is XHTML in its own namespace; in JSON it is that XHTML as a string.
//! * Elements are written in the definitions' order: the base types' elements first
//!   (`id`, `meta`, ..., `extension`, `modifierExtension`), then the type's own.
mod read;
mod write;

pub use read::parse;
pub use write::{write, write_to};

/// The FHIR namespace.
pub const FHIR_NS: &str = "http://hl7.org/fhir";
/// The XHTML namespace of `Narrative.div`.
pub const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// Nesting deeper than this is refused on reading and cut on writing (JSON's parser stops at
/// 128 levels too): real resources stay far below it, and recursion must not overflow the stack.
pub const MAX_DEPTH: usize = 128;

/// Why an XML body could not be read as a FHIR resource; `path` is the FHIRPath-like location
/// (`Patient.name[1].given`) where that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub path: Option<String>,
    pub message: String,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for XmlError {}

/// Whether a media type (a `Content-Type`, an `Accept` entry or a `_format` value, parameters
/// allowed) names FHIR XML. `+` may arrive as a space from form decoding of `_format`.
pub fn is_xml_media_type(v: &str) -> bool {
    let v = v.split(';').next().unwrap_or("").trim().replace(' ', "+");
    matches!(
        v.as_str(),
        "xml" | "text/xml" | "application/xml" | "application/fhir+xml" | "application/xml+fhir" | "fhir+xml"
    )
}

#[cfg(test)]
mod tests;
