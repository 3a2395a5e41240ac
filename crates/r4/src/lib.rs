//! The official FHIR R4 definitions Lantern needs at run time, as generated tables.
