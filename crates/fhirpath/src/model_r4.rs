//! The [`Model`] backed by the generated FHIR R4 definitions in `lantern-r4` (FHIR R4
//! StructureDefinitions: element types, choice elements, content references, `baseDefinition`
//! chains). Where R4 does not know a path (an untyped variable, a resolved stub) the
//! JSON-inference model answers instead.

use crate::model::{ChildType, InferenceModel, Model};

/// FHIR R4, from `lantern-r4`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct R4Model;

impl Model for R4Model {
    fn child(&self, parent: &str, key: &str) -> Option<ChildType> {
        if parent.is_empty() {
            return InferenceModel.child(parent, key);
        }
        let c = lantern_r4::child(parent, key)?;
        let choice_of = c.is_choice.then(|| c.element.base_name());
        if c.is_backbone() {
            let ty = c.type_ref.map_or("BackboneElement", |t| t.code);
            return Some(ChildType { ty, path: c.type_name, choice_of });
        }
        Some(ChildType { ty: c.type_name, path: c.type_name, choice_of })
    }

    fn knows(&self, path: &str) -> bool {
        !path.is_empty() && lantern_r4::children(path).is_some()
    }

    fn base(&self, ty: &str) -> Option<&'static str> {
        lantern_r4::base_type(ty)
            .or_else(|| InferenceModel.base(ty).filter(|_| lantern_r4::type_kind(ty).is_none()))
    }

    fn is_type(&self, name: &str) -> bool {
        lantern_r4::type_kind(name).is_some()
    }

    fn is_resource(&self, name: &str) -> bool {
        lantern_r4::type_kind(name) == Some(lantern_r4::TypeKind::Resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_r4() {
        let m = R4Model;
        let q = m.child("Observation", "valueQuantity").unwrap();
        assert_eq!((q.ty, q.choice_of), ("Quantity", Some("value")));
        let c = m.child("Patient", "contact").unwrap();
        assert_eq!((c.ty, c.path), ("BackboneElement", "Patient.contact"));
        assert!(m.is_subtype("Age", "Quantity"));
        assert!(m.is_subtype("code", "string"));
        assert!(m.is_subtype("Patient", "DomainResource"));
        assert!(!m.is_type("string1"));
    }
}
