//! The HTTP FHIR API and MLLP listener: thin transports over the service layer.
