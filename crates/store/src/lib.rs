//! The storage interface: versioned FHIR resources, search with an access filter, and the dialect-neutral SQL compiler.
