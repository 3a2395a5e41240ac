//! Type information the engine needs (FHIRPath N1 §10 "Types and Reflection", §6.3 "Types";
//! FHIR R4 fhirpath.html "FHIR types"): the FHIR type of each JSON property, choice elements
//! (`value[x]`), the type hierarchy for `is`/`as`/`ofType`. The engine asks through the small
//! [`Model`] trait so the source of truth can change: [`InferenceModel`] guesses from the JSON
//! alone (choice suffixes, `resourceType`, JSON value kinds).

/// What the model knows about one JSON property of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChildType {
    /// FHIR type name (`HumanName`, `string`, `BackboneElement`, `Resource`...), or "" if unknown.
    pub(crate) ty: &'static str,
    /// The path to use when looking up this element's own children: the type name, or the
    /// element path for backbone elements (`Patient.contact`).
    pub(crate) path: &'static str,
    /// For a choice property (`valueQuantity`), the element name (`value`).
    pub(crate) choice_of: Option<&'static str>,
}

/// A source of FHIR type information.
pub(crate) trait Model: Send + Sync {
    /// The type of JSON property `key` (a plain name like `name`, or a choice variant like
    /// `valueQuantity`) of an element whose model path is `parent` (a type name or a backbone
    /// element path). `parent` may be "" when unknown.
    fn child(&self, parent: &str, key: &str) -> Option<ChildType>;
    /// Whether the model knows the element at `path` (so its answers about children are
    /// authoritative rather than absent).
    fn knows(&self, path: &str) -> bool;
    /// The immediate base type of `ty` (`Age` -> `Quantity`, `code` -> `string`,
    /// `Patient` -> `DomainResource`).
    fn base(&self, ty: &str) -> Option<&'static str>;
    /// Whether `name` is a FHIR type (data type or resource) of this model.
    fn is_type(&self, name: &str) -> bool;
    /// Whether `name` is a resource type.
    fn is_resource(&self, name: &str) -> bool;

    /// Whether `ty` is `of` or derives from it.
    fn is_subtype(&self, ty: &str, of: &str) -> bool {
        let mut cur = Some(ty);
        let mut steps = 0;
        while let Some(t) = cur {
            if t == of {
                return true;
            }
            steps += 1;
            if steps > 16 {
                return false;
            }
            cur = self.base(t);
        }
        false
    }
}

/// The FHIR R4 primitive types with their base types.
pub(crate) const PRIMITIVES: [(&str, &str); 20] = [
    ("boolean", "Element"),
    ("integer", "Element"),
    ("string", "Element"),
    ("decimal", "Element"),
    ("uri", "Element"),
    ("url", "uri"),
    ("canonical", "uri"),
    ("base64Binary", "Element"),
    ("instant", "Element"),
    ("date", "Element"),
    ("dateTime", "Element"),
    ("time", "Element"),
    ("code", "string"),
    ("oid", "uri"),
    ("id", "string"),
    ("markdown", "string"),
    ("unsignedInt", "integer"),
    ("positiveInt", "integer"),
    ("uuid", "uri"),
    ("xhtml", "Element"),
];

/// The FHIR R4 complex data types with their base types.
pub(crate) const COMPLEX: [(&str, &str); 48] = [
    ("Element", "Base"),
    ("BackboneElement", "Element"),
    ("Address", "Element"),
    ("Age", "Quantity"),
    ("Annotation", "Element"),
    ("Attachment", "Element"),
    ("CodeableConcept", "Element"),
    ("Coding", "Element"),
    ("ContactDetail", "Element"),
    ("ContactPoint", "Element"),
    ("Contributor", "Element"),
    ("Count", "Quantity"),
    ("DataRequirement", "Element"),
    ("Distance", "Quantity"),
    ("Dosage", "BackboneElement"),
    ("Duration", "Quantity"),
    ("ElementDefinition", "BackboneElement"),
    ("Expression", "Element"),
    ("Extension", "Element"),
    ("HumanName", "Element"),
    ("Identifier", "Element"),
    ("MarketingStatus", "BackboneElement"),
    ("Meta", "Element"),
    ("Money", "Element"),
    ("MoneyQuantity", "Quantity"),
    ("Narrative", "Element"),
    ("ParameterDefinition", "Element"),
    ("Period", "Element"),
    ("Population", "BackboneElement"),
    ("ProdCharacteristic", "BackboneElement"),
    ("ProductShelfLife", "BackboneElement"),
    ("Quantity", "Element"),
    ("Range", "Element"),
    ("Ratio", "Element"),
    ("Reference", "Element"),
    ("RelatedArtifact", "Element"),
    ("SampledData", "Element"),
    ("Signature", "Element"),
    ("SimpleQuantity", "Quantity"),
    ("SubstanceAmount", "BackboneElement"),
    ("Timing", "BackboneElement"),
    ("TriggerDefinition", "Element"),
    ("UsageContext", "Element"),
    ("Resource", "Base"),
    ("DomainResource", "Resource"),
    ("Bundle", "Resource"),
    ("Parameters", "Resource"),
    ("Binary", "Resource"),
];

/// The type named by the suffix of a choice property (`Quantity` in `valueQuantity`,
/// `dateTime` in `effectiveDateTime`).
pub(crate) fn choice_suffix_type(suffix: &str) -> Option<&'static str> {
    if let Some((c, _)) = COMPLEX.iter().find(|(c, _)| *c == suffix) {
        return Some(c);
    }
    let mut chars = suffix.chars();
    let first = chars.next()?;
    let lowered: String = first.to_lowercase().chain(chars).collect();
    PRIMITIVES.iter().find(|(p, _)| *p == lowered).map(|(p, _)| *p)
}

/// Guesses types from the JSON shape alone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct InferenceModel;

impl Model for InferenceModel {
    fn child(&self, _parent: &str, _key: &str) -> Option<ChildType> {
        None
    }

    fn knows(&self, _path: &str) -> bool {
        false
    }

    fn base(&self, ty: &str) -> Option<&'static str> {
        PRIMITIVES.iter().chain(COMPLEX.iter()).find(|(t, _)| *t == ty).map(|(_, b)| *b).or_else(|| {
            (ty.starts_with(|c: char| c.is_ascii_uppercase()) && ty != "Base").then_some("DomainResource")
        })
    }

    fn is_type(&self, name: &str) -> bool {
        PRIMITIVES.iter().chain(COMPLEX.iter()).any(|(t, _)| *t == name)
            || name.starts_with(|c: char| c.is_ascii_uppercase())
    }

    fn is_resource(&self, name: &str) -> bool {
        !COMPLEX.iter().any(|(t, _)| *t == name) && name.starts_with(|c: char| c.is_ascii_uppercase())
    }
}
